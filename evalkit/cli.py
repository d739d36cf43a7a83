"""The command line: thin wiring of typer to the four stages. Exit 0 ok, 1 bad data, 2 bad usage."""

from __future__ import annotations

import math
import shlex
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from evalkit import methods
from evalkit.cli_coercion import PlainTyper
from evalkit.errors import EvalkitError, UsageError
from evalkit.locking import data_lock, terminate_as_interrupt

if TYPE_CHECKING:
    from rich.console import Console

# Choices shown in --help as [a|b] and checked by the parser; they come from the method registry.
MethodKey = Literal[methods.METHOD_KEYS]  # type: ignore[valid-type]
ControlChoice = Literal[methods.CONTROL_CHOICES]  # type: ignore[valid-type]
EstMethod = Literal["dr", "ipw", "reg"]
MatchMethod = Literal["mahalanobis", "propensity", "statistical_neighbours"]
Boundaries = Literal["aggregate", "separate"]
SnModel = Literal["2025", "2021"]

app = PlainTyper(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Independent evaluation of alternative delivery models of children's social care in England.\n\n"
    "Stages: ingest -> panel -> estimate -> report; each reads the previous stage's files on disk.\n\n"
    "\b\nExample (the whole job on the embedded synthetic demo data):\n"
    "  evalkit ingest && evalkit panel && evalkit estimate && evalkit report",
)
plan_app = PlainTyper(
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Pre-registered analysis plans: write a template, lock a plan, print the schema.",
)
app.add_typer(plan_app, name="plan", short_help="Write, lock and check analysis plans.")
STATE = {"quiet": False}

# Largest file evalkit reads for each thing a user names (checked with stat before opening it).
MAX_BYTES = {"--plan": 4 << 20, "--panel": 2 << 30, "--deflator": 16 << 20, "--registry": 16 << 20}


def _named_file(flag: str):
    """A typer callback: an existing path must be a regular file of bounded size (exit 2 otherwise);
    /dev/zero or a FIFO would otherwise be read for ever. A missing path is left to the stage's error."""

    def check(value: Path | None) -> Path | None:
        if value is None or (not value.exists() and not value.is_symlink()):
            return value
        from evalkit.io import user_file

        return user_file(value, flag, max_bytes=MAX_BYTES.get(flag))

    return check


