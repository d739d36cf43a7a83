"""The command line: thin wiring of typer to the four stages. Exit 0 ok, 1 bad data, 2 bad usage."""

from __future__ import annotations

import shlex
import sys
import tempfile
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from evalkit.errors import EvalkitError, UsageError
from evalkit.locking import data_lock, terminate_as_interrupt

app = typer.Typer(
    add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
    help="Independent evaluation of alternative delivery models of children's social care in England.\n\n"
    "Stages: ingest -> panel -> estimate -> report; each reads the previous stage's files on disk.",
)
plan_app = typer.Typer(no_args_is_help=True, help="Pre-registered analysis plans: write a template, lock a plan.")
app.add_typer(plan_app, name="plan")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)
STATE = {"quiet": False}

PROCESSED = Path("data/processed")
REPORTS = Path("reports")


def demo_plan() -> Path:
    return Path(str(resources.files("evalkit") / "plans" / "demo.toml"))


@app.callback()
def _main(quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False) -> None:
    STATE["quiet"] = quiet


def say(text: str) -> None:
    if not STATE["quiet"]:
        out.print(text)


@contextmanager
def progress(label: str) -> Iterator:
    """A spinner with the current item; silent under --quiet or when output is not a terminal."""
    if STATE["quiet"] or not sys.stderr.isatty():
        yield lambda item: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task(label)
        yield lambda item: bar.update(task, description=f"{label}: {item}")


def command_line() -> str:
    """The command as typed, without the path of the executable (reports must not hold local paths)."""
    return " ".join(["evalkit", *map(shlex.quote, sys.argv[1:])])


# --- ingest -----------------------------------------------------------------------------------------

@app.command()
def ingest(
    source: Annotated[Optional[Path], typer.Option("--from", help="Folder of official files to read (searched recursively). Default: the embedded SYNTHETIC demo data.")] = None,
    fetch: Annotated[bool, typer.Option("--fetch", help="Download the official publications into data/raw/ first (verified by sha256), then read them.")] = False,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the tidy Parquet files and manifest.json go.")] = PROCESSED,
    mirror: Annotated[Optional[str], typer.Option("--mirror", help="With --fetch: a base URL or folder holding the files at their catalogue paths (also EVALKIT_MIRROR).")] = None,
    add: Annotated[bool, typer.Option("--add", help="Merge: keep the sources of the current outputs that this folder does not supply (default: the new set replaces the old one whole).")] = False,
) -> None:
    """Read published files (Ofsted, CLA, CIN, workforce, population, spending, LA codes) into tidy Parquet.

    Inputs: the official files in their published layouts. Outputs: OUT/<source>.parquet, one per
    publication family, and OUT/manifest.json (each input's sha256, rows, parser and version).
    Files that are not a recognised publication are listed in the manifest as skipped.
    """
    from evalkit import ingest as stage

    with data_lock(out_dir), progress("ingest") as tick:
        if fetch:
            from evalkit import fetch as fetcher

            source = fetcher.fetch_all(Path("data/raw"), mirror=mirror, progress=tick)
        folder = source or stage.demo_dir()
        manifest = stage.ingest(folder, out_dir, add=add, progress=tick)
    if manifest["synthetic_demo"]:
        say("[bold yellow]SYNTHETIC DEMO DATA[/] (fictional councils; not real statistics)")
    say(f"ingested {len(manifest['files'])} file(s) into {out_dir}/: " + ", ".join(f"{k} ({v['rows']} rows)" for k, v in manifest["outputs"].items()))
    if manifest["skipped"]:
        say(f"skipped {len(manifest['skipped'])} file(s) that are not a recognised publication (listed in manifest.json)")


# --- panel ------------------------------------------------------------------------------------------

