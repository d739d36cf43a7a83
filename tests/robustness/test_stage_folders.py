"""Stage folders are the project's own (issue #30, item 3).

Each case copies the session's demo run, plants one hostile change in data/processed/, runs the
real command and checks the exit status, the one-line error and that nothing outside was touched.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from evalkit import generations as gens
from evalkit.errors import EvalkitError
from tests.conftest import evalkit_cmd

LINKS = pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")


@pytest.fixture
def work(demo_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "w"
    shutil.copytree(demo_run, target, symlinks=True, ignore=shutil.ignore_patterns(".evalkit.lock"))
    return target


@pytest.fixture
def other(demo_run: Path, tmp_path: Path) -> Path:
    """Another project's processed folder, whose bytes must survive every case."""
    target = tmp_path / "other"
    shutil.copytree(demo_run / "data" / "processed", target, ignore=shutil.ignore_patterns(".evalkit.lock"))
    foreign = "g20000101T000000-0000beef"  # a name of its own, so a link to it cannot be mistaken for ours
    (target / "generations" / gens.current_name(target)).rename(target / "generations" / foreign)
    (target / "CURRENT").write_text(foreign + "\n")
    return target


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(run) -> str:
    assert run.returncode == 1, (run.returncode, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    return lines[0]


@LINKS
def test_generations_folder_linked_elsewhere_is_refused(work: Path, other: Path) -> None:
    processed = work / "data" / "processed"
    shutil.rmtree(processed / "generations")
    (processed / "generations").symlink_to(other / "generations", target_is_directory=True)
    before = _snapshot(other)
    line = _one_line_error(evalkit_cmd("ingest", cwd=work, check=False))
    assert "symbolic link" in line
    assert _snapshot(other) == before


@LINKS
def test_pointer_linked_elsewhere_is_refused(work: Path, other: Path) -> None:
    processed = work / "data" / "processed"
    (processed / "CURRENT").unlink()
    (processed / "CURRENT").symlink_to(other / "CURRENT")
    line = _one_line_error(evalkit_cmd("panel", cwd=work, check=False))
    assert "symbolic link" in line


@LINKS
def test_linked_foreign_generation_is_not_read(work: Path, other: Path) -> None:
    processed = work / "data" / "processed"
    foreign = gens.current_name(other)
    own = gens.current_name(processed)
    (processed / "generations" / foreign).symlink_to(other / "generations" / foreign, target_is_directory=True)
    (processed / "CURRENT").write_text(foreign + "\n")
    before = _snapshot(other)
    line = _one_line_error(evalkit_cmd("estimate", cwd=work, check=False))
    assert "symbolic link" in line
    # A fresh full ingest replaces the forged pointer; the other project keeps every byte.
    run = evalkit_cmd("ingest", cwd=work)
    assert "note: the outputs in force are damaged" in run.stderr
    assert _snapshot(other) == before
    assert gens.current_name(processed) not in (foreign, own)
    assert not (processed / "generations" / foreign).exists()


def test_outputs_table_must_name_checksummed_files(work: Path, other: Path) -> None:
    processed = work / "data" / "processed"
    gen = gens.current_dir(processed)
    manifest = json.loads((gen / "manifest.json").read_text())
    name = sorted(manifest["outputs"])[0]
    foreign = gens.current_dir(other) / manifest["outputs"][name]["file"]
    manifest["outputs"][name]["file"] = str(Path("..") / ".." / ".." / ".." / "other" / foreign.relative_to(other))
    (gen / "manifest.json").write_text(json.dumps(manifest, indent=2))
    line = _one_line_error(evalkit_cmd("panel", cwd=work, check=False))
    assert "checksums do not cover" in line and f"outputs.{name}.file" in line


def test_damaged_generation_never_blocks_a_fresh_full_run(work: Path) -> None:
    processed = work / "data" / "processed"
    gen = gens.current_dir(processed)
    victim = sorted(gen.glob("*.parquet"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    victim.write_bytes(bytes(data))
    _one_line_error(evalkit_cmd("panel", cwd=work, check=False))  # reading it is refused
    run = evalkit_cmd("ingest", cwd=work)  # a full run replaces it
    assert "damaged" in run.stderr
    evalkit_cmd("panel", cwd=work)
    assert gens.open_current(processed)[0] != gen


def test_damaged_generation_still_blocks_add(work: Path) -> None:
    processed = work / "data" / "processed"
    gen = gens.current_dir(processed)
    victim = sorted(gen.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    from evalkit.ingest import demo_dir

    _one_line_error(evalkit_cmd("ingest", "--add", "--from", str(demo_dir()), cwd=work, check=False))


def _publish(folder: Path) -> str:
    with gens.Generation(folder, "test") as g:
        (g.path / "x.txt").write_text(g.name)
        g.publish({})
    return g.name


def test_writer_never_collects_a_pinned_generation(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    first = _publish(folder)
    try:
        assert gens.resolve(folder / "x.txt") == folder / "generations" / first / "x.txt"  # pins `first`
        _publish(folder)
        _publish(folder)  # `first` is neither current nor previous now: only the pin keeps it
        assert (folder / "generations" / first / "x.txt").read_text() == first
    finally:
        gens.unpin_all()
    _publish(folder)
    assert not (folder / "generations" / first).exists()  # released: collected by the next writer


def test_pin_of_a_dead_reader_is_cleared(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    first = _publish(folder)
    (folder / gens.READERS).mkdir()
    (folder / gens.READERS / f"{first}.99999.deadbeef").write_text("")  # no process holds its lock
    _publish(folder)
    _publish(folder)
    assert not (folder / "generations" / first).exists()
    assert not list((folder / gens.READERS).iterdir())


@LINKS
def test_linked_manifest_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "stage"
    _publish(folder)
    gen = gens.current_dir(folder)
    real = tmp_path / "elsewhere.json"
    shutil.move(gen / "manifest.json", real)
    (gen / "manifest.json").symlink_to(real)
    with pytest.raises(EvalkitError, match="symbolic link"):
        gens.open_current(folder)