def _caliper_value(value: str | None) -> str | None:
    """--caliper is 'auto' or a number of 0 or more: anything else is a usage error (exit 2)."""
    if value is None or value == "auto":
        return value
    try:
        number = float(value)
    except ValueError:
        raise UsageError(f"--caliper takes a number or 'auto', not {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise UsageError(f"--caliper takes a finite number of 0 or more, not {value!r}")
    return value


def _named_folder(flag: str):
    def check(value: Path | None) -> Path | None:
        if value is None or (not value.exists() and not value.is_symlink()):
            return value
        from evalkit.io import user_folder

        return user_folder(value, flag)

    return check


@cache
def _console(stderr: bool) -> Console:
    """rich is imported on first output, not at start-up (`evalkit --help` stays fast)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


class _Lazy:
    def __init__(self, stderr: bool) -> None:
        self.stderr = stderr

    def __getattr__(self, name: str):
        return getattr(_console(self.stderr), name)


err = _Lazy(stderr=True)
out = _Lazy(stderr=False)

PROCESSED = Path("data/processed")
REPORTS = Path("reports")
RELEASE_LOG = Path("releases") / "release_log.csv"  # = evalkit.releases.RELEASE_LOG (not imported at start-up)


def demo_plan() -> Path:
    return Path(__file__).parent / "plans" / "demo.toml"


@app.callback()
def _main(quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False) -> None:
    STATE["quiet"] = quiet


def say(text: str, markup: bool = True) -> None:
    if not STATE["quiet"]:
        out.print(text) if markup else out.print(text, markup=False, highlight=False, soft_wrap=True)


@contextmanager
def progress(label: str) -> Iterator:
    """A spinner with the current item; silent under --quiet or when output is not a terminal."""
    if STATE["quiet"] or not sys.stderr.isatty():
        yield lambda item: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=_console(True), transient=True
    ) as bar:
        task = bar.add_task(label)
        yield lambda item: bar.update(task, description=f"{label}: {item}")


@contextmanager
def counter(label: str, unit: str) -> Iterator:
    """A bar with elapsed and remaining time, for loops of known length; yields (start(total), advance(done)).
    Silent under --quiet or when stderr is not a terminal (CI logs get the summary lines only)."""
    if STATE["quiet"] or not sys.stderr.isatty():
        yield (lambda total: None), (lambda done, item=None: None)
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
        console=_console(True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def start(total: int) -> None:
            bar.update(task, total=total)

        def advance(done: int, item: str | None = None) -> None:
            bar.update(task, completed=done, description=f"{label}: {item}" if item else label)

        inner: dict[str, int] = {}  # one line per named inner loop (permutations, placebo draws, ...)

        def loop(name: str, done: int, total: int) -> None:
            if name not in inner:
                inner[name] = bar.add_task(f"  {name}", total=total)
            bar.update(inner[name], total=total, completed=done, visible=done < total)

        from evalkit import parallel

        with parallel.reporting(loop):
            yield start, advance


BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Where loops run: serial | processes | dask (default: EVALKIT_BACKEND, or dask when DASK_SCHEDULER_ADDRESS is set, else serial).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Local processes (processes backend) or LocalCluster workers (dask without --scheduler). Default: EVALKIT_JOBS or the number of CPUs.",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Address of a running Dask scheduler, e.g. tcp://host:8786 (default: DASK_SCHEDULER_ADDRESS).",
    ),
]


def _configure_parallel(backend: str | None, workers: int | None, scheduler: str | None) -> None:
    from evalkit import parallel

    if scheduler and backend not in (None, "dask"):
        raise UsageError("--scheduler needs --backend dask")
    parallel.configure(backend=backend or ("dask" if scheduler else None), workers=workers, scheduler=scheduler)
    parallel.settings()  # a bad EVALKIT_BACKEND is a usage error now, not mid-run


def command_line() -> str:
    """The command as typed, without the path of the executable (reports must not hold local paths)."""
    return " ".join(["evalkit", *map(shlex.quote, sys.argv[1:])])


# --- ingest -----------------------------------------------------------------------------------------


@app.command(short_help="Read the published files into tidy Parquet.")
def ingest(
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Folder of official files to read (searched recursively). Default: the embedded SYNTHETIC demo data.",
            callback=_named_folder("--from"),
        ),
    ] = None,
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch",
            help="Download the official publications into data/raw/ first (verified by sha256), then read them.",
        ),
    ] = False,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where the tidy Parquet files and manifest.json go.")
    ] = PROCESSED,
    mirror: Annotated[
        str | None,
        typer.Option(
            "--mirror",
            help="With --fetch: a base URL or folder holding the files at their catalogue paths (also EVALKIT_MIRROR).",
        ),
    ] = None,
    add: Annotated[
        bool,
        typer.Option(
            "--add",
            help="Merge: keep every source and every release of the current outputs; this folder's files add releases (a later release's revisions win, council-year by council-year). Default: the new set replaces the old one whole.",
        ),
    ] = False,
) -> None:
    """Read published files (Ofsted, CLA, CIN, workforce, population, spending, LA codes) into tidy Parquet.

    Inputs: the official files in their published layouts. Outputs: OUT/<source>.parquet, one per
    publication family, and OUT/manifest.json (each input's sha256, rows, parser and version).
    Files that are not a recognised publication are listed in the manifest as skipped.

    \b
    Example (the official files downloaded into a folder):
      evalkit ingest --from ../shared/data/reference
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
    say(
        f"ingested {len(manifest['files'])} file(s) into {out_dir}/: "
        + ", ".join(f"{k} ({v['rows']} rows)" for k, v in manifest["outputs"].items())
    )
    if manifest["skipped"]:
        say(
            f"skipped {len(manifest['skipped'])} file(s) that are not a recognised publication or are a copy"
            " of another (listed in manifest.json)"
        )
    from evalkit.revisions import describe

    for line in describe(manifest.get("changes") or {}):
        say(line)


# --- panel ------------------------------------------------------------------------------------------


@app.command(short_help="Build the council-year panel (and matched comparators).")
def panel(
    processed: Annotated[
        Path,
        typer.Option("--processed", help="Folder written by `evalkit ingest`.", callback=_named_folder("--processed")),
    ] = PROCESSED,
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            help="Extra registry rows (CSV, same columns as evalkit/data/adm_registry.csv).",
            callback=_named_file("--registry"),
        ),
    ] = None,
    match: Annotated[
        bool, typer.Option("--match/--no-match", help="Choose matched in-house comparators and write a balance table.")
    ] = True,
    match_method: Annotated[
        MatchMethod,
        typer.Option(
            "--match-method", help="How comparators are chosen; statistical_neighbours = DfE's published neighbours."
        ),
    ] = "mahalanobis",
    match_k: Annotated[int, typer.Option("--match-k", min=1, help="Comparators per treated council (1 or more).")] = 3,
    caliper: Annotated[
        str | None,
        typer.Option(
            "--caliper",
            help="Maximum distance in the method's units (Mahalanobis distance, logit-score difference, or DfE rank); 'auto' = 0.2 x SD of the logit, propensity only.",
            callback=_caliper_value,
        ),
    ] = None,
    replacement: Annotated[
        bool,
        typer.Option(
            "--with-replacement/--without-replacement", help="May one comparator serve several treated councils?"
        ),
    ] = True,
    sn_model: Annotated[SnModel, typer.Option("--sn-model", help="Statistical-neighbour model.")] = "2025",
    deflator: Annotated[
        Path | None,
        typer.Option(
            "--deflator",
            help="CSV financial_year,index (e.g. HM Treasury GDP deflators) for spend_csc_per_child_real.",
            callback=_named_file("--deflator"),
        ),
    ] = None,
    deflator_base: Annotated[
        int | None,
        typer.Option(
            "--deflator-base", help="Base year (year ending 31 March) for real terms; default the file's last year."
        ),
    ] = None,
    boundaries: Annotated[
        Boundaries,
        typer.Option(
            "--boundaries",
            help="Boundary changes: 'aggregate' follows reorganised areas as one unit over time (BCP+Dorset, Northamptonshire, Cumbria); 'separate' keeps successors as new units.",
        ),
    ] = "aggregate",
) -> None:
    """Build the council-year panel with outcomes, Ofsted grades in force and treatment timing.

    Inputs: PROCESSED/manifest.json and the Parquet files it lists; the registry of delivery models.
    Outputs: PROCESSED/panel.parquet, panel_diagnostics.json (coverage and missingness with reasons)
    and, with --match, matches.parquet and balance.parquet.

    \b
    Example (propensity-score matching, two comparators per council):
      evalkit panel --match-method propensity --match-k 2 --caliper auto
    """
    from evalkit.panel import build

    with data_lock(processed), progress("panel") as tick:
        tick("building")
        options = dict(method=match_method, k=match_k, replacement=replacement, caliper=caliper, sn_model=sn_model)
        diagnostics = build.run_stage(
            processed,
            registry=registry,
            policy=boundaries,
            deflator=deflator,
            deflator_base=deflator_base,
            match=options if match else None,
            tick=tick,
        )
    if diagnostics.get("synthetic_demo"):
        say("[bold yellow]SYNTHETIC DEMO DATA[/]")
    say(
        f"panel: {diagnostics['units']} councils x {diagnostics['years'][0]}-{diagnostics['years'][1]}, "
        f"{diagnostics['treated_units']} treated -> {processed / build.PANEL_FILE}"
    )
    from evalkit import generations

    say(f"  (the file of the generation in force: {generations.resolve(processed / build.PANEL_FILE)})", markup=False)
    flags = (diagnostics.get("anomalies") or {}).get("flags") or []
    if flags:
        say(
            f"  {len(flags)} unusual values flagged (spikes, level breaks): panel_diagnostics.json, anomalies",
            markup=False,
        )


# --- estimate ---------------------------------------------------------------------------------------


def _resolve_plan(plan: Path | None) -> Path:
    if plan is not None:
        return plan
    from evalkit import generations

    gen = generations.current_dir(PROCESSED)
    diag = gen / "panel_diagnostics.json" if gen is not None else None
    if (
        diag is not None
        and diag.is_file()
        and '"synthetic_demo": true' in diag.read_text(encoding="utf-8", errors="replace")
    ):
        return demo_plan()
    raise UsageError("give --plan PLAN (the default plan is only for the embedded demo data)")


def run_plan_into(
    plan_path: Path,
    out_root: Path,
    *,
    allow_deviations: bool,
    command: str,
    tick=None,
    cache_dir: Path | None = None,
    run_date: str | None = None,
) -> Path:
    """Run a plan and write its results into out_root/<plan name>/ (a dated run: .../<plan name>/<date>/),
    with the data vintage beside them (evalkit.vintage); returns that folder."""
    from evalkit import estimate as stage
    from evalkit.plan import open_plan
    from evalkit.vintage import write_vintage

    loaded = open_plan(plan_path, allow_deviations=allow_deviations)
    target = out_root / loaded.name if run_date is None else out_root / loaded.name / run_date
    stage.run(loaded, target, command=command, progress=tick, cache_dir=cache_dir)
    write_vintage(target, run_date=run_date)
    return target


def _run_date(value: str | None) -> str | None:
    """--run-date: an ISO date (YYYY-MM-DD), or `today` (UTC)."""
    if value is None:
        return None
    import datetime as dt

    if value == "today":
        return dt.datetime.now(dt.UTC).date().isoformat()
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise UsageError(f"--run-date {value!r} is not a date: give YYYY-MM-DD or `today`") from None


