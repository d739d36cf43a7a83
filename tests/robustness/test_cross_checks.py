"""Checks across years, publications and releases (issue #30, item 2, second half).

GSS codes were checked only as pairs (a council's own code of any period passed on any row); a
child population edited in every year of one publication passed the year-on-year check and turned
Hartlepool's CLA rate 159.2 into 1.6; a 2026 row inside the 2024 release was kept. Each is now
refused in one line naming file, row and column; what DfE really publishes still passes (retired
codes on later rows, codes in force at release carried back over a file's years, the City of
London's populations revised by two thirds). Real files are edited at test time (skipped when the
shared reference data are absent); the small tidy tables are built here.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit import validation
from evalkit.errors import EvalkitError
from tests.conftest import evalkit_cmd, need_reference

B1 = "cin/ees_b1_children_in_need_2013_to_2025.csv"
ONS = "population/ons_mid-year_population_estimates_2012_to_2024.csv"
CLA_2024 = "cla/ees_cla_number_and_rate_per_10k_children_2020_2024.csv"
CLA_2023 = "cla/ees_cla_number_and_rate_per_10k_children_2019_2023.csv"


def _tidy(rows: list[tuple], file: str = "f.csv") -> pl.DataFrame:
    """rows of (year, la_code, gss_code, measure, value, unit)."""
    return pl.DataFrame(
        rows, schema=["year", "la_code", "gss_code", "measure", "value", "unit"], orient="row"
    ).with_columns(
        pl.lit(file).alias("file"),
        pl.col("year").cast(pl.Int64),
        pl.col("value").cast(pl.Float64),
        pl.col("gss_code").cast(pl.Utf8),
    )


def _folder(tmp_path: Path, *names: str) -> Path:
    """A --from folder with DfE's LA list and the named reference files (flat)."""
    root = need_reference()
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(root / "dfe_las.csv", src / "dfe_las.csv")
    for name in names:
        shutil.copyfile(root / name, src / Path(name).name)
    return src


def _edit_line(path: Path, start: bytes, old: bytes, new: bytes) -> int:
    """Replace `old` by `new` in the first line beginning with `start`; returns its 1-based line number."""
    lines = path.read_bytes().split(b"\n")
    k = next(i for i, line in enumerate(lines) if line.startswith(start))
    assert lines[k].count(old) == 1, lines[k]
    lines[k] = lines[k].replace(old, new)
    path.write_bytes(b"\n".join(lines))
    return k + 1


def _refused(run, *words: str) -> str:
    """Exit 1, one line on stderr, naming every word given; returns the line."""
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 1, run.stdout + run.stderr
    assert len(lines) == 1, run.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


# --- GSS codes by year ----------------------------------------------------------------------------


def test_own_code_before_it_was_issued_is_refused_with_its_years() -> None:
    known = validation.packaged_codes()
    early = _tidy([(2012, "825", "E06000060", "cla_at_31_march", 400.0, "count")])  # issued April 2020
    with pytest.raises(EvalkitError, match="first issued in 2020, on a 2012 row") as err:
        validation.check_measures(early, "cla", known=known)
    assert "E10000002 to 2020, E06000060 from 2020" in err.value.one_line()
    assert "new_la_code" in err.value.one_line()
    # the county code of the same council is right for 2012, and so is a recoded row within the lead
    validation.check_measures(early.with_columns(pl.lit("E10000002").alias("gss_code")), "cla", known=known)
    recoded = _tidy([(y, "825", "E06000060", "cla_at_31_march", 400.0, "count") for y in range(2017, 2023)])
    validation.check_measures(recoded, "cla", known=known)


def test_own_code_issued_after_the_file_ends_is_refused() -> None:
    rows = [(2016, "825", "E06000060", "cla_at_31_march", 400.0, "count")]  # within 5 years, but a 2016 file
    with pytest.raises(EvalkitError, match="on a 2016 row of a file whose data end in 2016"):
        validation.check_measures(_tidy(rows), "cla", known=validation.packaged_codes())


