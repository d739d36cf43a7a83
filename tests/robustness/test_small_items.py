"""The small items of issue #30 (item 8): each one line, the right exit status and the right words."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from tests.test_fetch import SOME, server  # noqa: F401 - the loopback HTTP server fixture


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_parquet_with_non_utf8_metadata_is_one_line(tmp_path: Path) -> None:
    pl.DataFrame({"unitzz": [1, 2], "t": [1, 2]}).write_parquet(tmp_path / "ok.parquet")
    raw = (tmp_path / "ok.parquet").read_bytes().replace(b"unitzz", b"unit\xff\xfe")  # same length
    (tmp_path / "bad.parquet").write_bytes(raw)
    run = _cli(
        ["estimate", "--panel", "bad.parquet", "--unit", "u", "--time", "t", "--outcome", "y", "--cohort", "g"],
        tmp_path,
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()] and "bad.parquet" in run.stderr


def test_read_parquet_checked_turns_a_panic_into_one_line(tmp_path: Path, monkeypatch) -> None:
    """A Rust panic reaches Python as PanicException, a BaseException: it must not escape as a traceback."""
    from evalkit.panel import build

    class PanicException(BaseException):  # what pyo3 raises for a panic (not an Exception)
        pass

    def panics(path):
        raise PanicException("called `Result::unwrap()` on an `Err` value: Utf8Error")

    monkeypatch.setattr(build.pl, "read_parquet", panics)
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(EvalkitError, match="not a readable Parquet file"):
        build.read_parquet_checked(tmp_path / "x.parquet")


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_caliper_that_is_not_a_number_is_a_usage_error(tmp_path: Path, value: str) -> None:
    run = _cli(["panel", "--caliper", value], tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "--caliper" in run.stderr


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200f"])
def test_bidi_controls_in_plan_text_are_refused(tmp_path: Path, char: str) -> None:
    from evalkit.plan import load_plan

    demo = Path(__file__).resolve().parents[2] / "evalkit" / "plans" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    title = re.search(r'^title = "(.*)"$', text, re.M)
    assert title
    plan = tmp_path / "p.toml"
    plan.write_text(text.replace(title.group(0), f'title = "{title.group(1)} {char}gnp.exe"', 1), encoding="utf-8")
    with pytest.raises(EvalkitError, match="title"):
        load_plan(plan)


def test_deadline_message_counts_the_bytes_kept(server, tmp_path, monkeypatch):  # noqa: F811
    from evalkit.fetch import DEADLINE_ENV, fetch_all

    server.mode = "trickle"
    monkeypatch.setenv(DEADLINE_ENV, "1.0")
    dest = tmp_path / "raw"
    with pytest.raises(EvalkitError) as info:
        fetch_all(dest, mirror=server.url, only=[SOME[0]], retries=0, timeout=5)
    kept = int(re.search(r"(\d+) bytes kept", str(info.value)).group(1))
    assert kept == (dest / (SOME[0] + ".part")).stat().st_size > 0


BINARY_NAMES = [
    "ees_cla_number_and_rate_per_10k_children_2020_2024.csv",
    "ees_la_cla_placement_stability_2020_2024.csv",
    "ons_mid-year_population_estimates_2012_to_2024.csv",
    "goodair_outturn_1112.csv",
]


@pytest.mark.parametrize("beside", [False, True], ids=["alone", "beside-a-good-file"])
@pytest.mark.parametrize("content", ["random", "workbook"])
@pytest.mark.parametrize("name", BINARY_NAMES)
def test_binary_file_under_a_publication_name_is_named(tmp_path: Path, name: str, content: str, beside: bool) -> None:
    """Not "no recognised publication files" for the folder (alone), nor skipped unseen (beside another
    file, where ingest used to exit 0): the file is named, in one line."""
    import random

    from evalkit.ingest import demo_dir
    from tests.robustness import workbooks

    src = tmp_path / "src"
    src.mkdir()
    data = random.Random(name).randbytes(3000) if content == "random" else workbooks.xlsx([("A1", "time_period")])
    (src / name).write_bytes(data)
    if beside:  # a good file of another publication, which ingest would otherwise take alone
        (src / "SYNTHETIC_DEMO_DATA.txt").write_bytes((demo_dir() / "SYNTHETIC_DEMO_DATA.txt").read_bytes())
        good = "s251_childrens_young_peoples_services_la_regional_national3.csv"
        assert (demo_dir() / good).is_file()
        (src / good).write_bytes((demo_dir() / good).read_bytes())
    run = _cli(["ingest", "--from", "src"], tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert name in run.stderr and "not a text file" in run.stderr, run.stderr


@pytest.fixture(scope="module")
def other_project(tmp_path_factory) -> Path:
    """Another project's folder with an ingested demo and its panel."""
    other = tmp_path_factory.mktemp("other")
    for stage in ("ingest", "panel"):
        assert _cli([stage], other).returncode == 0
    return other