@app.command(short_help="Run a plan's analyses, or one method on any long panel.")
def estimate(
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Pre-registered plan (TOML). Default: the demo plan, on demo data.",
            callback=_named_file("--plan"),
        ),
    ] = None,
    allow_deviations: Annotated[
        bool,
        typer.Option(
            "--allow-deviations", help="Run a plan that changed since it was locked; the deviations are recorded."
        ),
    ] = False,
    panel_file: Annotated[
        Path | None,
        typer.Option(
            "--panel", help="Any long panel (CSV or Parquet) instead of a plan.", callback=_named_file("--panel")
        ),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Unit column (with --panel).")] = None,
    time: Annotated[str | None, typer.Option(help="Time column (with --panel).")] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="Outcome column (with --panel). Several, comma-separated, are a family of primary outcomes: one "
            "shared set of permuted adoption dates, and Romano-Wolf (Holm beside it) adjusted p-values."
        ),
    ] = None,
    cohort: Annotated[str | None, typer.Option(help="First-treated period column; 0 or empty = never treated.")] = None,
    treated: Annotated[
        str | None, typer.Option(help="0/1 column marking treated unit-periods (instead of --cohort).")
    ] = None,
    covariates: Annotated[str | None, typer.Option(help="Comma-separated covariate columns.")] = None,
    method: Annotated[
        MethodKey, typer.Option(help="Estimator (with --panel); `evalkit methods` lists them and their options.")
    ] = "cs",
    control: Annotated[
        ControlChoice | None,
        typer.Option(help="Comparison units: never treated, or not yet treated (cs, sunab, synth_staggered)."),
    ] = None,
    est_method: Annotated[
        EstMethod | None,
        typer.Option("--est-method", help="cs: doubly robust, inverse probability weighting or outcome regression."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="KEY=VALUE",
            help="Any other option of the method as KEY=VALUE (a TOML value), repeatable.",
        ),
    ] = None,
    bootstrap: Annotated[
        int,
        typer.Option(min=0, max=methods.MAX_DRAWS, help="Bootstrap draws where the method has them (0 = analytic)."),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Random seed, recorded in the output.")] = methods.DEFAULT_SEED,
    alpha: Annotated[
        float, typer.Option(help="Significance level: intervals are (1 - alpha) x 100 per cent.")
    ] = methods.DEFAULT_ALPHA,
    interval: Annotated[
        Literal["auto", "auto-size", "analytic", "randomization", "wild", "studentized", "ferman_pinto"],
        typer.Option(
            help="The default interval (the one to quote): auto-size (default; fewer than 40 treated units: the interval that kept its size when treated councils differ in size, benchmarks/SIZE.md) | auto (plans v1-v3: fewer than 40, coefficient randomisation) | analytic | randomization | studentized | ferman_pinto | wild (TWFE only)."
        ),
    ] = "auto-size",
    permutations: Annotated[
        int,
        typer.Option(
            min=1, max=methods.MAX_DRAWS, help="Permutations for randomisation intervals (placebo draws for SDID)."
        ),
    ] = 199,
    size_column: Annotated[
        str | None,
        typer.Option(
            "--size-column",
            help="Column giving each unit's size (e.g. child population): the ferman_pinto interval's variance model.",
        ),
    ] = None,
    size_fit_identified: Annotated[
        bool,
        typer.Option(
            "--size-fit-identified",
            help="With --size-column: fit the variance model on units whose residual variance is identified "
            "(two or more untreated periods, above rounding), as [inference] size_fit_identified = true.",
        ),
    ] = False,
    hagemann_rho: Annotated[
        float | None,
        typer.Option(
            "--hagemann-rho",
            min=1.0,
            help="With --panel and a size-keeping interval: estimates resting on one treated unit get Hagemann's "
            "rearrangement interval, allowing that unit up to RHO times every comparison unit's standard deviation "
            '(an assumption, not estimated). In a plan: [inference] one_council = "hagemann", hagemann_rho = RHO.',
        ),
    ] = None,
    json_out: Annotated[
        str | None, typer.Option("--json", help="Write results as JSON to this file ('-' = stdout).")
    ] = None,
    out_root: Annotated[Path, typer.Option("--out", help="Where plan results go (reports/<plan name>/).")] = REPORTS,
    sensitivity: Annotated[
        Literal["rm", "sd"] | None,
        typer.Option(
            "--sensitivity",
            help="With --panel: Rambachan-Roth sensitivity of the event study, relative magnitudes or smoothness; methods cs, sunab, twfe_es.",
        ),
    ] = None,
    mbar: Annotated[
        str | None, typer.Option("--mbar", help="--sensitivity rm: comma-separated Mbar values (default 0.5,1,1.5,2).")
    ] = None,
    m_values: Annotated[
        str | None,
        typer.Option("--m", help="--sensitivity sd: comma-separated M values, outcome units per period (required)."),
    ] = None,
    sensitivity_target: Annotated[
        Literal["first", "average"] | None,
        typer.Option(
            "--sensitivity-target", help="The first post-period effect (default), or the average of the post periods."
        ),
    ] = None,
    sensitivity_covariance: Annotated[
        Literal["analytic", "permutation"] | None,
        typer.Option(
            "--sensitivity-covariance",
            help="The event study's covariance for --sensitivity: analytic (default) or permutation (from the "
            "randomisation interval's permuted adoption dates; valid with few treated units).",
        ),
    ] = None,
    also_first: Annotated[
        bool,
        typer.Option(
            "--also-first",
            help="With --sensitivity-target average: the first post-move year's breakdown beside the average's, "
            "labelled (the verdict's number stays the average).",
        ),
    ] = False,
    equivalence_rms: Annotated[
        bool,
        typer.Option(
            "--equivalence-rms",
            help="With --panel: Dette & Schumann's RMS pre-trend equivalence test (event-study methods): the "
            "smallest root-mean-square pre-move departure that the data reject at alpha.",
        ),
    ] = False,
    pretrend_test: Annotated[
        bool,
        typer.Option(
            "--pretrend-test",
            help="With --panel: analytic Wald test of the pre-period event-study coefficients (a 'pretrend' row; a "
            "diagnostic: with few treated units the permutation pre-trend test of the randomisation interval is "
            "the valid one).",
        ),
    ] = False,
    backend: BackendOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    use_cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Reuse analyses whose exact inputs (data, options, evalkit code) are unchanged, from OUT/.cache/.",
        ),
    ] = True,
    run_date: Annotated[
        str | None,
        typer.Option(
            "--run-date",
            help="A dated run of the locked plan (YYYY-MM-DD or `today`): results go to OUT/<name>/<date>/ with the data vintage.",
        ),
    ] = None,
) -> None:
    """Run the estimators: the analyses of a plan on the council panel, or one method on any long panel.

    With a plan: reads the panel it names and writes OUT/<name>/results.json and results.parquet.
    With --panel: prints a results table, and with --json writes every estimate with its name,
    estimate, se, ci_low, ci_high and the options and seed used.

    \b
    Examples:
      evalkit estimate --plan plans/england-adm.toml
      evalkit estimate --panel df_het.csv --unit unit --time year --outcome dep_var \\
        --cohort g --method cs --est-method dr --bootstrap 999 --json -
    """
    checks = _event_study_checks(
        method, sensitivity, mbar, m_values, sensitivity_target, pretrend_test, sensitivity_covariance, also_first
    )
    if size_fit_identified and not size_column:
        raise UsageError("--size-fit-identified goes with --panel and --size-column (in a plan: [inference])")
    if hagemann_rho is not None and (
        panel_file is None or interval not in ("auto-size", "studentized", "ferman_pinto")
    ):
        raise UsageError(
            "--hagemann-rho goes with --panel and --interval auto-size, studentized or ferman_pinto; in a plan use "
            '[inference] one_council = "hagemann" and hagemann_rho'
        )
    if panel_file is not None:
        options = {k: v for k, v in (("control", control), ("est_method", est_method)) if v is not None}
        options.update(_parse_options(option or []))
        _estimate_any_panel(
            panel_file,
            unit,
            time,
            outcome,
            cohort,
            treated,
            covariates,
            method,
            options,
            {
                "seed": seed,
                "bootstrap": bootstrap,
                "alpha": alpha,
                "interval": interval,
                "permutations": permutations,
                **({"size_column": size_column} if size_column else {}),
                **({"size_fit_identified": True} if size_fit_identified else {}),
                **({"one_council": "hagemann", "hagemann_rho": hagemann_rho} if hagemann_rho is not None else {}),
            },
            json_out,
            checks,
            rms=equivalence_rms,
        )
        return
    if checks or equivalence_rms or size_fit_identified:
        raise UsageError(
            "--sensitivity, --mbar, --m, --sensitivity-target, --also-first, --pretrend-test, --equivalence-rms "
            "and --size-fit-identified go with --panel; in a plan use the analysis's sensitivity table and "
            "[inference]"
        )
    _configure_parallel(backend, workers, scheduler)
    plan_path = _resolve_plan(plan)
    with data_lock(out_root), counter("estimate", "analyses") as (start, advance):
        seen: list[str] = []

        def tick(label: str) -> None:  # called as each analysis starts
            if not seen:
                from evalkit import plan as plans

                start(len(plans.load_plan(plan_path)["analysis"]))
            advance(len(seen), label)
            seen.append(label)

        target = run_plan_into(
            plan_path,
            out_root,
            allow_deviations=allow_deviations,
            command=command_line(),
            tick=tick,
            cache_dir=out_root / ".cache" if use_cache else None,
            run_date=_run_date(run_date),
        )
    _print_headlines(target / "results.json")
    say(f"results -> {target}/results.json, results.parquet")


