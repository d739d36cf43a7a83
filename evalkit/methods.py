"""The one registry of estimation methods: each method is declared here once.

A `Method` names its plan key, the estimator function, a frozen dataclass of its options (types,
defaults and allowed values), the title and note the report prints, and which `[inference]`
settings feed which option. The CLI's choices, the plan schema, `estimate`'s dispatch, the options
recorded in results.json (`dataclasses.asdict`) and the report's wording all read this table.

Shared vocabulary: `control` is "never" (never-treated units) or "notyet" (units not yet treated);
`alpha` defaults to DEFAULT_ALPHA and `seed` to DEFAULT_SEED everywhere; `donor_units` is a list of
unit codes, while the plan-level `donors` is a rule for the comparison pool (see SAMPLE_OPTIONS).

Importing this module is cheap (no numpy, no pydantic): the estimator is imported when it runs and
pydantic when options are validated.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Union

from evalkit.errors import UsageError
from evalkit.estimators.defaults import DEFAULT_ALPHA, DEFAULT_SEED


@dataclass(frozen=True)
class Bound:
    """A numeric bound on an option (becomes a pydantic constraint when options are validated)."""

    ge: float | None = None
    gt: float | None = None
    lt: float | None = None
    le: float | None = None

    def text(self) -> str:
        pairs = ((">=", self.ge), (">", self.gt), ("<", self.lt), ("<=", self.le))
        return ", ".join(f"{op} {v:g}" for op, v in pairs if v is not None)


Control = Literal["never", "notyet"]
Alpha = Annotated[float, Bound(gt=0, lt=1)]
NonNegInt = Annotated[int, Bound(ge=0)]
PosInt = Annotated[int, Bound(ge=1)]
# Draws of a bootstrap, permutations and placebo replications: each costs an estimator fit, so a
# typo (1e8) is refused at validation instead of ending in a MemoryError hours later.
MAX_DRAWS = 100_000
Draws = Annotated[int, Bound(ge=0, le=MAX_DRAWS)]
PosDraws = Annotated[int, Bound(ge=1, le=MAX_DRAWS)]
Seed = Annotated[int, Bound(ge=0)]
# A per-analysis comparison-pool rule the plan may give among the options; `estimate` applies it to
# the sample before the estimator runs, so it is not an estimator option.
DonorRule = Literal["never_treated", "not_yet_treated", "inadequate_pre_period"]
DONOR_RULES: tuple[str, ...] = typing.get_args(DonorRule)
SAMPLE_OPTIONS: tuple[str, ...] = ("donors",)
# Options that change how fast a result comes, never the result: passed on, not recorded.
RUNTIME_OPTIONS: tuple[str, ...] = ("n_jobs",)


def _opt(default: Any = None, help: str = "", *, factory: Callable[[], Any] | None = None) -> Any:
    meta = {"help": help}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Options:
    """Options every method accepts from a plan."""

    donors: DonorRule | None = _opt(None, "Comparison pool for this analysis only (overrides [sample].donors).")


@dataclass(frozen=True)
class CsOptions(Options):
    """Callaway and Sant'Anna (2021) group-time effects and their aggregations."""

    control: Control = _opt("never", "Comparison units: never treated, or not yet treated.")
    est_method: Literal["dr", "ipw", "reg"] = _opt(
        "dr", "Doubly robust, inverse probability weighting, or outcome regression."
    )
    anticipation: NonNegInt = _opt(0, "Periods before adoption in which units may already react.")
    base_period: Literal["varying", "universal"] = _opt(
        "varying", "Pre-period comparisons against the previous period, or the period before adoption."
    )
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")
    bootstrap: Draws = _opt(0, "Multiplier-bootstrap draws; 0 = analytic errors (default: [inference].bootstrap).")
    seed: Seed = _opt(DEFAULT_SEED, "Random seed (default: [inference].seed).")
    balance_e: NonNegInt | None = _opt(None, "Event-study on cohorts observed this many periods after adoption.")
    min_e: float | None = _opt(None, "Shortest event time in the event study.")
    max_e: float | None = _opt(None, "Longest event time in the event study.")
    bootstrap_weights: Literal["mammen", "rademacher"] = _opt("mammen", "Multiplier-bootstrap weights.")


