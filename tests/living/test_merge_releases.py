"""Ingest keeps every release of a source: a new CLA release added with --add revises, never drops (#27)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit.generations import open_current
from evalkit.ingest import ingest
from evalkit.revisions import resolve
from tests.conftest import need_reference
from tests.living.simulated import DASHBOARD, NEXT_NAME, SUNDERLAND, next_cla_release


def _cla(out: Path) -> tuple[pl.DataFrame, dict]:
    gen, manifest = open_current(out)
    return pl.read_parquet(gen / "cla.parquet"), manifest


@pytest.fixture(scope="module")
def cla_before_after(tmp_path_factory) -> tuple[pl.DataFrame, dict, pl.DataFrame, dict]:
    root = need_reference()
    work = tmp_path_factory.mktemp("merge")
    shutil.copytree(root / "cla", work / "ref" / "cla")
    out = work / "processed"
    ingest(work / "ref", out)
    before, old_manifest = _cla(out)
    next_cla_release(root, work / "new")
    manifest = ingest(work / "new", out, add=True)
    after, new_manifest = _cla(out)
    assert new_manifest["changes"] == manifest["changes"]
    return before, old_manifest, after, manifest


def test_add_keeps_every_earlier_release(cla_before_after) -> None:
    before, _, after, manifest = cla_before_after
    new_rows = next(f["rows"] for f in manifest["files"] if f["file"] == NEXT_NAME)
    assert after.height == before.height + new_rows  # 15,498 rows did not become 3,875
    assert set(after["year"].unique()) == set(before["year"].unique()) | {2026}
    assert before.join(after, on=before.columns, how="anti", nulls_equal=True).height == 0


def test_later_release_revises_one_council_year(cla_before_after) -> None:
    _, _, after, manifest = cla_before_after
    files = [f for f in manifest["files"] if f["source"] == "cla"]
    value = resolve(after, files).filter(
        pl.col("la_code") == SUNDERLAND, pl.col("year") == 2025, pl.col("measure") == "cla_at_31_march"
    )
    assert value["value"].to_list() == [520.0]
    release = next(f for f in files if f["file"] == NEXT_NAME)
    assert (release["release"], release["release_from"]) == (2026, "file name")


def test_ingest_reports_exactly_the_revision_and_the_new_year(cla_before_after) -> None:
    _, _, after, manifest = cla_before_after
    cla = manifest["changes"]["cla"]
    assert cla["added_years"] == [2026]
    councils_2026 = after.filter(pl.col("year") == 2026)["la_code"].n_unique()
    assert cla["added_council_years"] == councils_2026 > 140
    assert cla["revised_council_years"] == 1
    assert cla["dropped_council_years"] == 0
    revised = {(r["la_code"], r["year"], r["measure"]): (r["old"], r["new"]) for r in cla["revised"]}
    assert revised == {
        (SUNDERLAND, 2025, "cla_at_31_march"): (510.0, 520.0),
        (SUNDERLAND, 2025, "cla_rate_per_10000"): (90.0, 92.0),
    }
    assert set(manifest["changes"]) == {"cla"}


def test_identical_copy_in_a_subfolder_is_one_file(tmp_path: Path) -> None:
    """#30: a byte-identical second copy of a file is the same file, not a second set of rows."""
    root = need_reference()
    src = tmp_path / "src"
    shutil.copytree(root / "cla", src / "cla")
    name = "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv"
    (src / "copy").mkdir()
    shutil.copy2(src / "cla" / name, src / "copy" / name)
    manifest = ingest(src, tmp_path / "out")
    assert [f["file"] for f in manifest["files"]].count(f"cla/{name}") == 1
    assert not any(f["file"] == f"copy/{name}" for f in manifest["files"])
    assert {"file": f"copy/{name}", "reason": f"identical copy of cla/{name}"}.items() <= next(
        s for s in manifest["skipped"] if s["file"] == f"copy/{name}"
    ).items()
    single = ingest(root / "cla", tmp_path / "single")
    assert manifest["outputs"]["cla"]["rows"] == single["outputs"]["cla"]["rows"]