@pytest.mark.parametrize(
    "code,gss,years",
    [
        ("390", "E08000020", [2015, 2019, 2024]),  # Gateshead's code retired in 2013, as DfE still prints it
        ("929", "E06000048", [2014, 2019]),  # Northumberland's, retired 2013
        ("825", "E10000002", [2021, 2023]),  # Buckinghamshire county's, retired 2020
    ],
)
def test_a_councils_own_retired_code_is_accepted_on_later_rows(code: str, gss: str, years: list[int]) -> None:
    rows = [(y, code, gss, "cla_at_31_march", 100.0, "count") for y in years]
    validation.check_measures(_tidy(rows), "cla", known=validation.packaged_codes())


def test_real_file_with_a_code_not_yet_issued_is_refused_naming_file_row_column(tmp_path: Path) -> None:
    src = _folder(tmp_path, B1)
    b1 = src / Path(B1).name
    # Gateshead's retired code on its 2015 row: DfE's own practice, accepted
    _edit_line(
        b1,
        b"2015,Reporting year,Local authority,E92000001,England,E12000001,North East,390,",
        b"E08000037",
        b"E08000020",
    )
    evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path)
    # Buckinghamshire's unitary code (April 2020) on its 2013 row: refused
    row = _edit_line(
        b1,
        b"2013,Reporting year,Local authority,E92000001,England,E12000008,South East,825,",
        b"E10000002",
        b"E06000060",
    )
    run = evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path, check=False)
    _refused(run, Path(B1).name, f"row {row}", "new_la_code", "first issued in 2020", "2013", "E10000002 to 2020")


def test_real_files_whose_codes_run_ahead_of_or_behind_their_years_pass() -> None:
    """Files recoded at release (E06000060 on 2017 rows, E06000065 on 2020 rows) and files keeping retired
    codes (E08000020 on 2019 rows) are what DfE publishes."""
    from evalkit.sources import cin, cla, population, workforce

    root = need_reference()
    known = validation.packaged_codes()
    for module, name in (
        (cla, "cla/ees_la_cla_who_started_to_be_looked_after_2018_2022.csv"),
        (cla, CLA_2024),
        (workforce, "workforce/ees_csww_headline_measures_2017_to_2022.csv"),
        (cin, "cin/ees_c4_children_in_need_section_47s_and_icpcs_2013_to_2025.csv"),
        (population, ONS),
    ):
        validation.check_measures(module.parse(root / name), module.NAME, known=known)


# --- Populations across publications --------------------------------------------------------------


def _population_file(values: dict[int, float], file: str, measure: str = "population_0_17") -> pl.DataFrame:
    return _tidy([(y, "805", "E06000001", measure, v, "count") for y, v in values.items()], file)


def test_population_far_from_another_publication_is_refused_naming_both() -> None:
    ons = _population_file({y: 20_000.0 + 50 * (y - 2015) for y in range(2015, 2020)}, "ons.csv")
    cla = _population_file(
        {y: 20_000.0 + 50 * (y - 2015) for y in range(2016, 2021)}, "cla.csv", "population_0_17_cla_denominator"
    )
    validation.check_populations_across([(ons, "population"), (cla, "cla")])
    edited = ons.with_columns(pl.col("value") * 10)  # every year (a unit error): no jump from year to year
    validation.check_measures(edited, "population")
    with pytest.raises(EvalkitError, match=r"^ons.csv.*more than 1.5-fold from the \d+ that cla.csv reports"):
        validation.check_populations_across([(edited, "population"), (cla, "cla")])


def test_small_councils_revised_by_hundreds_pass() -> None:
    """City of London: 985 (ONS mid-2022) against 591 (a CLA denominator of 2023), both published."""
    ons = _tidy([(2022, "201", "E09000001", "population_0_17", 985.0, "count")], "ons.csv")
    cla = _tidy([(2023, "201", "E09000001", "population_0_17_cla_denominator", 591.0, "count")], "cla.csv")
    validation.check_populations_across([(ons, "population"), (cla, "cla")])