@dataclass(frozen=True)
class TwfeOptions(Options):
    """Two-way fixed effects regression (shown for comparison)."""

    cluster: Literal["unit", "none"] = _opt("unit", "Cluster errors by unit, or heteroskedasticity-robust only.")
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")


@dataclass(frozen=True)
class SunabOptions(Options):
    """Sun and Abraham (2021) interaction-weighted event study."""

    control: Control = _opt(
        "never",
        "Comparison units: never treated, or not yet treated (the last-treated cohort "
        "before it adopts, the only not-yet-treated group the method allows).",
    )
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")


@dataclass(frozen=True)
class ImputationOptions(Options):
    """Borusyak, Jaravel and Spiess (2024) imputation estimator."""

    anticipation: NonNegInt = _opt(0, "Periods before adoption in which units may already react.")
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")


Predictors = list[int | str | dict[str, Any] | list[Any]] | None
VSpec = Literal["nested", "equal", "regression"] | list[float]


@dataclass(frozen=True)
class SynthOptions(Options):
    """Abadie, Diamond and Hainmueller synthetic control for one treated unit."""

    treated_unit: str | None = _opt(None, "The treated unit (default: the only one).")
    predictors: Predictors = _opt(
        None,
        "Predictors: years of the outcome, variable names, [var, periods] or "
        "{var, periods} (default: every pre-period outcome).",
    )
    v: VSpec = _opt("nested", "Predictor weights: nested optimisation, equal, regression, or a list of weights.")
    pre_periods: list[int] | None = _opt(None, "Periods whose fit chooses V (default: all pre-treatment periods).")
    donor_units: list[str] | None = _opt(None, "Donor unit codes (default: every never-treated unit).")
    seed: Seed = _opt(DEFAULT_SEED, "Random seed (default: [inference].seed).")
    inference: bool = _opt(True, "Run placebo, leave-one-out and conformal inference.")
    placebo_times: list[int] | None = _opt(None, "Fake adoption periods for in-time placebos.")
    prefit_k: list[float] = _opt(
        help="Pre-fit filters for placebos (multiples of the treated unit's pre-fit).", factory=lambda: [2.0, 5.0, 20.0]
    )
    prefit_scale: Literal["mspe", "rmspe"] = _opt("mspe", "Scale of the pre-fit filter.")
    leave_one_out: bool = _opt(True, "Refit leaving out each donor with positive weight.")
    conformal: bool = _opt(True, "Conformal intervals (Chernozhukov, Wüthrich and Zhu).")
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")
    v_starts: list[list[float]] | None = _opt(None, "Extra starting points for the V search.")
    default_starts: bool = _opt(True, "Also start the V search from the default points.")
    n_jobs: PosInt | None = _opt(None, "Processes for placebo fits (default: all cores; results do not depend on it).")


@dataclass(frozen=True)
class SynthStaggeredOptions(Options):
    """Synthetic control per treated unit, pooled in event time (Cavallo et al. 2013)."""

    predictors: Predictors = _opt(None, "Predictors, as for synth (default: every pre-period outcome).")
    v: VSpec = _opt("nested", "Predictor weights: nested optimisation, equal, regression, or a list of weights.")
    donor_units: list[str] | None = _opt(None, "Donor unit codes (default: every never-treated unit).")
    control: Control = _opt(
        "never", "Donors: never treated, or also units first treated after the fit's last period + window."
    )
    window: NonNegInt = _opt(0, "With control = notyet: periods between a donor's adoption and the fit's last period.")
    horizon: NonNegInt | None = _opt(None, "Periods after adoption fitted (default: to the end of the panel).")
    inference: bool = _opt(True, "Placebo inference pooled across treated units.")
    reps: PosDraws = _opt(1000, "Pooled placebo draws (default: [inference].permutations).")
    seed: Seed = _opt(DEFAULT_SEED, "Random seed (default: [inference].seed).")
    n_jobs: PosInt | None = _opt(None, "Processes for the fits (default: all cores; results do not depend on it).")
    check_fit: bool = _opt(
        False,
        "Refuse a unit's placebo p-value where its pre-period fit is not identified (too few pre-periods, "
        "RMSPE at rounding level); new plans set it, v1-v3 ran without.",
    )