def _demo_plan(folder: Path, panel: str) -> Path:
    demo = Path(__file__).resolve().parents[2] / "evalkit" / "plans" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    assert text.count('panel = "data/processed/panel.parquet"') == 1
    plan = folder / "plan.toml"
    plan.write_text(text.replace('panel = "data/processed/panel.parquet"', f"panel = {panel!r}"), encoding="utf-8")
    return plan


@pytest.mark.parametrize("command", ["estimate", "power"])
def test_plan_panel_through_a_link_leaving_the_folder_is_refused(tmp_path: Path, other_project: Path, command) -> None:
    """`data` a link to another project: its panel was read (and with it that project's registry)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(other_project / "data", target_is_directory=True)
    plan = _demo_plan(work, "data/processed/panel.parquet")
    args = [command, "--plan", str(plan)] + (["--draws", "2"] if command == "power" else [])
    run = _cli(args, work)
    assert run.returncode == 1, run.stdout + run.stderr
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1, run.stderr
    assert "data/processed/panel.parquet" in line and "data.panel" in line and "symbolic link" in line, line
    assert not (work / "reports").exists() or not any((work / "reports").rglob("results.json"))


def test_plan_panel_link_to_a_single_file_outside_is_refused(tmp_path: Path, other_project: Path, monkeypatch) -> None:
    from evalkit.generations import current_dir
    from evalkit.io import inside_project

    (tmp_path / "panel.parquet").symlink_to(current_dir(other_project / "data" / "processed") / "panel.parquet")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EvalkitError, match="panel.parquet, column 'data.panel': leads through the symbolic link"):
        inside_project("panel.parquet", column="data.panel")


def test_links_within_the_folder_and_paths_named_outside_are_read(tmp_path: Path, other_project: Path) -> None:
    """Not refused: a link that stays inside the working folder, and a path naming the place itself (plans
    refuse absolute paths on their own; `estimate --panel PATH` takes one)."""
    from evalkit.io import link_leaving

    work = tmp_path / "work"
    (work / "store").mkdir(parents=True)
    (work / "store" / "p.parquet").write_bytes(b"x")
    (work / "linked").symlink_to(work / "store", target_is_directory=True)
    assert link_leaving("linked/p.parquet", work) is None
    outside = other_project / "data" / "processed" / "panel.parquet"
    assert link_leaving(outside, work) is None
    (work / "out").symlink_to(other_project, target_is_directory=True)
    assert link_leaving("out/data/processed/panel.parquet", work) == (work / "out", outside.resolve())


def test_panel_copied_out_of_its_generation_does_not_take_the_packaged_registry(
    tmp_path: Path, other_project: Path
) -> None:
    """The demo's panel copied alone: its report listed the packaged England registry's councils. Now
    refused in one line naming the panel and where the registry came from; with the generation's
    registry copied beside it, the plan runs."""
    import shutil

    from evalkit.generations import current_dir

    gen = current_dir(other_project / "data" / "processed")
    shutil.copyfile(gen / "panel.parquet", tmp_path / "copied.parquet")
    plan = _demo_plan(tmp_path, "copied.parquet")
    run = _cli(["estimate", "--plan", str(plan)], tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1 and "copied.parquet" in line and "spell_id" in line, line
    assert "packaged with evalkit" in line and "DEMO-1" in line, line
    assert not list(tmp_path.rglob("results.json"))
    shutil.copyfile(gen / "adm_registry.csv", tmp_path / "adm_registry.csv")
    run = _cli(["estimate", "--plan", str(plan)], tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(next(tmp_path.rglob("results.json")).read_text(encoding="utf-8"))
    assert {r["la_code"] for r in results["registry"]} <= {f"{i:03d}" for i in range(1, 49)}


def test_plan_checksum_path_through_a_link_leaving_the_folder_is_refused(tmp_path: Path, other_project: Path) -> None:
    from evalkit.generations import current_dir

    work = tmp_path / "work"
    shutil.copytree(other_project / "data", work / "data")
    outside = current_dir(other_project / "data" / "processed") / "panel.parquet"
    (work / "linked.parquet").symlink_to(outside)
    plan = _demo_plan(work, "data/processed/panel.parquet")
    text = plan.read_text(encoding="utf-8").replace(
        "[sample]", f'expected_sha256 = {{ "linked.parquet" = "{"0" * 64}" }}\n\n[sample]', 1
    )
    plan.write_text(text, encoding="utf-8")
    run = _cli(["estimate", "--plan", str(plan)], work)
    assert run.returncode == 1, run.stdout + run.stderr
    line = run.stderr.strip()
    assert len(line.splitlines()) == 1 and "linked.parquet" in line and "symbolic link" in line, line