def _parse_options(items: list[str]) -> dict[str, object]:
    """KEY=VALUE pairs; VALUE is read as TOML (3, 0.1, true, [1, 2], "x") and otherwise kept as text."""
    import tomllib

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = value
    return out


def _event_study_checks(
    method, sensitivity, mbar, m_values, target, pretrend, covariance=None, also_first=False
) -> dict | None:
    """The --sensitivity / --pretrend-test request, checked before any data is read (exit 2 if it cannot apply)."""
    from evalkit.analysis import sensitivity as sens

    if sensitivity is None:
        stray = [
            flag
            for flag, v in (
                ("--mbar", mbar),
                ("--m", m_values),
                ("--sensitivity-target", target),
                ("--sensitivity-covariance", covariance),
                ("--also-first", also_first or None),
            )
            if v is not None
        ]
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
    if covariance is not None:
        spec["covariance"] = covariance
    if also_first:
        spec["also_first"] = True
    if mbar is not None:
        spec["mbar"] = sens.parse_values(mbar, "--mbar")
    if m_values is not None:
        spec["m"] = sens.parse_values(m_values, "--m")
    try:
        spec = sens.check_spec(spec)
    except ValueError as exc:
        flag = (
            "--also-first"
            if "also_first" in str(exc)
            else "--m"
            if "needs m" in str(exc)
            else "--sensitivity-target"
            if "target" in str(exc)
            else "--sensitivity"
        )
        raise UsageError(f"{flag}: {exc}") from None
    sens.check_method(method, {}, "--sensitivity")
    return {"sensitivity": spec, "pretrend": pretrend}


def _estimate_any_panel(
    path, unit, time, outcome, cohort, treated, covariates, method, options, inference, json_out, checks=None, rms=False
) -> None:
    from evalkit.analysis.estimator import check_panel_method
    from evalkit.analysis.run import run
    from evalkit.estimators.data import make_panel, read_panel_file
    from evalkit.io import atomic_write_text

    check_panel_method(method)  # refused before anything is read
    missing = [flag for flag, v in (("--unit", unit), ("--time", time), ("--outcome", outcome)) if not v]
    if missing:
        raise UsageError(f"--panel needs {', '.join(missing)}")
    outcomes = _outcome_family(outcome)
    from evalkit.analysis.intervals import choose

    choose(inference.get("interval"), method, 0)  # refuses an interval the method cannot compute, before reading
    if rms:
        from evalkit.analysis import sensitivity as sens

        sens.check_method(method, {}, "--equivalence-rms")
    covs = [c.strip() for c in covariates.split(",")] if covariates else []
    if covs and not methods.get(method).covariates:  # refuse before reading anything
        raise UsageError(
            f"--covariates cannot be used with --method {method}: it does not adjust for covariates "
            f"(use {', '.join(k for k, m in methods.METHODS.items() if m.covariates)})"
        )
    frame = read_panel_file(path)
    # the studentized sums from each unit's contribution in one pass (same p-values, ~1e-15 relative apart
    # from one column per unit; ~10x less CPU on CS): no locked plan to reproduce on the command line
    inference = {**inference, "studentized_by_unit": True}
    if inference.get("size_column"):  # each unit's size for the Ferman-Pinto interval
        from evalkit.analysis.run import unit_sizes

        if unit not in frame.columns:
            raise UsageError(f"{path.name}: no column {unit!r} (--unit)")
        sized = frame.rename({unit: "unit_code"}) if unit != "unit_code" else frame
        sizes = {str(k): v for k, v in unit_sizes(sized, inference["size_column"]).items()}
        bad = sorted(u for u, v in sizes.items() if not (math.isfinite(v) and v > 0))
        if bad:
            raise EvalkitError(
                f"unit {bad[0]} has size {sizes[bad[0]]:g}"
                + (f" ({len(bad) - 1} more units too)" if len(bad) > 1 else ""),
                file=path.name,
                column=inference["size_column"],
                expected="a positive size for every unit (--size-column)",
            )
        inference = {**inference, "unit_size": sizes}
    longs = {
        y: make_panel(
            frame, unit=unit, time=time, outcome=y, cohort=cohort, treated=treated, covariates=covs, source=path.name
        )
        for y in outcomes
    }
    for col in [*outcomes, *covs]:
        _finite_or_empty(frame, col, path.name)
    gaps = {}
    for y, long in longs.items():
        longs[y], gaps[y] = _observed_rows(long)
    if checks:
        from evalkit.analysis import sensitivity as sens

        options = sens.check_method(method, options, "--sensitivity" if checks["sensitivity"] else "--pretrend-test")
    if checks and (checks["sensitivity"] or {}).get("covariance") == "permutation":
        from evalkit.analysis.intervals import KEEP_DRAWS

        inference = {**inference, KEEP_DRAWS: True}  # the permuted estimates give the covariance
    if len(outcomes) > 1:
        inference = _family_inference(inference, longs)
    results = {y: _run_one(method, long, options, inference, checks, rms, run) for y, long in longs.items()}
    for y, gap in gaps.items():
        if gap:
            results[y].diagnostics["rows_without_outcome"] = gap
    if len(outcomes) > 1:
        _say_family(results, outcomes, inference, json_out, method, options)
        return
    result = results[outcomes[0]]
    text = result.to_json()
    if json_out == "-":
        sys.stdout.write(text)
        return
    if json_out:
        atomic_write_text(json_out, text)
    say(result.summary())
    _print_rule_line(result, method, options)
    _print_rms_line(result, float(inference.get("alpha", methods.DEFAULT_ALPHA)))