@dataclass(frozen=True)
class SdidOptions(Options):
    """Synthetic difference-in-differences by adoption cohort (Arkhangelsky et al. 2021; Clarke et al. 2023)."""

    se: Literal["placebo", "bootstrap", "jackknife"] | None = _opt("placebo", "How standard errors are computed.")
    reps: PosDraws = _opt(200, "Placebo or bootstrap draws (default: [inference].permutations).")
    seed: Seed = _opt(DEFAULT_SEED, "Random seed (default: [inference].seed).")
    estimator: Literal["sdid", "sc", "did"] = _opt("sdid", "SDID, or its synthetic-control or DiD special case.")
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")
    n_jobs: PosInt | None = _opt(None, "Processes for the draws (default: all cores; results do not depend on it).")
    jackknife_weights: Literal["refit", "fixed"] = _opt(
        "refit", "Jackknife: refit the weights without each unit, or keep them."
    )


@dataclass(frozen=True)
class TwfeEsOptions(Options):
    """Two-way fixed effects event study (dynamic coefficients relative to one pre-period)."""

    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")
    reference: int = _opt(-1, "The event time every coefficient is relative to.")


@dataclass(frozen=True)
class DcdhOptions(Options):
    """de Chaisemartin and D'Haultfœuille (2024) intertemporal DiD for treatment that can switch off."""

    effects: PosInt = _opt(5, "Event-study effects after the first switch (ℓ = 1 … effects).")
    placebo: NonNegInt = _opt(0, "Placebos before the first switch (at most `effects`).")
    switchers: Literal["both", "in", "out"] = _opt(
        "both", "Switchers in (treatment rose), out (it fell), or both pooled with the two shown separately."
    )
    alpha: Alpha = _opt(DEFAULT_ALPHA, "Significance level (default: [inference].alpha).")
    permutations: NonNegInt = _opt(
        0,
        "Permutations of whole treatment paths for the randomisation interval; 0 = none "
        "(default: [inference].permutations).",
    )
    seed: Seed = _opt(DEFAULT_SEED, "Random seed (default: [inference].seed).")


@dataclass(frozen=True)
class TimeToGoodOptions(Options):
    """Kaplan-Meier time from the first 'inadequate' judgement to 'good or better' (Ofsted journeys)."""


