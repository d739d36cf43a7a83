"""Semantic rules (evalkit.validation) and release order (evalkit.releases) beyond the corpus cases."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit import validation
from evalkit.errors import EvalkitError
from evalkit.generations import current_dir
from evalkit.ingest import demo_dir, ingest
from evalkit.panel.build import build_panel
from evalkit.releases import release_of
from tests.conftest import need_reference

CLA = "cla_number_and_rate_per_10k_children.csv"


def _row(lines: list[bytes], year: bytes, code: bytes, kind: bytes) -> int:
    return next(
        i
        for i, line in enumerate(lines)
        if line.startswith(year + b",") and b"," + code + b"," in line and kind in line
    )


def test_release_comes_from_the_publisher_not_the_rows(tmp_path: Path) -> None:
    """An old release with a later year in its rows must not replace the newer release's figures: the
    stray row is refused (a year after the release the file is, #30), and without it the newer wins."""
    src = tmp_path / "src"
    shutil.copytree(demo_dir(), src)
    raw = (src / CLA).read_bytes()
    (src / CLA).unlink()
    (src / "cla_number_and_rate_per_10k_children_2025.csv").write_bytes(raw)
    lines = raw.split(b"\n")
    k = _row(lines, b"2024", b"008", b"on 31 March")
    cells = lines[k].split(b",")
    assert cells[12] == b"754"
    cells[12], cells[13] = b"700", b"80"  # the old release's unrevised figure (rate consistent)
    lines[k] = b",".join(cells)
    stray = b",".join([b"2025", *lines[k].split(b",")[1:]])  # a later year than the old release can hold
    (src / "cla_number_and_rate_per_10k_children_2024.csv").write_bytes(
        b"\n".join([*lines[: k + 1], stray, *lines[k + 1 :]])
    )
    with pytest.raises(EvalkitError, match=r"year 2025 is after the release this file is \(2024") as err:
        ingest(src, tmp_path / "refused")
    assert f"row {k + 2}" in err.value.one_line() and "time_period" in err.value.one_line()
    (src / "cla_number_and_rate_per_10k_children_2024.csv").write_bytes(b"\n".join(lines))
    out = tmp_path / "processed"
    manifest = ingest(src, out)
    releases = {f["file"]: f["release"] for f in manifest["files"] if f["source"] == "cla"}
    assert releases == {
        "cla_number_and_rate_per_10k_children_2024.csv": 2024,
        "cla_number_and_rate_per_10k_children_2025.csv": 2025,
    }
    panel, _ = build_panel(out)
    row = panel.filter(pl.col("unit_code") == "008", pl.col("year") == 2024)
    assert row["cla_count"].to_list() == [754.0]


def test_release_of_reads_the_catalogue_titles() -> None:
    root = need_reference()
    from evalkit.io import sha256_file

    dashboard = root / "cla" / "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv"
    assert release_of(dashboard.name, sha256_file(dashboard)) == (2025, "catalogue")
    sfr = root / "cla" / "sfr_SFR21_CLA.csv"
    assert release_of(sfr.name, sha256_file(sfr)) == (2011, "catalogue")
    assert release_of("x_2019_2023.csv", "0" * 64) == (2023, "file name")
    assert release_of("cla.csv", "0" * 64) == (None, None)


def test_real_cla_release_with_a_2099_row_is_refused(tmp_path: Path) -> None:
    """The CLA 2099 case, built from the oldest real EES release at test time."""
    root = need_reference()
    src = tmp_path / "src"
    src.mkdir()
    name = "ees_cla_number_and_rate_per_10k_children_2019_2023.csv"
    lines = (root / "cla" / name).read_bytes().split(b"\n")
    k = next(i for i, line in enumerate(lines) if b",Local authority," in line)
    cells = lines[k].split(b",")
    cells[0] = b"2099"
    lines.insert(k + 1, b",".join(cells))
    (src / name).write_bytes(b"\n".join(lines))
    shutil.copyfile(root / "dfe_las.csv", src / "dfe_las.csv")
    with pytest.raises(EvalkitError, match="year 2099 is not a year") as err:
        ingest(src, tmp_path / "out")
    assert f"row {k + 2}" in err.value.one_line() and "time_period" in err.value.one_line()


def test_packaged_lookup_knows_real_codes_and_refuses_others(tmp_path: Path) -> None:
    """Without dfe_las.csv in --from, the shipped list decides (Doncaster 371 yes, 777 no)."""
    root = need_reference()
    src = tmp_path / "src"
    src.mkdir()
    name = "ees_cla_number_and_rate_per_10k_children_2020_2024.csv"
    shutil.copyfile(root / "cla" / name, src / name)
    ingest(src, tmp_path / "ok")
    assert "la_codes" not in pl.read_parquet(current_dir(tmp_path / "ok") / "cla.parquet")["source"].unique().to_list()
    raw = (src / name).read_bytes().replace(b",371,", b",777,", 1)
    (src / name).write_bytes(raw)
    with pytest.raises(EvalkitError, match="LA code 777 is not a council"):
        ingest(src, tmp_path / "bad")


def test_rules_are_declared_for_every_measure_source() -> None:
    """A source module that writes measures and has no rules would pass unchecked."""
    from evalkit.ingest import source_modules

    measure_sources = {m.NAME for m in source_modules() if getattr(m, "KIND", "") == "measures"}
    assert measure_sources <= set(validation.SOURCES), measure_sources - set(validation.SOURCES)


def test_identical_repeat_is_allowed_a_different_one_is_not() -> None:
    base = {
        "source": "cla",
        "file": "f.csv",
        "year": 2020,
        "la_code": "371",
        "gss_code": "E08000017",
        "la_name": "D",
        "measure": "cla_at_31_march",
        "value": 5.0,
        "marker": None,
        "unit": "count",
        "__row": 2,
        "__column": "n",
    }
    same = pl.DataFrame([base, {**base, "__row": 3}])
    validation.check_measures(same, "cla", known=None)
    different = pl.DataFrame([base, {**base, "__row": 3, "value": 6.0}])
    with pytest.raises(EvalkitError, match="a second, different value"):
        validation.check_measures(different, "cla", known=None)
