"""Stage outputs as one generation: verified before reading, replaced whole, merged only with --add."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit import generations as gens
from evalkit.errors import EvalkitError
from evalkit.ingest import demo_dir, ingest
from evalkit.panel.build import read_processed


def _only(src: Path, keep: str) -> Path:
    """A copy of the demo folder holding only the files whose names start with `keep`."""
    out = src.parent / f"only-{keep}"
    out.mkdir()
    for p in src.iterdir():
        if p.name.startswith(keep) or p.name == "SYNTHETIC_DEMO_DATA.txt":
            shutil.copyfile(p, out / p.name)
    return out


@pytest.fixture
def demo_copy(tmp_path: Path) -> Path:
    src = tmp_path / "demo"
    shutil.copytree(demo_dir(), src)
    return src


def test_partial_from_replaces_the_whole_set(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    assert {"cla", "population", "s251", "ofsted"} <= set(read_processed(out)[1])
    manifest = ingest(_only(demo_copy, "cla_"), out)
    assert set(manifest["outputs"]) == {"cla"}
    _, tables = read_processed(out)
    assert set(tables) == {"cla"}  # no population/s251 Parquet of an earlier run is read
    assert sorted(p.name for p in gens.current_dir(out).iterdir()) == ["cla.parquet", "manifest.json"]


def test_add_merges_explicitly(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(_only(demo_copy, "cla_"), out)
    manifest = ingest(_only(demo_copy, "ons_"), out, add=True)
    assert set(manifest["outputs"]) == {"cla", "population"}
    assert {f["source"] for f in manifest["files"]} == {"cla", "population"}
    _, tables = read_processed(out)
    assert set(tables) == {"cla", "population"}


def test_tampered_output_is_refused(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    gen = gens.current_dir(out)
    target = gen / "cla.parquet"
    target.chmod(0o644)
    target.write_bytes(target.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(EvalkitError, match="sha256 is") as err:
        read_processed(out)
    assert "cla.parquet" in err.value.one_line() and "\n" not in err.value.one_line()


def test_undescribed_file_is_refused(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    pl.DataFrame({"x": [1]}).write_parquet(gens.current_dir(out) / "cin.parquet")
    with pytest.raises(EvalkitError, match="not described by the manifest"):
        read_processed(out)


@pytest.mark.parametrize("content", [b"", b'{"outputs": ', b"[]", b'{"outputs": {}}'])
def test_truncated_or_inconsistent_manifest_is_one_line(demo_copy: Path, tmp_path: Path, content: bytes) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    (gens.current_dir(out) / "manifest.json").write_bytes(content)
    with pytest.raises(EvalkitError) as err:
        read_processed(out)
    assert "manifest" in err.value.one_line()


def test_pointer_garbage_is_one_line(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    (out / gens.POINTER).write_text("../../etc\n")
    with pytest.raises(EvalkitError, match="generation pointer"):
        read_processed(out)


def test_same_inputs_keep_the_generation(demo_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed"
    ingest(demo_copy, out)
    first = gens.current_name(out)
    ingest(demo_copy, out)
    assert gens.current_name(out) == first


def test_failed_publish_leaves_no_folder(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with gens.Generation(tmp_path, "ingest") as gen:
            (gen.path / "a.parquet").write_bytes(b"x")
            raise RuntimeError("disk full")
    assert list((tmp_path / gens.GENERATIONS).iterdir()) == []
    assert gens.current_name(tmp_path) is None


def test_report_tables_come_from_the_panel_generation(demo_run: Path, tmp_path: Path) -> None:
    """balance/coverage in results.json are those of the generation whose panel was estimated."""
    doc = json.loads((demo_run / "reports" / "demo" / "results.json").read_text())
    gen = gens.current_dir(demo_run / "data" / "processed")
    balance = pl.read_parquet(gen / "balance.parquet").to_dicts()
    assert doc["balance"] == json.loads(json.dumps(balance))
    assert doc["provenance"]["inputs"][0]["sha256"] == gens.read_manifest(gen)["checksums"]["panel.parquet"]


def test_crash_leftovers_are_removed_before_a_new_generation_is_written(tmp_path: Path) -> None:
    """What killed runs leave (a never-published folder, a folder whose removal was cut short) goes at the
    start of the next run; published generations stay until a publish supersedes them."""

    def publish(name: str) -> str:
        with gens.Generation(tmp_path, "ingest") as gen:
            (gen.path / "a.txt").write_text(name, encoding="utf-8")
            gen.publish({})
            return gen.name

    first = publish("1")
    second = publish("2")
    root = tmp_path / gens.GENERATIONS
    (root / "g00000000T000000-unpublished").mkdir()  # a run killed before its publish
    (root / ("g00000000T000000-halfgone" + gens.TRASH)).mkdir()  # a clean-up killed mid-way
    (root / ("g00000000T000000-halfgone" + gens.TRASH) / gens.MANIFEST).write_text("{}", encoding="utf-8")
    with gens.Generation(tmp_path, "ingest") as gen:
        names = {p.name for p in root.iterdir()}
        assert names == {first, second, gen.name}
        (gen.path / "a.txt").write_text("3", encoding="utf-8")
        gen.publish({})
    assert {p.name for p in root.iterdir()} == {second, gen.name}