def _finite_or_empty(frame, column: str, source: str) -> None:
    """NaN or infinity in a value column is refused with its row (an empty cell is a missing value; "NaN" is
    not one: it would pass as a number and turn every permutation residual of its unit into NaN)."""
    import polars as pl

    if column not in frame.columns or not (frame[column].dtype.is_float() or frame[column].dtype == pl.Utf8):
        return
    value = pl.col(column).cast(pl.Float64, strict=False)  # text: as make_panel reads it ("-Infinity" too)
    bad = frame.with_row_index("__row").filter(value.is_nan() | value.is_infinite())
    if bad.height:
        raise EvalkitError(
            f"is {bad[column][0]}",
            file=source,
            row=int(bad["__row"][0]) + 2,
            column=column,
            expected="a finite number, or an empty cell for a missing value",
        )


def _observed_rows(long):
    """The rows with a value of the outcome. An empty cell is no observation: the point estimators skip it,
    but the permutation intervals' two-way residuals would be NaN for its unit (studentised intervals 30x too
    wide, Ferman-Pinto refused), so it leaves here, as a plan's sample leaves it, and stderr says so."""
    import polars as pl

    from evalkit.estimators.data import LongPanel

    empty = long.data.filter(pl.col("y").is_null())
    if not empty.height:
        return long, None
    kept = long.data.filter(pl.col("y").is_not_null())
    gone = sorted(set(empty["unit"].to_list()) - set(kept["unit"].to_list()))
    if not STATE["quiet"]:  # stderr: stdout may be the JSON
        shown = ", ".join(gone[:10]) + (f" and {len(gone) - 10} more" if len(gone) > 10 else "")
        err.print(
            f"{long.outcome}: {empty.height} row(s) with no value left out"
            + (f"; {len(gone)} unit(s) have none: {shown}" if gone else "")
        )
    return LongPanel(kept, long.outcome, long.covariates), {"rows": empty.height, "units_without_any": gone}


def _outcome_family(outcome: str) -> list[str]:
    """--outcome: one column, or several comma-separated (a family), each named once."""
    names = [o.strip() for o in outcome.split(",")]
    if any(not n for n in names):
        raise UsageError(f"--outcome {outcome!r}: an empty name between commas")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"--outcome names {twice[0]!r} twice")
    return names


def _family_inference(inference: dict, longs: dict) -> dict:
    """A family's runs permute one shared set of adoption dates over every unit of any outcome's panel (as a
    plan's [inference] family with shared_size_draws), so each outcome's permuted statistics are draws
    of one joint null and the Romano-Wolf stepdown applies. A unit given two adoption dates is refused. The
    pre-trend test draws among each outcome's own units (pretrend_draws = "own"): on the shared draws it
    over-rejects where an outcome's panel holds part of the family's treated units (benchmarks/FWER.md)."""
    from evalkit.analysis.intervals import KEEP_DRAWS, PRETREND_DRAWS, SHARED_SIZE, UNIVERSE, UNIVERSE_SIZES

    universe: dict = {}
    for y, long in longs.items():
        for unit_code, first in long.unit_cohorts().items():
            if universe.setdefault(unit_code, first) != first:
                raise UsageError(f"unit {unit_code!r} has two adoption dates across the outcomes (at {y!r})")
    out = {**inference, KEEP_DRAWS: True, UNIVERSE: universe, SHARED_SIZE: True, PRETREND_DRAWS: "own"}
    if inference.get("unit_size"):
        out[UNIVERSE_SIZES] = inference["unit_size"]
    return out


def _run_one(method, long, options, inference, checks, rms, run):
    """One outcome's run as `estimate --panel` makes it: incomplete donors dropped where the method needs
    complete ones (said on stderr), the requested checks, and the RMS equivalence test when asked."""
    dropped: list[str] = []
    if methods.get(method).complete_donors:  # as a plan's sample: incomplete donors leave, and say so
        from evalkit.estimators.data import drop_incomplete_donors

        long, dropped = drop_incomplete_donors(long)
        if dropped and not STATE["quiet"]:  # stderr: stdout may be the JSON
            shown = ", ".join(dropped[:10]) + (f" and {len(dropped) - 10} more" if len(dropped) > 10 else "")
            err.print(
                f"{long.outcome}: dropped {len(dropped)} never-treated unit(s) with the outcome missing in some "
                f"period: {shown}"
            )
    result = run(method, long, options, inference, checks=checks)
    if rms:
        from evalkit.analysis.pretrend import add_rms_equivalence

        add_rms_equivalence(method, long, options, inference, result)
    if dropped:
        result.diagnostics["donors_dropped_incomplete"] = dropped
    return result


def _say_family(results: dict, outcomes: list[str], inference: dict, json_out, method: str, options: dict) -> None:
    """A family's results: each outcome's table, then every outcome's adjusted p-value (JSON: both)."""
    from evalkit.analysis.verdict import adjusted_p
    from evalkit.io import atomic_write_text, dumps_json

    alpha = float(inference.get("alpha", methods.DEFAULT_ALPHA))
    adjusted = adjusted_p(
        [{"label": y, "results": results[y].to_dict()} for y in outcomes], outcomes, alpha
    )  # {} when fewer than two outcomes have a p-value
    doc = {
        "family": {"outcomes": outcomes, "adjusted": adjusted},
        "results": {y: results[y].to_dict() for y in outcomes},
    }
    if json_out == "-":
        sys.stdout.write(dumps_json(doc))
        return
    if json_out:
        atomic_write_text(json_out, dumps_json(doc))
    for y in outcomes:
        say(results[y].summary())
        _print_rule_line(results[y], method, options)
        _print_rms_line(results[y], alpha)
        say("")
    if not adjusted:
        say("family: fewer than two outcomes have a p-value, so no adjusted p-values", markup=False)
        return
    first = adjusted[next(iter(adjusted))]
    say(f"family of {first['family_size']} outcomes, adjusted p-values: {first['method']}", markup=False)
    for y in outcomes:
        a = adjusted.get(y)
        if a is None:
            say(f"  {y}: no p-value (not in the adjustment)", markup=False)
            continue
        rw = f", Romano-Wolf {a['romano_wolf']:.3g}" if "romano_wolf" in a else ""
        say(f"  {y}: p {a['p']:.3g}, Holm {a['holm']:.3g}{rw} (used: {a['used']:.3g})", markup=False)