@app.command()
def panel(
    processed: Annotated[Path, typer.Option("--processed", help="Folder written by `evalkit ingest`.")] = PROCESSED,
    registry: Annotated[Optional[Path], typer.Option("--registry", help="Extra registry rows (CSV, same columns as evalkit/data/adm_registry.csv).")] = None,
    match: Annotated[bool, typer.Option("--match/--no-match", help="Choose matched in-house comparators and write a balance table.")] = True,
    match_method: Annotated[str, typer.Option("--match-method", help="mahalanobis | propensity | statistical_neighbours (DfE's published neighbours).")] = "mahalanobis",
    match_k: Annotated[int, typer.Option("--match-k", help="Comparators per treated council.")] = 3,
    caliper: Annotated[Optional[str], typer.Option("--caliper", help="Maximum distance in the method's units (Mahalanobis distance, logit-score difference, or DfE rank); 'auto' = 0.2 x SD of the logit, propensity only.")] = None,
    replacement: Annotated[bool, typer.Option("--with-replacement/--without-replacement", help="May one comparator serve several treated councils?")] = True,
    sn_model: Annotated[str, typer.Option("--sn-model", help="Statistical-neighbour model: 2025 or 2021.")] = "2025",
    deflator: Annotated[Optional[Path], typer.Option("--deflator", help="CSV financial_year,index (e.g. HM Treasury GDP deflators) for spend_csc_per_child_real.")] = None,
    deflator_base: Annotated[Optional[int], typer.Option("--deflator-base", help="Base year (year ending 31 March) for real terms; default the file's last year.")] = None,
    boundaries: Annotated[str, typer.Option("--boundaries", help="Boundary changes: 'aggregate' follows reorganised areas as one unit over time (BCP+Dorset, Northamptonshire, Cumbria); 'separate' keeps successors as new units.")] = "aggregate",
) -> None:
    """Build the council-year panel with outcomes, Ofsted grades in force and treatment timing.

    Inputs: PROCESSED/manifest.json and the Parquet files it lists; the registry of delivery models.
    Outputs: PROCESSED/panel.parquet, panel_diagnostics.json (coverage and missingness with reasons)
    and, with --match, matches.parquet and balance.parquet.
    """
    from evalkit.panel import build

    if boundaries not in ("aggregate", "separate"):
        raise UsageError("--boundaries must be 'aggregate' or 'separate'")
    with data_lock(processed), progress("panel") as tick:
        tick("building")
        options = dict(method=match_method, k=match_k, replacement=replacement, caliper=caliper, sn_model=sn_model)
        diagnostics = build.run_stage(processed, registry=registry, policy=boundaries, deflator=deflator,
                                      deflator_base=deflator_base, match=options if match else None, tick=tick)
    if diagnostics.get("synthetic_demo"):
        say("[bold yellow]SYNTHETIC DEMO DATA[/]")
    say(f"panel: {diagnostics['units']} councils x {diagnostics['years'][0]}-{diagnostics['years'][1]}, "
        f"{diagnostics['treated_units']} treated -> {processed / build.PANEL_FILE}")


# --- estimate ---------------------------------------------------------------------------------------

def _resolve_plan(plan: Optional[Path]) -> Path:
    if plan is not None:
        return plan
    from evalkit import generations

    gen = generations.current_dir(PROCESSED)
    diag = gen / "panel_diagnostics.json" if gen is not None else None
    if diag is not None and diag.is_file() and '"synthetic_demo": true' in diag.read_text(encoding="utf-8", errors="replace"):
        return demo_plan()
    raise UsageError("give --plan PLAN (the default plan is only for the embedded demo data)")


def run_plan_into(plan_path: Path, out_root: Path, *, allow_deviations: bool, command: str, tick=None) -> Path:
    """Run a plan and write its results into out_root/<plan name>/; returns that folder."""
    from evalkit import estimate as stage
    from evalkit import plan as plans

    plan = plans.load_plan(plan_path)
    devs = plans.check_against_lock(plan_path, allow_deviations)
    lock = plans.read_lock(plan_path)
    doc = stage.run_plan(
        plan, command=command, plan_sha256=plans.plan_sha256(plan_path),
        lock={k: lock[k] for k in ("sha256", "locked_at", "evalkit_version") if k in lock} if lock else None,
        deviations=devs, progress=tick,
    )
    target = out_root / plan["plan"]["name"]
    stage.write_results(doc, target)
    return target