@dataclass(frozen=True)
class MultiverseUse:
    """How the multiverse runs a method: its name among the specification choices, the choices it
    uses (the others are "n/a" for it), the comparison pools it can take, and fixed options."""

    name: str
    uses: frozenset[str]
    pools: tuple[str, ...]
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Method:
    """One estimation method: every fact about it that any caller needs, declared once.

    Adding an estimator is its module, one entry here and its test: dispatch, options, the default
    interval (`intervals`, `randomisation`, `points`), the headline row, the sample rule for pre-periods,
    the multiverse and the report's wording all read this entry.
    """

    key: str
    target: str  # "module:function"; the function takes a LongPanel and the options as keywords
    options: type[Options]
    title: str
    note: str
    # option field -> [inference] key that fills it when the plan's options do not
    inference: dict[str, str] = field(default_factory=dict)
    # names the estimator gives itself in Results.method
    result_names: tuple[str, ...] = ()
    # does it return an event study (dynamic coefficients and their covariance) for the pre-trend
    # test and the sensitivity analysis? If not, what to use instead (printed when refused)
    event_study: bool = False
    event_study_hint: str = ""
    # does it use the panel's covariates? If not, asking for covariates is refused (never dropped)
    covariates: bool = False
    # intervals it can make the default one ([inference].interval; analysis.intervals computes them)
    intervals: tuple[str, ...] = ("analytic",)
    # how its randomisation interval is made: "inversion" (adoption dates permuted, the constant-effect
    # null inverted: estimators linear in the outcome) or "placebo" (never-treated units take the treated
    # units' dates; the spread of the placebo estimates is the SE)
    # or "own" (the estimator permutes itself and returns the rows, e.g. dcdh: whole treatment paths)
    randomisation: Literal["inversion", "placebo", "own"] | None = None
    # "module:Class" of a many-columns point path for the permutation loop (e.g. cs_points.CSPoints)
    points: str = ""
    # the estimate a verdict states (row name in its estimates table)
    headline: str = "simple"
    # pre-treatment years a treated unit needs in the outcome's window to enter the analysis
    min_pre_periods: int = 1
    # "panel": runs on a long panel (analysis.run); "journeys": Ofsted judgement histories beside a
    # council panel (estimate.time_to_good), so only a plan can run it
    kind: Literal["panel", "journeys"] = "panel"
    # its use in a [multiverse] table, if any
    multiverse: MultiverseUse | None = None
    # can it estimate treatment that switches off (reads the panel's treatment in force, `d`)? If not,
    # a panel whose treatment falls for some unit is refused, naming those units
    switch_off: bool = False
    # does it need every donor observed in every period? Then `estimate --panel` drops incomplete
    # never-treated units first (and says so), as a plan's sample drops incomplete councils
    complete_donors: bool = False

    def function(self) -> Callable[..., Any]:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def points_class(self) -> type | None:
        """The many-columns point class (`points`), imported from the registry's fixed name."""
        if not self.points:
            return None
        module, name = self.points.split(":")
        return getattr(importlib.import_module(module), name)

    def option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.options))


_INF = {"alpha": "alpha", "seed": "seed"}