def _print_rms_line(result, alpha: float) -> None:
    """--equivalence-rms: the smallest RMS pre-move departure the data reject, or why there is none."""
    from evalkit.analysis.pretrend import RMS_KEY

    rms = result.inference.get(RMS_KEY)
    if rms is None:
        return
    if rms.get("refused"):
        say(f"RMS pre-trend equivalence: not computed ({rms['refused']})", markup=False)
        return
    say(
        f"RMS pre-trend equivalence (Dette & Schumann 2024): pre-move departures with a root mean square of "
        f"{rms['threshold']:.4g} or more are rejected at the {alpha:g} level "
        f"(event times {', '.join(str(e) for e in rms['event_times'])})",
        markup=False,
    )


def _print_rule_line(result, method: str, given: dict) -> None:
    """The decision rule's row (the default interval and its p-value) and every setting the run used that
    was not given on the command line: a plan states these, so a difference from a plan is visible."""
    from evalkit.analysis.verdict import headline, interval_words

    head = headline({"estimates": result.estimates.to_dicts()})
    if head is not None and head.get("estimate") is not None:
        ci = (
            f"[{head['ci_low']:.4g}, {head['ci_high']:.4g}]"
            if head.get("ci_low") is not None and head.get("ci_high") is not None
            else "no interval"
        )
        p = "" if head.get("p_value") is None else f", p = {head['p_value']:.3g}"
        say(
            f"rule's estimate: {head['estimate']:.4g}, {interval_words(head)} {ci}{p} (row {head['name']})",
            markup=False,
        )
    defaults = {k: v for k, v in sorted(result.options.items()) if k not in given and not isinstance(v, (list, dict))}
    if defaults:
        shown = ", ".join(f"{k}={v}" for k, v in defaults.items())
        say(
            f"settings not given here, the method's defaults (a plan may set them otherwise; "
            f"change with --option KEY=VALUE): {shown}",
            markup=False,
        )


def _print_headlines(results_json: Path) -> None:
    """One line per pre-registered question, from the stored answers (the rule's interval and p)."""
    import json

    from evalkit.answers import terminal_table

    doc = json.loads(results_json.read_text(encoding="utf-8"))
    if doc.get("synthetic_demo"):
        say("[bold yellow]SYNTHETIC DEMO DATA[/]")
    if (doc.get("answers") or {}).get("questions"):
        for line in terminal_table(doc).splitlines():
            say("  " + line, markup=False)


# --- multiverse -------------------------------------------------------------------------------------


