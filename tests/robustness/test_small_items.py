"""The small items of issue #30 (item 8): each one line, the right exit status and the right words."""

from __future__ import annotations

import re
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