METHODS: dict[str, Method] = {
    m.key: m
    for m in (
        Method(
            "twfe",
            "evalkit.estimators.did.twfe:twfe",
            TwfeOptions,
            "two-way fixed effects regression",
            "A single regression coefficient. When councils moved in different years and effects vary, "
            "it can weight some comparisons negatively, so it is shown mainly for comparison.",
            {"alpha": "alpha"},
            ("twfe", "twfe_wild_cluster_bootstrap"),
            event_study_hint="twfe estimates a single coefficient; use method twfe_es for its event study",
            intervals=("analytic", "randomization", "wild", "studentized", "ferman_pinto"),
            randomisation="inversion",
            headline="coef",
        ),
        Method(
            "cs",
            "evalkit.estimators.did.cs:callaway_santanna",
            CsOptions,
            "Callaway and Sant'Anna difference-in-differences",
            "Compares each cohort of councils that moved in the same year with councils that had not moved, "
            "so it stays unbiased when councils move in different years and effects differ between them.",
            {**_INF, "bootstrap": "bootstrap"},
            ("callaway_santanna",),
            event_study=True,
            covariates=True,
            intervals=("analytic", "randomization", "studentized", "ferman_pinto"),
            randomisation="inversion",
            points="evalkit.estimators.did.cs_points:CSPoints",
            multiverse=MultiverseUse(
                "cs",
                frozenset({"comparison", "covariates", "anticipation", "est_method"}),
                ("never", "notyet", "inadequate", "matched", "neighbours"),
            ),
        ),
        Method(
            "sunab",
            "evalkit.estimators.did.sunab:sun_abraham",
            SunabOptions,
            "Sun and Abraham interaction-weighted event study",
            "Estimates effects for each cohort separately and averages them, avoiding the bias of "
            "two-way fixed effects under staggered adoption.",
            {"alpha": "alpha"},
            ("sun_abraham",),
            event_study=True,
            intervals=("analytic", "randomization", "studentized", "ferman_pinto"),
            randomisation="inversion",
            points="evalkit.estimators.did.sunab_points:SunabPoints",
            multiverse=MultiverseUse(
                "sunab", frozenset({"comparison"}), ("never", "inadequate", "matched", "neighbours")
            ),
        ),
        Method(
            "imputation",
            "evalkit.estimators.did.imputation:imputation",
            ImputationOptions,
            "imputation difference-in-differences (Borusyak, Jaravel and Spiess)",
            "Predicts each treated council's untreated outcome from untreated years and compares, "
            "which is efficient under parallel trends and handles staggered adoption.",
            {"alpha": "alpha"},
            event_study_hint="the imputation estimator has no pre-period event-study coefficients; use cs, sunab or twfe_es",
            intervals=("analytic", "randomization", "studentized", "ferman_pinto"),
            randomisation="inversion",
            points="evalkit.estimators.did.imputation_points:ImputationPoints",
            multiverse=MultiverseUse("imputation", frozenset({"anticipation"}), ("never",)),
        ),
        Method(
            "synth",
            "evalkit.estimators.synth.synth:synthetic_control",
            SynthOptions,
            "synthetic control",
            "Builds a weighted combination of comparison councils that tracks the treated council before "
            "the move; inference comes from placebo runs on the comparison councils.",
            _INF,
            ("synthetic_control",),
            covariates=True,
            headline="att",
            min_pre_periods=2,
            complete_donors=True,
        ),
        Method(
            "sdid",
            "evalkit.estimators.synth.sdid:synthetic_did_staggered",
            SdidOptions,
            "synthetic difference-in-differences",
            "Combines synthetic-control weighting with difference-in-differences, so it relies less on "
            "an exact pre-move fit and less on parallel trends alone.",
            {**_INF, "reps": "permutations"},
            ("synthetic_did", "synthetic_did_staggered", "synthetic_control_sdid", "did_sdid"),
            intervals=("analytic", "randomization", "ferman_pinto"),
            randomisation="placebo",
            headline="att",
            min_pre_periods=2,
            complete_donors=True,
            multiverse=MultiverseUse(
                "sdid",
                frozenset({"comparison"}),
                ("never", "inadequate", "matched", "neighbours"),
                (("se", "jackknife"),),
            ),
        ),
        Method(
            "synth_staggered",
            "evalkit.estimators.synth.synth:synth_staggered",
            SynthStaggeredOptions,
            "synthetic control for staggered adoption",
            "Synthetic control fitted for councils that moved in different years, pooled across treated councils.",
            {"seed": "seed", "reps": "permutations"},
            covariates=True,
            headline="att",
            min_pre_periods=2,
            complete_donors=True,
            multiverse=MultiverseUse(
                "synth", frozenset({"comparison"}), ("never", "notyet", "inadequate", "matched", "neighbours")
            ),
        ),
        Method(
            "twfe_es",
            "evalkit.estimators.did.twfe_es:twfe_event_study",
            TwfeEsOptions,
            "two-way fixed effects event study",
            "Event-study coefficients from one regression with unit and year effects, relative to the year "
            "before the move; with staggered moves and varying effects they can be contaminated, so they "
            "serve mainly the pre-trend test and the sensitivity analysis.",
            {"alpha": "alpha"},
            ("twfe_event_study",),
            event_study=True,
            intervals=("analytic", "randomization"),
            randomisation="inversion",
            headline="",  # event-study coefficients only: no single estimate to state
        ),
        Method(
            "dcdh",
            "evalkit.estimators.did.dcdh:dcdh",
            DcdhOptions,
            "de Chaisemartin and D'Haultfœuille difference-in-differences (treatment that can switch off)",
            "Compares each council's outcome from the year before its first change of model with councils "
            "that started on the same model and had not changed yet, separately for councils that moved "
            "out of in-house delivery and those that came back; effects of coming back carry the opposite "
            "sign, so every estimate reads as the effect of the alternative model.",
            {**_INF, "permutations": "permutations"},
            ("dcdh",),
            event_study_hint="dcdh reports its own placebos before the switch (option placebo)",
            intervals=("analytic", "randomization"),
            randomisation="own",
            headline="average",
            switch_off=True,
        ),
        # Not a panel estimator: `estimate` routes it to estimate.time_to_good (Ofsted judgements next to the panel).
        Method(
            "time_to_good",
            "evalkit.estimators.survival:kaplan_meier",
            TimeToGoodOptions,
            "time to good (Kaplan-Meier)",
            "Follows each council from its first 'inadequate' judgement to its first 'good or better', "
            "counting councils still waiting as censored, and compares groups with a log-rank test.",
            {},
            ("kaplan_meier",),
            headline="",
            kind="journeys",
        ),
    )
}
METHOD_KEYS: tuple[str, ...] = tuple(METHODS)
# The multiverse's estimator names, in registry order, and the method each runs.
MULTIVERSE: dict[str, Method] = {m.multiverse.name: m for m in METHODS.values() if m.multiverse is not None}
CONTROL_CHOICES: tuple[str, ...] = typing.get_args(Control)