def test_a_file_name_never_outranks_a_known_later_release(tmp_path: Path) -> None:
    """#30: the oldest EES release, edited (Sunderland 2023: 500 -> 600 looked after) and saved as
    `..._2099.csv`, ranks as the release its rows could be (2024, a year after its last year), below the
    catalogued 2024 release (a trusted record beats a file name at equal years) and the 2025 release, so
    it overrides none of their figures."""
    root = need_reference()
    src = tmp_path / "src"
    shutil.copytree(root / "cla", src)
    old = src / "ees_cla_number_and_rate_per_10k_children_2019_2023.csv"
    raw = old.read_bytes()
    line = b"2023,Reporting year,Local authority,E92000001,England,E12000001,North East,394,Sunderland,E08000024,"
    line += b"Children looked after at 31 March each year,55081,"
    assert raw.count(line + b"500,91\r\n") == 1
    edited = src / "ees_cla_number_and_rate_per_10k_children_2019_2099.csv"
    edited.write_bytes(raw.replace(line + b"500,91\r\n", line + b"600,109\r\n"))
    old.unlink()
    manifest = ingest(src, tmp_path / "out")
    entry = next(f for f in manifest["files"] if f["file"] == edited.name)
    assert (entry["release"], entry["release_from"]) == (2024, "file name, capped a year after its last year")
    gen, _ = open_current(tmp_path / "out")
    files = [f for f in manifest["files"] if f["source"] == "cla"]
    resolved = resolve(pl.read_parquet(gen / "cla.parquet"), files)
    sunderland = resolved.filter(
        pl.col("la_code") == SUNDERLAND, pl.col("year") == 2023, pl.col("measure") == "cla_at_31_march"
    )
    assert sunderland["value"].to_list() == [500.0]
    # The edited file wins only where no later release publishes a number (e.g. a suppressed cell).
    table = pl.read_parquet(gen / "cla.parquet")
    later = table.filter(
        pl.col("file").is_in([f["file"] for f in files if (f["release"] or 0) > 2023 and f["file"] != edited.name]),
        pl.col("value").is_not_null(),
    ).select("la_code", "year", "measure")
    won = resolved.filter(pl.col("file") == edited.name).join(later, on=["la_code", "year", "measure"], how="semi")
    assert won.height == 0


def test_two_releases_with_one_base_name_stay_two_files(tmp_path: Path) -> None:
    """#30: files are told apart by content, not base name: two releases saved under one name in two
    folders keep their own rows (each named `name#<sha256 prefix>`), and the catalogue orders them."""
    root = need_reference()
    name = "cla_number_and_rate_per_10k_children.csv"
    for folder, file in (("2024", "ees_cla_number_and_rate_per_10k_children_2020_2024.csv"), ("2025", DASHBOARD)):
        (tmp_path / "src" / folder).mkdir(parents=True)
        shutil.copy2(root / "cla" / Path(file).name, tmp_path / "src" / folder / name)
    manifest = ingest(tmp_path / "src", tmp_path / "out")
    entries = {f["file"]: f for f in manifest["files"]}
    assert {e["rows_file"] for e in entries.values()} == {f"{name}#{e['sha256'][:12]}" for e in entries.values()}
    assert [entries[f"{y}/{name}"]["release"] for y in ("2024", "2025")] == [2024, 2025]  # from the catalogue
    gen, _ = open_current(tmp_path / "out")
    table = pl.read_parquet(gen / "cla.parquet")
    assert set(table["file"]) == {e["rows_file"] for e in entries.values()}
    assert table.height == sum(e["rows"] for e in entries.values())
    files = [f for f in manifest["files"] if f["source"] == "cla"]
    sunderland = resolve(table, files).filter(
        pl.col("la_code") == SUNDERLAND, pl.col("year") == 2024, pl.col("measure") == "cla_at_31_march"
    )
    assert sunderland["file"].to_list() == [entries[f"2025/{name}"]["rows_file"]]  # the later release wins