@app.command()
def multiverse(
    plan: Annotated[
        Path, typer.Option("--plan", help="A plan with a [multiverse] table.", callback=_named_file("--plan"))
    ],
    max_specs: Annotated[
        int | None,
        typer.Option("--max-specs", help="Override the plan's max_specs (a seeded random subset when there are more)."),
    ] = None,
    out_root: Annotated[Path, typer.Option("--out", help="Where results go (reports/<plan name>/).")] = REPORTS,
    backend: BackendOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Run every specification the plan's [multiverse] table defines, with the plan's inference.

    Outputs in OUT/<name>/: multiverse.parquet (one row per specification: its choices, estimate,
    interval, p-value, treated councils used), multiverse.json (how specifications were chosen and the
    summary) and fig-multiverse.svg (the specification curve). `evalkit report` then states the summary.
    """
    from evalkit import plan as plans
    from evalkit.multiverse import write_multiverse
    from evalkit.report.multiverse import sentences

    _configure_parallel(backend, workers, scheduler)
    doc_plan = plans.load_plan(plan)
    if "multiverse" not in doc_plan:
        raise UsageError(f"{plan} has no [multiverse] table")
    plans.check_against_lock(plan, allow_deviations=False)
    if max_specs is not None:
        if max_specs < 1:
            raise UsageError("--max-specs must be at least 1")
        doc_plan["multiverse"]["max_specs_in_plan"] = doc_plan["multiverse"]["max_specs"]
        doc_plan["multiverse"]["max_specs"] = max_specs
    target = out_root / doc_plan["plan"]["name"]
    with data_lock(out_root), counter("multiverse", "specifications") as (start, advance):
        doc = write_multiverse(doc_plan, target, on_start=start, on_result=advance)
    note = doc["specifications"]
    say(
        f"{len(doc['rows'])} specification(s) ({note['subset']}; {note['distinct_specifications']} distinct, "
        f"{note['not_applicable_combinations']} combinations not applicable)"
    )
    for line in sentences(doc["summary"], note["outcome"]):
        say("  " + line)
    say(f"multiverse -> {target}/multiverse.parquet, multiverse.json, fig-multiverse.svg")


# --- report -----------------------------------------------------------------------------------------


@app.command(short_help="Print the answer to each pre-registered question from results.json.")
def answer(
    report_dir: Annotated[Path, typer.Argument(help="A folder written by `evalkit estimate` (reports/<name>).")],
) -> None:
    """Print one line per pre-registered question: verdict, effect, the rule's interval and p-value, the
    treated councils' level before the move, how many councils. Read from the answers stored in
    results.json, the same values the report renders.

    \b
    Example:
      evalkit answer reports/england-adm-v3
    """
    import json

    from evalkit.answers import VERDICTS, terminal_table

    path = report_dir / "results.json"
    if not path.is_file():
        raise EvalkitError("no results; run `evalkit estimate` first", file=path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    if not (doc.get("answers") or {}).get("questions"):
        raise EvalkitError(
            "no stored answers (results written before answers existed, or a plan with no primary analysis)",
            file=path,
            column="answers",
            expected="results.json from this version of `evalkit estimate`",
        )
    sys.stdout.write(terminal_table(doc) + "\n\n")
    for word, meaning in VERDICTS.items():
        sys.stdout.write(f"{word}: {meaning}.\n")


@app.command(short_help="Write report.html and report.md from results.json.")
def report(
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="The plan whose results to report. Default: the demo plan, on demo data.",
            callback=_named_file("--plan"),
        ),
    ] = None,
    results_dir: Annotated[
        Path | None,
        typer.Option(
            "--results",
            help="A results folder (reports/<name>) instead of a plan.",
            callback=_named_folder("--results"),
        ),
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write the report into this folder (default: the results folder).")
    ] = None,
) -> None:
    """Write report.html (self-contained, figures inline) and report.md with fig-*.svg beside results.json.

    Input: reports/<name>/results.json from `evalkit estimate`. Output: the same folder, or --out.

    \b
    Example:
      evalkit report --plan plans/england-adm.toml
      evalkit report --results reports/england-adm-v3 --out for-the-council
    """
    from evalkit.plan import open_plan
    from evalkit.report.render import render_report

    if results_dir is None:
        results_dir = REPORTS / open_plan(_resolve_plan(plan), allow_deviations=True).name
    results = results_dir / "results.json"
    if not results.exists():
        raise EvalkitError("no results; run `evalkit estimate` first", file=results)
    target = out_dir if out_dir is not None else results_dir
    with data_lock(results_dir.parent):
        render_report(results, target)
    say(f"report -> {target / 'report.html'} and {target / 'report.md'}")


# --- releases and update ----------------------------------------------------------------------------

EesApiOpt = Annotated[
    str | None, typer.Option("--ees-api", help="Base URL of the EES public API (default: EVALKIT_EES_API or DfE's).")
]
GovukApiOpt = Annotated[
    str | None,
    typer.Option("--govuk-api", help="Base URL of GOV.UK's Content API (default: EVALKIT_GOVUK_API or GOV.UK's)."),
]
LogOpt = Annotated[Path, typer.Option("--log", help="The release log (committed with the project).")]


@app.command(short_help="List, per catalogued source, the release in force and any newer one.")
def releases(ees_api: EesApiOpt = None, govuk_api: GovukApiOpt = None, log: LogOpt = RELEASE_LOG) -> None:
    """Ask each release feed (evalkit/data/release_feeds.toml: DfE's explore-education-statistics API,
    GOV.UK pages' attachments) for its newest release and compare it with the release in force (the
    catalogue's files and the release log). Changes nothing. Unreachable: one line, exit 1.

    \b
    Example:
      evalkit releases
    """
    from evalkit import updates
    from evalkit.releases import read_log

    ees, govuk = updates.default_apis()
    statuses = updates.check(
        updates.load_feeds(), log=read_log(log), ees_api=ees_api or ees, govuk_api=govuk_api or govuk
    )
    for s in statuses:
        latest = s.latest
        offered = (
            "nothing matched (check the feed)"
            if latest is None
            else f"release {latest.release} version {latest.version} ({latest.date or 'no date'})"
        )
        state = "NEW" if s.new else "up to date"
        say(f"{s.feed.name} ({s.feed.source}): in force {s.in_force or 'none'}; offered {offered}: {state}")


@app.command(short_help="Download newer releases into data/raw/ and record them in the release log.")
def update(
    ees_api: EesApiOpt = None,
    govuk_api: GovukApiOpt = None,
    log: LogOpt = RELEASE_LOG,
    raw: Annotated[Path, typer.Option("--raw", help="Where downloads go.")] = Path("data/raw"),
) -> None:
    """Download every release newer than the one in force into data/raw/<folder>/ and append each to the
    release log (source, release, version, date, URL, sha256, size): trusted on first use, pinned from
    then on. Then `evalkit ingest --from data/raw --add` merges it. Unreachable: one line naming what could
    not be checked, exit 1, nothing changed.

    \b
    Example:
      evalkit update && evalkit ingest --from data/raw --add
    """
    from evalkit import updates
    from evalkit.releases import read_log

    ees, govuk = updates.default_apis()
    apis = {"ees_api": ees_api or ees, "govuk_api": govuk_api or govuk}
    feeds = updates.load_feeds()
    updates.check_pinned(raw, read_log(log))
    if not any(s.new for s in updates.check(feeds, log=read_log(log), **apis)):  # nothing written, not even a lock
        say("no new release")
        return
    with data_lock(raw):
        rows = updates.update(feeds, raw=raw, log_path=log, say=say, **apis)
    say(f"{len(rows)} new release(s) recorded in {log}" if rows else "no new release")


# --- diff -------------------------------------------------------------------------------------------


@app.command(name="diff", short_help="What changed between two runs of a plan: data and findings.")
def diff_cmd(
    old: Annotated[Path, typer.Argument(help="The earlier run's folder (reports/<name> or reports/<name>/<date>).")],
    new: Annotated[Path, typer.Argument(help="The later run's folder; changes.json is written here.")],
) -> None:
    """Compare two runs of a plan: the data (sources and releases, council-years added and revised, the
    largest revisions) and the findings (each analysis: old and new estimate, interval and verdict; which
    verdicts flipped). Prints a table and writes NEW/changes.json, which `evalkit report` puts at the top of
    NEW's report as "Since the last run".

    \b
    Example:
      evalkit diff reports/england-adm/2025-12-01 reports/england-adm/2026-12-07
    """
    from evalkit import diff as stage

    changes = stage.diff_runs(old, new)
    with data_lock(new.parent):
        stage.write_changes(changes, new)
    if not STATE["quiet"]:
        stage.print_changes(changes, _console(stderr=False))
    say(f"changes -> {new / stage.CHANGES} (run `evalkit report --results {new}` to put them in its report)")


# --- verify -----------------------------------------------------------------------------------------


@app.command(short_help="Rerun a report and compare every output byte for byte.")
def verify(
    report_dir: Annotated[Path, typer.Argument(help="A folder written by `evalkit estimate` and `evalkit report`.")],
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan", help="The plan file (default: the one results.json names).", callback=_named_file("--plan")
        ),
    ] = None,
    backend: BackendOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Rerun the recorded plan from its recorded inputs and compare every output byte for byte.

    Exits 0 when the rerun reproduces results.json, results.parquet, report.html, report.md and the
    figures exactly, 1 with the differences otherwise.

    \b
    Example:
      evalkit verify reports/demo
    """

    from evalkit import estimate as stage
    from evalkit import verify as verifier
    from evalkit.report.render import render_report

    doc = verifier.read_results(report_dir)
    # Recomputed, never copied: the plan's hash, lock and deviations and the inputs' hashes as they are now.
    loaded, claims = verifier.recompute(doc, plan)

    def rerun(recorded: Path) -> Path:
        """The same run as `estimate`, from the plan and its lock as they are now."""
        fresh = Path(tempfile.mkdtemp(prefix="evalkit-verify-"))
        command = (doc.get("provenance") or {}).get("command") or "evalkit estimate"
        stage.run(loaded, fresh, command=command)
        if (recorded / "multiverse.json").exists() and loaded.plan.get("multiverse"):
            from evalkit.multiverse import write_multiverse

            write_multiverse(loaded.plan, fresh)  # the multiverse is rerun too, never copied
        render_report(fresh / "results.json", fresh)
        return fresh

    _configure_parallel(backend, workers, scheduler)
    notes: list[str] = []
    differences = claims + verifier.verify(report_dir, rerun, notes)
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


# --- power ------------------------------------------------------------------------------------------


@app.command()
def power(
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="The plan whose primary analyses to assess. Default: the demo plan, on demo data.",
            callback=_named_file("--plan"),
        ),
    ] = None,
    draws: Annotated[
        int | None,
        typer.Option(min=1, max=methods.MAX_DRAWS, help="Placebo draws (default: the plan's [power] draws, else 200)."),
    ] = None,
    permutations: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=methods.MAX_DRAWS,
            help="Override the plan's permutations inside each draw (for a quicker, coarser run; recorded).",
        ),
    ] = None,
    effects: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated true effects for the power curve (default: the plan's, else multiples of the MDE)."
        ),
    ] = None,
    out_root: Annotated[Path, typer.Option("--out", help="Where results go (reports/<plan name>/).")] = REPORTS,
) -> None:
    """Design-based power and minimum detectable effect (MDE) of the plan's primary analyses.

    Gives the treated councils' adoption dates to randomly drawn never-treated councils (cohort sizes
    kept), adds known effects and runs the plan's own analyses and default intervals. Writes
    OUT/<name>/power.json and power.parquet (rejection rate against effect, MDE at 80% power).
    """
    from evalkit import plan as plans
    from evalkit import power as pw

    plan_doc = plans.load_plan(_resolve_plan(plan))
    if effects:
        try:
            plan_doc["power"] = {**(plan_doc.get("power") or {}), "effects": [float(e) for e in effects.split(",")]}
        except ValueError:
            raise UsageError(f"--effects must be numbers separated by commas, not {effects!r}") from None
    from evalkit import generations
    from evalkit.io import inside_project
    from evalkit.panel.build import read_parquet_checked

    panel_path = inside_project(plan_doc["data"]["panel"], column="data.panel")
    panel_file = generations.resolve(panel_path)
    if not panel_file.is_file():
        raise EvalkitError("panel not found; run `evalkit panel` first", file=panel_path)
    frame = read_parquet_checked(panel_file)
    from evalkit.analysis.sample import sample_panel

    sample, _ = sample_panel(frame, plan_doc.get("sample", {}))
    with counter("power", "primary analyses") as (start, advance):
        seen: list[str] = []

        def tick(label: str) -> None:  # called as each primary analysis starts
            if not seen:
                start(sum(1 for a in plan_doc["analysis"] if a.get("primary")))
            advance(len(seen), label)
            seen.append(label)

        doc = pw.power_analysis(
            plan_doc, frame, sample, panel_path, draws=draws, permutations=permutations, progress=tick
        )
    doc["command"] = command_line()
    target = out_root / plan_doc["plan"]["name"]
    with data_lock(out_root):
        pw.write_power(doc, target)
    for a in doc["analyses"]:
        up, down = a["mde_increase"], a["mde_decrease"]
        say(
            f"  {a['label']:<28} {a['outcome']:<24} MDE +{up if up is not None else float('nan'):.3g} / "
            f"{down if down is not None else float('nan'):.3g}  (size at 0: {a['size']:.2f}, {a['draws']} draws, {a['interval']} interval)"
        )
        sized = pw.pretrend_size_line(a)
        if sized:
            say(f"  {'':<28} {sized}")
    say(f"power -> {target}/power.json, power.parquet")