def get(key: str) -> Method:
    if key not in METHODS:
        raise UsageError(f"unknown method {key!r}; choose one of {', '.join(METHOD_KEYS)}")
    return METHODS[key]


def key_of_result(name: str) -> str:
    """The plan key for an estimator's own name in Results.method (e.g. callaway_santanna -> cs)."""
    for m in METHODS.values():
        if name == m.key or name in m.result_names:
            return m.key
    return name


_MODELS: dict[str, Any] = {}


def options_model(key: str) -> Any:
    """A strict pydantic model with the fields of the method's options dataclass (for validation and
    the JSON Schema); unknown keys are refused."""
    if key not in _MODELS:
        from pydantic import ConfigDict, Field, create_model

        cls = get(key).options
        hints = typing.get_type_hints(cls, include_extras=True)
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            default = (
                {"default": f.default}
                if f.default is not dataclasses.MISSING
                else {"default_factory": f.default_factory}
            )
            fields[f.name] = (
                _pydantic_hint(hints[f.name], Field),
                Field(description=f.metadata.get("help") or None, **default),
            )
        config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, title=f"{key} options")
        _MODELS[key] = create_model(f"{cls.__name__}Model", __config__=config, __doc__=cls.__doc__, **fields)
    return _MODELS[key]


def _pydantic_hint(tp: Any, field: Any) -> Any:
    """The type with each Bound turned into a pydantic Field constraint."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        extras = [
            field(**{k: v for k, v in dataclasses.asdict(m).items() if v is not None}) if isinstance(m, Bound) else m
            for m in args[1:]
        ]
        return Annotated[(_pydantic_hint(args[0], field), *extras)]
    if origin in _UNIONS:
        return Union[tuple(_pydantic_hint(a, field) for a in args)]  # noqa: UP007
    return tp


def validate_options(key: str, raw: dict[str, Any]) -> Options:
    """Typed options from a plain dict; raises pydantic's ValidationError naming the bad option.

    Options whose every value is plainly valid (see `_plainly_valid`) are built without pydantic, whose
    import and model cost more than a CS estimate on a CSV panel; the strict model would return those
    very values, so the options are the same either way. Anything else goes through the model."""
    fields = _option_hints(key)
    if all(name in fields and _plainly_valid(fields[name], value) for name, value in raw.items()):
        return get(key).options(**raw)
    model = options_model(key).model_validate(raw)
    return get(key).options(**{name: getattr(model, name) for name in get(key).option_names()})


_HINTS: dict[str, dict[str, Any]] = {}


def _option_hints(key: str) -> dict[str, Any]:
    if key not in _HINTS:
        cls = get(key).options
        hints = typing.get_type_hints(cls, include_extras=True)
        _HINTS[key] = {f.name: hints[f.name] for f in dataclasses.fields(cls)}
    return _HINTS[key]


def _plainly_valid(tp: Any, value: Any) -> bool:
    """True when the strict options model (extra="forbid", strict=True, allow_inf_nan=False) would accept
    `value` for a field of type `tp` and keep it as it is: a bool, int, finite float, str or None of
    exactly the field's type, a Literal's own string, within any Bound. Lists, dicts and anything
    unusual answer False and go to the model (and its message)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        if not _plainly_valid(args[0], value):
            return False
        for bound in (m for m in args[1:] if isinstance(m, Bound)):
            if bound.ge is not None and not value >= bound.ge:
                return False
            if bound.gt is not None and not value > bound.gt:
                return False
            if bound.lt is not None and not value < bound.lt:
                return False
            if bound.le is not None and not value <= bound.le:
                return False
        return all(isinstance(m, Bound) for m in args[1:])
    if origin in _UNIONS:
        return any(_plainly_valid(a, value) for a in args)
    if origin is Literal:
        return type(value) is str and all(type(a) is str for a in args) and value in args
    if tp is type(None):
        return value is None
    if tp is float:
        return type(value) is float and math.isfinite(value)
    if tp in (bool, int, str):
        return type(value) is tp
    return False