def test_hartlepool_edited_in_every_year_of_the_ons_file_is_refused(tmp_path: Path) -> None:
    """The issue's case at the scale that passed the year-on-year check: every Hartlepool row of the ONS
    file set to 1,999,999 (published 20,164 for 2022; inside the 50-2,000,000 band)."""
    src = _folder(tmp_path, ONS, CLA_2024)
    evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path)
    ons = src / Path(ONS).name
    lines = ons.read_bytes().split(b"\n")
    edited = [
        line.rsplit(b",", 1)[0] + b",1999999" if b",805,E06000001,Hartlepool," in line else line for line in lines
    ]
    assert sum(a != b for a, b in zip(lines, edited, strict=True)) == 13
    ons.write_bytes(b"\n".join(edited))
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(ons, alone / ons.name)
    evalkit_cmd("ingest", "--from", str(alone), cwd=tmp_path / "alone")  # within its own years it is consistent
    run = evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path, check=False)
    _refused(run, ons.name, "row ", "population_estimate", "1999999", Path(CLA_2024).name)


def test_real_populations_agree_across_publications() -> None:
    from evalkit.sources import cla, population

    root = need_reference()
    files = [(cla.parse(root / n), "cla") for n in (CLA_2023, CLA_2024, "cla/sfr_SFR27_2010_March.csv")]
    files += [(population.parse(root / n), "population") for n in (ONS, "population/ons_mye23tablesew.xlsx")]
    validation.check_populations_across(files, known=validation.packaged_codes())


# --- Rows after their release ---------------------------------------------------------------------


@pytest.mark.parametrize("name,release,year", [(CLA_2024, 2024, 2026), (CLA_2023, 2023, 2025)])
def test_a_row_after_the_release_is_refused(tmp_path: Path, name: str, release: int, year: int) -> None:
    if dt.date.today().year < year:
        pytest.skip(f"{year} has not begun: the year check refuses the row first")
    src = _folder(tmp_path, name)
    path = src / Path(name).name
    lines = path.read_bytes().split(b"\n")
    k = next(
        i for i, line in enumerate(lines) if line.startswith(f"{release},".encode()) and b",Local authority," in line
    )
    lines.insert(1, f"{year}".encode() + lines[k][4:])
    path.write_bytes(b"\n".join(lines))
    run = evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path, check=False)
    _refused(run, path.name, "row 2", "time_period", f"year {year} is after the release this file is ({release}")
    assert not (tmp_path / "data" / "processed" / "CURRENT").exists()  # nothing published


def test_financial_year_sources_may_run_one_year_past_their_name() -> None:
    """MHCLG and S251 names carry the first year of '2023-24'; their rows the second."""
    frame = _tidy([(2024, "805", "E06000001", "spend_cla", 1e6, "gbp")], "mhclg_RO3_2023-24_data_by_LA.ods")
    validation.check_within_release(frame, "mhclg_ro", 2023, "file name")
    with pytest.raises(EvalkitError, match="after the release"):
        validation.check_within_release(frame.with_columns(pl.lit(2025).alias("year")), "mhclg_ro", 2023, "file name")


def test_ingest_add_compares_with_the_set_in_force(tmp_path: Path) -> None:
    """`ingest --add` of the edited ONS file beside CLA files already ingested: refused the same way; the
    published ONS file is added."""
    src = _folder(tmp_path, CLA_2024)
    evalkit_cmd("ingest", "--from", str(src), cwd=tmp_path)
    root = need_reference()
    for name, edit in (("edited", True), ("published", False)):
        folder = tmp_path / name
        folder.mkdir()
        raw = (root / ONS).read_bytes()
        if edit:
            raw = b"\n".join(
                line.rsplit(b",", 1)[0] + b",1999999" if b",805,E06000001,Hartlepool," in line else line
                for line in raw.split(b"\n")
            )
        (folder / Path(ONS).name).write_bytes(raw)
        run = evalkit_cmd("ingest", "--from", str(folder), "--add", cwd=tmp_path, check=not edit)
        if edit:
            _refused(run, Path(ONS).name, "1999999", Path(CLA_2024).name)