# --- plan -------------------------------------------------------------------------------------------


@plan_app.command("init", short_help="Write a commented plan template.")
def plan_init(path: Annotated[Path, typer.Argument(help="Where to write the commented template.")]) -> None:
    """Write a commented plan template (refuses to overwrite).

    \b
    Example:
      evalkit plan init plans/my-evaluation.toml
    """
    from evalkit import plan as plans

    plans.init_plan(path)
    say(f"wrote {path}; edit it, then `evalkit plan lock {path}` before seeing any results")


@plan_app.command("lock", short_help="Validate a plan and lock it before results are seen.")
def plan_lock(path: Annotated[Path, typer.Argument(help="The plan to lock.")]) -> None:
    """Validate the whole plan (options included) and record its sha256 and a timestamp in
    PLAN.lock.json, to commit or deposit before results.

    \b
    Example:
      evalkit plan lock plans/my-evaluation.toml
    """
    from evalkit import plan as plans

    lock = plans.lock_plan(path)
    say(f"locked {path} -> {lock}")


@plan_app.command("schema", short_help="Print the JSON Schema of plan files.")
def plan_schema() -> None:
    """Print the JSON Schema of plan files, for editors that check TOML as it is written.

    \b
    Example (VS Code with Even Better TOML: point "evenBetterToml.schema.associations" at the file):
      evalkit plan schema > plan.schema.json
    """
    from evalkit import plan_schema as schema
    from evalkit.io import dumps_json

    sys.stdout.write(dumps_json(schema.json_schema()))


@app.command("methods", short_help="List the estimation methods and their options.")
def list_methods(
    method: Annotated[MethodKey | None, typer.Argument(help="One method; default: all.")] = None,
) -> None:
    """List the estimation methods a plan may name, with each option's type, default and allowed values.

    \b
    Examples:
      evalkit methods
      evalkit methods cs
    """
    keys = [method] if method else list(methods.METHOD_KEYS)
    lines: list[str] = []
    for key in keys:
        m = methods.METHODS[key]
        lines.append(f"{key}: {m.title}")
        fed = ", ".join(f"{opt} <- [inference].{src}" for opt, src in m.inference.items())
        if fed:
            lines.append(f"  from the plan's [inference]: {fed}")
        if m.intervals != ("analytic",):
            lines.append(f"  intervals ([inference].interval, --interval): {', '.join(m.intervals)}")
        for o in methods.describe(key):
            lines.append(f"  {o['name']} = {o['default']!r}  ({o['type']})")
            if o["help"]:
                lines.append(f"      {o['help']}")
        lines.append("")
    if not method:
        from evalkit.analysis.intervals import interval_kinds_text

        lines += interval_kinds_text()
    if method is None:
        from evalkit.analysis.verdict import EVIDENCE_NOTES

        lines.append(EVIDENCE_NOTES)
    sys.stdout.write("\n".join(lines))


def main() -> None:
    """Console entry point: one line and exit 1 for bad data, exit 2 for bad usage."""
    terminate_as_interrupt()
    try:
        try:
            code = app(standalone_mode=False)
            if "evalkit.io" in sys.modules:  # the SIGTERM handler loads it: its interrupt may have been swallowed
                sys.modules["evalkit.io"].raise_if_terminated()
        finally:
            if "evalkit.parallel" in sys.modules:  # a Dask client or local cluster this run opened
                sys.modules["evalkit.parallel"].close_clients()
            if "evalkit.generations" in sys.modules:  # the generations this run read may be collected now
                sys.modules["evalkit.generations"].unpin_all()
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
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # typer's vendored click exceptions
            ctx = getattr(exc, "ctx", None)
            where = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            text = " ".join(exc.format_message().replace("Value error, ", "").split())
            sys.stderr.write(f"usage error: {text}{where}\n")
            sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
        raise
    if isinstance(code, int) and code:  # typer returns (not raises) Exit codes in this mode
        if code == 130:
            err.print("aborted")
        sys.exit(code)


if __name__ == "__main__":
    main()