@app.command()
def estimate(
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Pre-registered plan (TOML). Default: the demo plan, on demo data.")] = None,
    allow_deviations: Annotated[bool, typer.Option("--allow-deviations", help="Run a plan that changed since it was locked; the deviations are recorded.")] = False,
    panel_file: Annotated[Optional[Path], typer.Option("--panel", help="Any long panel (CSV or Parquet) instead of a plan.")] = None,
    unit: Annotated[Optional[str], typer.Option(help="Unit column (with --panel).")] = None,
    time: Annotated[Optional[str], typer.Option(help="Time column (with --panel).")] = None,
    outcome: Annotated[Optional[str], typer.Option(help="Outcome column (with --panel).")] = None,
    cohort: Annotated[Optional[str], typer.Option(help="First-treated period column; 0 or empty = never treated.")] = None,
    treated: Annotated[Optional[str], typer.Option(help="0/1 column marking treated unit-periods (instead of --cohort).")] = None,
    covariates: Annotated[Optional[str], typer.Option(help="Comma-separated covariate columns.")] = None,
    method: Annotated[str, typer.Option(help="cs | twfe | twfe_es | sunab | imputation | synth | synth_staggered | sdid")] = "cs",
    control: Annotated[Optional[str], typer.Option(help="cs: never | notyet")] = None,
    est_method: Annotated[Optional[str], typer.Option("--est-method", help="cs: dr | ipw | reg")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap draws where the method has them (0 = analytic).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed, recorded in the output.")] = 20240101,
    json_out: Annotated[Optional[str], typer.Option("--json", help="Write results as JSON to this file ('-' = stdout).")] = None,
    out_root: Annotated[Path, typer.Option("--out", help="Where plan results go (reports/<plan name>/).")] = REPORTS,
    sensitivity: Annotated[Optional[str], typer.Option("--sensitivity", help="With --panel: Rambachan-Roth sensitivity of the event study, rm (relative magnitudes) | sd (smoothness); methods cs, sunab, twfe_es.")] = None,
    mbar: Annotated[Optional[str], typer.Option("--mbar", help="--sensitivity rm: comma-separated Mbar values (default 0.5,1,1.5,2).")] = None,
    m_values: Annotated[Optional[str], typer.Option("--m", help="--sensitivity sd: comma-separated M values, outcome units per period (required).")] = None,
    sensitivity_target: Annotated[Optional[str], typer.Option("--sensitivity-target", help="first (first post-period effect, default) | average (of the post periods).")] = None,
    pretrend_test: Annotated[bool, typer.Option("--pretrend-test", help="With --panel: Wald test that the pre-period event-study coefficients are 0 (a 'pretrend' row).")] = False,
) -> None:
    """Run the estimators: the analyses of a plan on the council panel, or one method on any long panel.

    With a plan: reads the panel it names and writes OUT/<name>/results.json and results.parquet.
    With --panel: prints a results table, and with --json writes every estimate with its name,
    estimate, se, ci_low, ci_high and the options and seed used.
    """
    checks = _event_study_checks(method, sensitivity, mbar, m_values, sensitivity_target, pretrend_test)
    if panel_file is not None:
        _estimate_any_panel(panel_file, unit, time, outcome, cohort, treated, covariates, method, control, est_method, bootstrap, seed, json_out, checks)
        return
    if checks:
        raise UsageError("--sensitivity, --mbar, --m, --sensitivity-target and --pretrend-test go with --panel; in a plan use the analysis's sensitivity table")
    plan_path = _resolve_plan(plan)
    with data_lock(out_root), progress("estimate") as tick:
        target = run_plan_into(plan_path, out_root, allow_deviations=allow_deviations, command=command_line(), tick=tick)
    _print_headlines(target / "results.json")
    say(f"results -> {target}/results.json, results.parquet")


def _event_study_checks(method, sensitivity, mbar, m_values, target, pretrend) -> dict | None:
    """The --sensitivity / --pretrend-test request, checked before any data is read (exit 2 if it cannot apply)."""
    from evalkit import sensitivity as sens

    if sensitivity is None:
        stray = [flag for flag, v in (("--mbar", mbar), ("--m", m_values), ("--sensitivity-target", target)) if v is not None]
        if stray:
            raise UsageError(f"{stray[0]} needs --sensitivity rm|sd")
        if not pretrend:
            return None
        sens.check_method(method, {}, "--pretrend-test")
        return {"sensitivity": None, "pretrend": True}
    if sensitivity not in ("rm", "sd"):
        raise UsageError(f"--sensitivity takes rm (relative magnitudes) or sd (smoothness), not {sensitivity!r}")
    if sensitivity == "rm" and m_values is not None:
        raise UsageError("--m goes with --sensitivity sd; relative magnitudes take --mbar")
    if sensitivity == "sd" and mbar is not None:
        raise UsageError("--mbar goes with --sensitivity rm; smoothness takes --m")
    spec = {"method": sensitivity, "target": target or "first"}
    if mbar is not None:
        spec["mbar"] = sens.parse_values(mbar, "--mbar")
    if m_values is not None:
        spec["m"] = sens.parse_values(m_values, "--m")
    try:
        spec = sens.check_spec(spec)
    except ValueError as exc:
        flag = "--m" if "needs m" in str(exc) else "--sensitivity-target" if "target" in str(exc) else "--sensitivity"
        raise UsageError(f"{flag}: {exc}") from None
    sens.check_method(method, {}, "--sensitivity")
    return {"sensitivity": spec, "pretrend": pretrend}


def _estimate_any_panel(path, unit, time, outcome, cohort, treated, covariates, method, control, est_method, bootstrap, seed, json_out, checks=None) -> None:
    from evalkit import estimate as stage
    from evalkit.estimators.data import make_panel, read_panel_file
    from evalkit.io import atomic_write_text

    missing = [flag for flag, v in (("--unit", unit), ("--time", time), ("--outcome", outcome)) if not v]
    if missing:
        raise UsageError(f"--panel needs {', '.join(missing)}")
    frame = read_panel_file(path)
    covs = [c.strip() for c in covariates.split(",")] if covariates else []
    long = make_panel(frame, unit=unit, time=time, outcome=outcome, cohort=cohort, treated=treated, covariates=covs, source=path.name)
    options = {k: v for k, v in (("control", control), ("est_method", est_method)) if v is not None}
    if checks:
        from evalkit import sensitivity as sens

        options = sens.check_method(method, options, "--sensitivity" if checks["sensitivity"] else "--pretrend-test")
    result = stage.call_estimator(method, long, options, {"seed": seed, "bootstrap": bootstrap})
    if checks:
        sens.add_rows(result, sensitivity=checks["sensitivity"], pretrend=checks["pretrend"], alpha=0.05)
    text = result.to_json()
    if json_out == "-":
        sys.stdout.write(text)
        return
    if json_out:
        atomic_write_text(json_out, text)
    say(result.summary())


def _print_headlines(results_json: Path) -> None:
    import json

    doc = json.loads(results_json.read_text(encoding="utf-8"))
    if doc.get("synthetic_demo"):
        say("[bold yellow]SYNTHETIC DEMO DATA[/]")
    for a in doc["analyses"]:
        rows = {e["name"]: e for e in a["results"]["estimates"]}
        head = next((rows[n] for n in ("simple", "coef", "att", "pooled", "average") if n in rows), None)
        if head and head["estimate"] is not None:
            ci = f"[{head['ci_low']:.3f}, {head['ci_high']:.3f}]" if head.get("ci_low") is not None else ""
            say(f"  {a['label']:<28} {a['results']['outcome']:<24} {head['estimate']:>9.3f} {ci}")


# --- report -----------------------------------------------------------------------------------------

@app.command()
def report(
    plan: Annotated[Optional[Path], typer.Option("--plan", help="The plan whose results to report. Default: the demo plan, on demo data.")] = None,
    results_dir: Annotated[Optional[Path], typer.Option("--results", help="A results folder (reports/<name>) instead of a plan.")] = None,
) -> None:
    """Write report.html (self-contained, figures inline) and report.md with fig-*.svg beside results.json.

    Input: reports/<name>/results.json from `evalkit estimate`. Output: the same folder.
    """
    from evalkit import plan as plans
    from evalkit.report.render import render_report

    if results_dir is None:
        results_dir = REPORTS / plans.load_plan(_resolve_plan(plan))["plan"]["name"]
    results = results_dir / "results.json"
    if not results.exists():
        raise EvalkitError("no results; run `evalkit estimate` first", file=results)
    with data_lock(results_dir.parent):
        render_report(results, results_dir)
    say(f"report -> {results_dir / 'report.html'} and {results_dir / 'report.md'}")


# --- verify -----------------------------------------------------------------------------------------

@app.command()
def verify(report_dir: Annotated[Path, typer.Argument(help="A folder written by `evalkit estimate` and `evalkit report`.")]) -> None:
    """Rerun the recorded plan from its recorded inputs and compare every output byte for byte.

    Exits 0 when the rerun reproduces results.json, results.parquet, report.html, report.md and the
    figures exactly, 1 with the differences otherwise.
    """
    import json

    from evalkit import estimate as stage
    from evalkit import verify as verifier
    from evalkit.report.render import render_report

    def rerun(recorded: Path) -> Path:
        doc = json.loads((recorded / "results.json").read_text(encoding="utf-8"))
        fresh = Path(tempfile.mkdtemp(prefix="evalkit-verify-"))
        new = stage.run_plan(doc["plan"], command=doc["provenance"]["command"], plan_sha256=doc.get("plan_sha256"),
                             lock=doc.get("lock"), deviations=doc.get("deviations"))
        stage.write_results(new, fresh)
        render_report(fresh / "results.json", fresh)
        return fresh

    notes: list[str] = []
    differences = verifier.verify(report_dir, rerun, notes)
    if differences:
        err.print(f"[red]not reproduced[/]: {len(differences)} difference(s) in {report_dir}")
        for line in differences:
            err.print(f"  {line}", markup=False)
        raise typer.Exit(1)
    if notes:  # e.g. a report made on another processor: see evalkit/meaning.py
        say(f"reproduced in meaning: {len(notes)} output(s) in {report_dir} differ only in rounding")
        for line in notes:
            say(f"  {line}")
        return
    say(f"reproduced: every output in {report_dir} is byte-identical on rerun")


# --- plan -------------------------------------------------------------------------------------------

@plan_app.command("init")
def plan_init(path: Annotated[Path, typer.Argument(help="Where to write the commented template.")]) -> None:
    """Write a commented plan template (refuses to overwrite)."""
    from evalkit import plan as plans

    plans.init_plan(path)
    say(f"wrote {path}; edit it, then `evalkit plan lock {path}` before seeing any results")


@plan_app.command("lock")
def plan_lock(path: Annotated[Path, typer.Argument(help="The plan to lock.")]) -> None:
    """Record the plan's sha256 and a timestamp in PLAN.lock.json, to commit or deposit before results."""
    from evalkit import plan as plans

    plans.load_plan(path)
    lock = plans.lock_plan(path)
    say(f"locked {path} -> {lock}")


def main() -> None:
    """Console entry point: one line and exit 1 for bad data, exit 2 for bad usage."""
    terminate_as_interrupt()
    try:
        code = app(standalone_mode=False)
    except EvalkitError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        sys.exit(1)
    except UsageError as exc:
        sys.stderr.write(f"usage error: {exc}\n")
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in non-standalone mode
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # typer's vendored click exceptions
            exc.show()
            sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
        raise
    if isinstance(code, int) and code:  # typer returns (not raises) Exit codes in this mode
        if code == 130:
            err.print("aborted")
        sys.exit(code)


if __name__ == "__main__":
    main()