def with_inference(key: str, raw: dict[str, Any], inference: dict[str, Any]) -> dict[str, Any]:
    """The plan's options plus the [inference] settings the method takes, where the options do not set them.

    Bootstrap draws and permutations fill an option only when positive (0 = keep the method's default).
    """
    out = dict(raw)
    for opt, src in get(key).inference.items():
        value = inference.get(src)
        if opt in out or value is None or (src in ("bootstrap", "permutations") and not value):
            continue
        out[opt] = value
    return out


def estimator_kwargs(options: Options) -> dict[str, Any]:
    """Keyword arguments for the estimator: every option but the sample rules."""
    return {k: v for k, v in dataclasses.asdict(options).items() if k not in SAMPLE_OPTIONS}


# Options added after plans v1-v3 were locked: recorded only when set, so those plans' results stay byte-identical.
LATE_OPTIONS = {"check_fit": False}


def recorded(options: Options) -> dict[str, Any]:
    """The options recorded with a result: every estimator option but the runtime ones (and late options at
    their default)."""
    return {
        k: v
        for k, v in estimator_kwargs(options).items()
        if k not in RUNTIME_OPTIONS and not (k in LATE_OPTIONS and v == LATE_OPTIONS[k])
    }


def describe(key: str) -> list[dict[str, Any]]:
    """Each option of a method: name, type, default, allowed values and help (for `evalkit methods`)."""
    hints = typing.get_type_hints(get(key).options, include_extras=True)
    out = []
    for f in dataclasses.fields(get(key).options):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append(
            {
                "name": f.name,
                "type": _type_text(hints[f.name]),
                "default": default,
                "choices": _choices(hints[f.name]),
                "help": f.metadata.get("help", ""),
            }
        )
    return out


_UNIONS = (Union, types.UnionType)


def _choices(tp: Any) -> tuple[str, ...]:
    if typing.get_origin(tp) is Annotated:
        return _choices(typing.get_args(tp)[0])
    if typing.get_origin(tp) is Literal:
        return tuple(typing.get_args(tp))
    if typing.get_origin(tp) in _UNIONS:
        return tuple(c for a in typing.get_args(tp) for c in _choices(a))
    return ()


def _type_text(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        base = _type_text(args[0])
        bounds = [m.text() for m in args[1:] if isinstance(m, Bound)]
        return f"{base} ({', '.join(bounds)})" if bounds else base
    if origin is Literal:
        return "|".join(map(str, args))
    if origin in _UNIONS:
        parts = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return "table"
    return getattr(tp, "__name__", str(tp))
