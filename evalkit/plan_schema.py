"""The typed schema of a plan file (pydantic): every section, key, type and allowed value.

`validate(doc, file)` checks a parsed TOML plan, options included (each method's options come from
evalkit.methods), and returns the plain dict the rest of evalkit uses and the lock records; the first
problem becomes one EvalkitError naming the key (`analysis[0].options.control`). `json_schema()` is
what `evalkit plan schema` prints, for editors to check plans as they are written.

Sections that later features add (per-analysis `sensitivity`, `[inference].interval`, `[power]`,
`[multiverse]`) are optional and left out of the plain dict when absent, so older plans, their locks
and their results stay byte for byte the same.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_serializer, model_validator
from pydantic_core import PydanticCustomError

from evalkit import methods
from evalkit.errors import EvalkitError

NAME_PATTERN = r"^[a-z0-9_-]+$"
HEX64_PATTERN = r"^[0-9a-f]{64}$"
NONEMPTY_PATTERN = r"\S"
# Free text (titles, questions, limitations): not blank, and no control character but tab and line
# break (a TOML multi-line string may hold those); an escape or NUL would reach the report verbatim.
# No control characters, and no bidirectional overrides or isolates (U+202A-U+202E, U+2066-U+2069,
# U+200E/U+200F, U+061C): a right-to-left override in a title would reorder what a reader of the report sees.
_NOT_TEXT = "\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069"
TEXT_PATTERN = rf"^[^{_NOT_TEXT}]*[^{_NOT_TEXT}\s][^{_NOT_TEXT}]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Text = Annotated[str, Field(pattern=TEXT_PATTERN)]
Sha256 = Annotated[str, Field(pattern=HEX64_PATTERN)]
NonNegInt = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    """Strict (TOML types are exact), no unknown keys, and optional sections left out when absent."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    _keep_none: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None or k in self._keep_none}


class PlanMeta(_Model):
    name: Name = Field(description="Lowercase letters, digits, '-' or '_'; results go to reports/<name>/.")
    title: Text
    question: Text = Field(description="The one question the evaluation answers, in plain words.")
    synthetic_demo: bool = Field(False, description="true only for made-up data; every output is then marked.")


class Data(_Model):
    panel: Text = Field(description="The panel written by `evalkit panel`, relative to the working directory.")
    expected_sha256: dict[str, Sha256] = Field(
        default_factory=dict, description="sha256 of input files, checked first."
    )


class TreatedUnit(_Model):
    unit: Text
    first_year: int


class ExcludedValue(_Model):
    """One council-year value left out of every analysis (e.g. a spike the panel's screening flagged)."""

    unit: str = Field(description="Unit code, as in the panel.")
    year: int = Field(description="Panel year (year ending 31 March).")
    column: str = Field(description="Panel column whose value is set to missing.")
    reason: Text = Field(description="Why the value is left out (required: it is printed in the report).")


class Sample(_Model):
    """Required, with its years: estimation windows the panel by them, so a plan without them would
    be accepted by `plan lock` and only fail later (a TypeError once); refused at validation instead."""

    years: list[int] = Field(min_length=2, max_length=2, description="[first, last] year.")
    through: Literal["latest"] | None = Field(
        None,
        description='"latest": the window runs on to the latest year the panel holds (a living plan: rule, '
        "outcomes, comparison and inference stay as locked; each re-run on new data is a dated run).",
    )
    treated: Literal["registry"] | list[TreatedUnit] = Field(
        "registry", description='"registry", or a list of {unit = "...", first_year = 2016}.'
    )
    exclude_units: list[str] = Field(default_factory=list, description="Councils left out, by unit code.")
    donors: methods.DonorRule = Field("never_treated", description="Comparison councils.")
    exclude_values: list[ExcludedValue] | None = Field(
        None, description="Council-year values set to missing before any analysis, each with its reason."
    )


class Inference(_Model):
    alpha: float = Field(0.05, gt=0, lt=1, description="Intervals are (1 - alpha) x 100 per cent.")
    seed: NonNegInt = Field(description="Seed for every random draw, recorded in the outputs.")
    bootstrap: NonNegInt = Field(
        999, le=methods.MAX_DRAWS, description="Bootstrap draws (0 = analytic standard errors only)."
    )
    permutations: NonNegInt = Field(999, le=methods.MAX_DRAWS, description="Permutations / placebo draws.")
    interval: (
        Literal["auto", "auto-size", "analytic", "randomization", "wild", "studentized", "ferman_pinto"] | None
    ) = Field(
        None,
        description='The interval the verdict uses; "auto" (the default, plans v1-v3) applies the few-treated rule '
        'with coefficient permutation; "auto-size" the rule chosen by the size simulation (benchmarks/SIZE.md).',
    )

    size_column: str | None = Field(
        None,
        description="Panel column giving each council's size (e.g. population_0_17): the Ferman-Pinto interval's "
        "variance model and `evalkit power`'s size-matched placebo draws.",
    )
    family: list[Name] | None = Field(
        None,
        min_length=2,
        description="Labels of the primary analyses tested as one family: each verdict uses its Romano-Wolf "
        "adjusted p-value (the same permuted adoption dates for every outcome), Holm's beside it.",
    )
    shared_size_draws: bool | None = Field(
        None,
        description="true: the size-keeping intervals (studentized, ferman_pinto, auto-size) of the family's "
        "analyses permute the same adoption dates for every outcome, so Romano-Wolf uses their joint "
        "distribution (without it those kinds draw separately and the family falls back to Holm).",
    )
    equivalence_rms: bool | None = Field(
        None,
        description="true: beside the max and mean pre-trend equivalence bounds, Dette & Schumann's RMS test "
        "(pre-period coefficients re-estimated on subsamples of councils) for every primary analysis.",
    )
    size_fit_identified: bool | None = Field(
        None,
        description="true: the Ferman-Pinto variance model (log residual variance on log size) is fitted on "
        "the councils whose residual variance is identified: two or more untreated years and a variance "
        "above rounding (without it, plans v4 and v5, a council with one untreated year enters at ~1e-29).",
    )
    studentized_by_unit: bool | None = Field(
        None,
        description="true: the studentized interval takes each council's contribution under every permuted "
        "assignment from one pass of the estimator's point path (CS, Sun-Abraham, imputation, TWFE without "
        "covariates) instead of one outcome column per council: 3-11x less CPU on England, the same intervals "
        "and p-values up to round-off (<= 4e-15 relative), not to the bit, so plans v4 and v5 keep the old sums.",
    )
    pretrend_draws: Literal["shared", "own"] | None = Field(
        None,
        description='"own": with shared_size_draws, the permutation pre-trend test (and its power and equivalence '
        "bounds) permutes adoption dates among the analysis's own councils, so every draw has the analysis's own "
        'number of movers; "shared" (the default, plans v5 and earlier) reads the family\'s shared draws, which over-'
        "reject where an analysis holds only part of the family's movers (benchmarks/FWER.md).",
    )
    one_council: Literal["hagemann"] | None = Field(
        None,
        description='"hagemann": under the size-keeping intervals (auto-size, studentized, ferman_pinto), every '
        "estimate resting on one treated council (event-time and cohort rows, the whole estimate with one mover) "
        "gets Hagemann's rearrangement interval (REStud 2025), or no interval and the reason; needs hagemann_rho.",
    )
    hagemann_rho: float | None = Field(
        None,
        description="With one_council = 'hagemann': the largest ratio assumed between the treated council's "
        "standard deviation and any comparison council's (a stated assumption, never estimated; at least 1).",
    )


Bound = Annotated[float, Field(ge=0)]


class SensitivityRM(_Model):
    """Rambachan-Roth relative-magnitudes bounds."""

    method: Literal["rm"]
    mbar: list[Bound] = Field(default_factory=lambda: [0.5, 1.0, 1.5, 2.0], min_length=1)
    target: Literal["first", "average"] = "first"
    covariance: Literal["analytic", "permutation"] | None = Field(
        None,
        description="Covariance of the event study: 'permutation' (from the permuted adoption dates, valid with "
        "few treated councils) or 'analytic' (the default).",
    )
    also_first: bool | None = Field(
        None,
        description="With target = 'average': the first-year effect's breakdown too, shown beside the average's "
        "in the report and labelled as not the number the verdict states.",
    )


class SensitivitySD(_Model):
    """Rambachan-Roth smoothness bounds (M in outcome units per period)."""

    method: Literal["sd"]
    m: list[Bound] = Field(min_length=1)
    target: Literal["first", "average"] = "first"
    covariance: Literal["analytic", "permutation"] | None = None
    also_first: bool | None = None


def _sensitivity_spec(value: Any) -> Any:
    """evalkit.analysis.sensitivity.check_spec gives the reasons (one vocabulary with the CLI flags)."""
    if not isinstance(value, dict):
        return value
    from evalkit.analysis import sensitivity

    try:
        return sensitivity.check_spec(value)
    except ValueError as exc:
        raise PydanticCustomError("plan", "{reason}", {"reason": str(exc), "expected": _SENSITIVITY_EXPECTED}) from None


_SENSITIVITY_EXPECTED = (
    "method = 'rm', mbar = [...] or method = 'sd', m = [...]; target = 'first' | 'average'; "
    "covariance = 'analytic' | 'permutation'"
)
Sensitivity = Annotated[
    SensitivityRM | SensitivitySD, Field(discriminator="method"), BeforeValidator(_sensitivity_spec)
]


class AnalysisBase(_Model):
    label: Name
    title: Text | None = Field(None, description="Default: the label.")
    outcome: Text = Field(description="A column of the panel.")
    method: str
    primary: bool = Field(False, description="The estimate reported as the answer.")
    options: Any = None
    sensitivity: Sensitivity | None = Field(None, description="Rambachan-Roth sensitivity of the event study.")
    pretrend_test: bool | None = Field(
        None, description="Wald test that the pre-period event-study coefficients are 0."
    )
    reason: Text | None = Field(None, description="Why this analysis is in the plan (plan v2 gives one per outcome).")
    vote: bool | None = Field(
        None,
        description="false: shown for comparison only, never changes a verdict. Default (plans v1-v3): every "
        "analysis of the outcome that is not a subgroup can make its verdict 'the data cannot tell'.",
    )
    smallest_effect: float | None = Field(
        None,
        gt=0,
        description="Primary analyses: the smallest effect of interest, in the outcome's units; when the interval "
        "lies inside ±this value the verdict is 'negligible' (two one-sided tests).",
    )
    years: list[int] | None = Field(
        None, min_length=2, max_length=2, description="[first, last]: this analysis' own window inside [sample].years."
    )
    subgroup: str | None = Field(
        None,
        pattern=r"^(model|assignment|scope)=[a-z_]+$",
        description="Only the treated councils with this registry value, e.g. model=council_company.",
    )
    treatment: Literal["intention_to_treat", "as_treated", "switching", "after_return"] | None = Field(
        None,
        description="intention_to_treat (default): a move counts for good; as_treated: a council's years from its "
        "return in-house on leave the sample; switching: the treatment in force each year, returns as switches "
        "out (methods that handle treatment switching off, e.g. dcdh); after_return (carryover check): councils "
        "that came back, their years back in-house against the in-house counterfactual.",
    )
    ownership_change: Literal["same_treatment", "own_switch"] | None = Field(
        None,
        description="same_treatment (default): a trust that became council-owned stays one treatment; own_switch: "
        "the change of ownership is a switch of its own (as_treated: later years leave; switching: a new level).",
    )

    @model_validator(mode="after")
    def _title(self) -> AnalysisBase:
        if self.title is None:
            self.title = self.label
        return self


def _analysis_model(key: str) -> type[AnalysisBase]:
    from pydantic import create_model

    opts = methods.options_model(key)
    return create_model(
        f"Analysis_{key}",
        __base__=AnalysisBase,
        method=(Literal[key], ...),
        options=(opts, Field(default_factory=opts)),
    )


Analysis = Annotated[
    Union[tuple(_analysis_model(k) for k in methods.METHOD_KEYS)],  # type: ignore[misc]  # noqa: UP007
    Field(discriminator="method"),
]


class Power(_Model):
    draws: int = Field(
        ge=10,
        le=methods.MAX_DRAWS,
        description="Placebo draws: the adoption dates given to randomly drawn never-treated councils.",
    )
    effects: list[float] | None = Field(None, description="True effects to simulate (default: chosen from the data).")
    seed: NonNegInt | None = Field(None, description="Default: [inference].seed.")
    permutations: int | None = Field(
        None,
        ge=19,
        le=methods.MAX_DRAWS,
        description="Permutations of the randomisation interval inside each draw (default: [inference]'s).",
    )
    intervals: list[Literal["analytic", "randomization", "wild", "studentized", "ferman_pinto"]] | None = Field(
        None,
        description="Calibrate these interval kinds on placebo draws of the panel (exchangeable and size-matched): "
        "each one's rejection rate of a true zero and its MDE.",
    )
    pretrend: bool = Field(
        False,
        description="With intervals: also the pre-trend test's size on the same placebo draws (how often the test "
        "each interval kind leads to rejects where there is no pre-trend); the report prints it beside the test.",
    )


class Multiverse(_Model):
    """Every defensible specification (evalkit.multiverse; values checked by multiverse.specs.validate)."""

    max_specs: int = Field(
        500, ge=1, le=methods.MAX_DRAWS, description="Most specifications run (a seeded random subset when more)."
    )
    seed: NonNegInt = Field(1, description="Seed of the random subset.")
    outcome: str | None = Field(None, description="Outcome varied over (default: the first primary analysis's).")
    dimensions: dict[str, list[Any]] = Field(description="Each choice and its defensible values.")


class Report(_Model):
    limitations: list[Text] = Field(default_factory=list)


class Plan(_Model):
    """An evalkit analysis plan (TOML), to lock before results are seen."""

    model_config = ConfigDict(title="evalkit plan")
    plan: PlanMeta
    data: Data
    sample: Sample
    inference: Inference
    analysis: list[Analysis] = Field(min_length=1)  # type: ignore[valid-type]
    report: Report = Field(default_factory=Report)
    power: Power | None = None
    multiverse: Multiverse | None = None


SECTIONS = tuple(Plan.model_fields)


def json_schema() -> dict[str, Any]:
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def validate(doc: dict[str, Any], file: str | Path = "<plan>") -> dict[str, Any]:
    """Check a parsed plan; return the plain dict (defaults filled in, options as written)."""
    file = Path(file)
    try:
        model = Plan.model_validate(doc)
    except ValidationError as exc:
        raise _one_error(exc, doc, file) from None
    _cross_checks(model, [a.get("options", {}) for a in doc["analysis"]], file)
    out = model.model_dump(mode="json")
    if out.get("multiverse") is not None:
        out["multiverse"] = validate_multiverse(doc["multiverse"], str(file))
    for i, raw in enumerate(doc["analysis"]):
        out["analysis"][i]["options"] = _plain_options(raw.get("options", {}), f"analysis[{i}].options", file)
    return out


# --------------------------------------------------------------------------- checks across keys


def _inside_project(rel: str, key: str, fail: Any) -> None:
    """Refuse a data path that leaves the project folder (absolute, a drive, or with a `..` part).

    Refused rather than resolved inside the project: a plan is locked, shared and verified on other
    machines, so it may only name files inside the folder it runs in. A path out of it depends on one
    machine's layout (`verify` elsewhere would read another file or none) and would let a plan read
    anything, e.g. `../../dev/zero`; quietly clamping it into the project would read a file the
    author never named. Backslashes count as separators, as on Windows.
    """
    parts = rel.replace("\\", "/").split("/")
    if Path(rel).is_absolute() or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise fail(key, f"{rel!r} is an absolute path", "a path relative to the working directory")
    if ".." in parts:
        raise fail(key, f"{rel!r} leaves the project folder", "a path inside the working directory, without '..'")


def _cross_checks(model: Plan, raw_options: list[dict[str, Any]], file: Path) -> None:
    def fail(key: str, message: str, expected: str) -> EvalkitError:
        return EvalkitError(message, file=file, column=key, expected=expected)

    for key, rel in [("data.panel", model.data.panel)] + [
        (f'data.expected_sha256["{k}"]', k) for k in model.data.expected_sha256
    ]:
        _inside_project(rel, key, fail)
    years = model.sample.years
    if years and years[0] > years[1]:
        raise fail("sample.years", f"first year {years[0]} is after last year {years[1]}", "[first, last]")
    if isinstance(model.sample.treated, list):
        seen: set[str] = set()
        for i, row in enumerate(model.sample.treated):
            if row.unit in seen:
                raise fail(f"sample.treated[{i}].unit", f"duplicate unit {row.unit!r}", "each treated unit once")
            seen.add(row.unit)
    labels: set[str] = set()
    for i, a in enumerate(model.analysis):
        if a.label in labels:
            raise fail(f"analysis[{i}].label", f"duplicate label {a.label!r}", "a label used by one analysis only")
        labels.add(a.label)
        if a.years and a.years[0] > a.years[1]:
            raise fail(
                f"analysis[{i}].years", f"first year {a.years[0]} is after last year {a.years[1]}", "[first, last]"
            )
        if a.sensitivity is not None or a.pretrend_test:
            from evalkit.analysis import sensitivity
            from evalkit.errors import UsageError

            try:
                sensitivity.check_method(a.method, raw_options[i], "sensitivity and pretrend_test")
            except UsageError as exc:
                key = "sensitivity" if a.sensitivity is not None else "pretrend_test"
                raise fail(f"analysis[{i}].{key}", str(exc), "method cs, sunab or twfe_es") from None
        if a.vote is False and a.primary:
            raise fail(f"analysis[{i}].vote", "a primary analysis always votes", "vote = false only on a non-primary")
        if a.smallest_effect is not None and not a.primary:
            raise fail(f"analysis[{i}].smallest_effect", "applies to primary analyses only", "primary = true")
    _one_council_checks(model.inference, fail)
    if model.inference.pretrend_draws == "own" and not model.inference.shared_size_draws:
        raise fail(
            "inference.pretrend_draws",
            '"own" changes only shared draws, and shared_size_draws is not true',
            "shared_size_draws = true beside it, or no pretrend_draws",
        )
    primaries = {a.label for a in model.analysis if a.primary}
    for j, label in enumerate(model.inference.family or []):
        if label not in primaries:
            raise fail(f"inference.family[{j}]", f"{label!r} is not a primary analysis", "labels of primary analyses")
    if model.inference.family and len(set(model.inference.family)) != len(model.inference.family):
        raise fail("inference.family", "names an analysis twice", "each label once")


RHO_EXPECTED = (
    "a number >= 1: the largest ratio of the treated council's standard deviation to a comparison council's "
    "that you assume (e.g. 2)"
)
ONE_COUNCIL_INTERVALS = ("auto-size", "studentized", "ferman_pinto")


def _one_council_checks(inference: Inference, fail: Any) -> None:
    """one_council = "hagemann" needs hagemann_rho >= 1 and a size-keeping interval (the rows it replaces)."""
    rho = inference.hagemann_rho
    if inference.one_council is None:
        if rho is not None:
            raise fail("inference.hagemann_rho", "is set without one_council", 'one_council = "hagemann" beside it')
        return
    if rho is None:
        raise fail("inference.hagemann_rho", 'missing (one_council = "hagemann" needs it)', RHO_EXPECTED)
    if not rho >= 1:
        raise fail("inference.hagemann_rho", f"is {rho!r}", RHO_EXPECTED)
    if inference.interval not in ONE_COUNCIL_INTERVALS:
        raise fail(
            "inference.one_council",
            f"applies to the size-keeping intervals, not interval = {inference.interval or 'auto'!r}",
            "interval = " + ", ".join(repr(k) for k in ONE_COUNCIL_INTERVALS),
        )


def _plain_options(value: Any, key: str, file: Path) -> Any:
    """Options go to JSON (lock, results.json): strings, numbers, booleans, arrays and tables only."""
    if isinstance(value, dict):
        return {k: _plain_options(v, _join(key, k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_options(v, f"{key}[{i}]", file) for i, v in enumerate(value)]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise EvalkitError(f"is {value}", file=file, column=key, expected="a finite number")
    if isinstance(value, (str, int, float, bool)):
        return value
    raise EvalkitError(
        f"is a {type(value).__name__}", file=file, column=key, expected="a string, number, boolean, array or table"
    )


# --------------------------------------------------------------------------- one line per error


def _join(prefix: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


def _type_name(value: Any) -> str:
    for kind, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a float"),
        (str, "a string"),
        (dict, "a table"),
        (list, "an array"),
    ):
        if isinstance(value, kind):
            return name
    return f"a {type(value).__name__}"


_BRANCH = re.compile(r"^(literal|list|dict|str|int|float|bool|nullable|function-\w+|tagged-union)\[")


def _clean_loc(loc: tuple[Any, ...], doc: Any) -> tuple[list[Any], Any]:
    """Drop pydantic's union-branch and discriminator segments; return the path and the value there."""
    path: list[Any] = []
    node: Any = doc
    for seg in loc:
        if isinstance(seg, str) and _BRANCH.match(seg):
            continue
        if isinstance(seg, str) and isinstance(node, dict) and seg not in node and node.get("method") == seg:
            continue  # the discriminator tag pydantic puts in the location
        path.append(seg)
        if isinstance(node, dict):
            node = node.get(seg)
        elif isinstance(node, list) and isinstance(seg, int) and seg < len(node):
            node = node[seg]
        else:
            node = None
    return path, node


def _dotted(path: list[Any]) -> str:
    out = ""
    for seg in path:
        out = f"{out}[{seg}]" if isinstance(seg, int) else _join(out, str(seg))
    return out


def _one_error(exc: ValidationError, doc: dict[str, Any], file: Path) -> EvalkitError:
    """The first error, as one line naming the key and what was expected."""
    errors = exc.errors()
    # Report unknown sections first (as the old checker did), then the most specific problem.
    errors.sort(
        key=lambda e: (not (e["type"] == "extra_forbidden" and len(e["loc"]) == 1), -len(_clean_loc(e["loc"], doc)[0]))
    )
    e = errors[0]
    path, value = _clean_loc(e["loc"], doc)
    key, kind, ctx = _dotted(path), e["type"], e.get("ctx", {})
    value = e.get("input", value) if kind != "missing" else None

    def err(message: str, expected: str | None = None) -> EvalkitError:
        return EvalkitError(message, file=file, column=key, expected=expected)

    if kind == "missing":
        if len(path) == 1:
            if path[0] == "analysis":
                return err("missing [[analysis]]", "at least one [[analysis]] table")
            return err(f"missing section [{path[0]}]", f"a [{path[0]}] table")
        return err("missing required key", _expected_for(path))
    if kind == "extra_forbidden":
        if len(path) == 1:
            return err("unknown section", "one of " + ", ".join(f"[{s}]" for s in SECTIONS))
        allowed = _allowed_keys(path[:-1], doc)
        return err("unknown key", "one of " + ", ".join(allowed) if allowed else None)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        key = _join(key, "method")
        tag = value.get("method") if isinstance(value, dict) else None
        choices = methods.METHOD_KEYS if path[:1] == ["analysis"] and len(path) == 2 else ("rm", "sd")
        what = "method" if len(path) == 2 else "sensitivity method"
        if kind == "union_tag_not_found":
            return err("missing required key", "one of " + ", ".join(choices))
        if not isinstance(tag, str):
            return err(f"is {_type_name(tag)}", "a string: one of " + ", ".join(choices))
        return err(f"unknown {what} {tag!r}", "one of " + ", ".join(choices))
    if path == ["sample", "treated"]:
        shown = f"unknown value {value!r}" if isinstance(value, str) else f"is {_type_name(value)}"
        return err(shown, '"registry" or a list of {unit = "...", first_year = 2016}')
    if kind == "list_type" and path == ["analysis"] and isinstance(value, dict):
        return err("is a single table", "an array of tables written [[analysis]]")
    if kind == "too_short" and path == ["analysis"]:
        return err("is empty", "at least one [[analysis]] table")
    if kind in ("too_short", "too_long") and path == ["sample", "years"]:
        return err(f"has {len(value)} elements", "[first, last]")
    if kind == "literal_error":
        what = {"donors": "donor pool"}.get(str(path[-1]), "value")
        return err(f"unknown {what} {value!r}", "one of " + str(ctx.get("expected", "")).replace("'", ""))
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern")
        if pattern == NAME_PATTERN:
            return err(f"invalid {path[-1]} {value!r}", "lowercase letters, digits, '-' or '_' only")
        if pattern == HEX64_PATTERN:
            return err("is not a sha256 digest", "64 lowercase hexadecimal characters")
        hit = re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", value) if isinstance(value, str) else None
        if hit:
            return err(
                f"contains the control character U+{ord(hit.group(0)):04X}",
                "text without control characters (tab and line break allowed)",
            )
        return err("is empty", "a non-empty string")
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        if path == ["inference", "alpha"] or path[-1] == "alpha":
            return err(f"is {value!r}", "a number between 0 and 1, e.g. 0.05")
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()), "")
        noun = "an integer" if isinstance(value, int) else "a number"
        return err(f"is {value!r}", f"{noun} {op} {bound}")
    if kind == "plan":
        return err(ctx["reason"], ctx.get("expected"))
    if kind == "finite_number":
        return err(f"is {value}", "a finite number")
    expected = {
        "int_type": "an integer",
        "int_from_float": "an integer",
        "bool_type": "true or false",
        "string_type": "a string",
        "float_type": "a number",
        "list_type": "an array",
        "tuple_type": "an array",
        "dict_type": "a table",
        "model_type": "a table",
        "model_attributes_type": "a table",
    }.get(kind)
    if expected:
        return err(f"is {_type_name(value)}", expected)
    return err(e["msg"])


def _model_at(path: list[Any], doc: Any) -> type[BaseModel] | None:
    """The pydantic model that describes the table at `path` (for listing the keys it allows)."""
    ann: Any = Plan
    node: Any = doc
    for seg in path:
        if isinstance(seg, int):
            node = node[seg] if isinstance(node, list) and seg < len(node) else None
            ann = _unwrap(ann, list)
            continue
        model = _resolve(ann, node)
        if model is None or seg not in model.model_fields:
            return None
        ann, node = model.model_fields[seg].annotation, node.get(seg) if isinstance(node, dict) else None
    return _resolve(ann, node)


_UNIONS = (Union, types.UnionType)


def _unwrap(ann: Any, origin: Any) -> Any:
    import typing

    while typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    if typing.get_origin(ann) in _UNIONS:
        ann = next((a for a in typing.get_args(ann) if typing.get_origin(a) is origin), ann)
    return typing.get_args(ann)[0] if typing.get_origin(ann) is origin else ann


def _resolve(ann: Any, node: Any) -> type[BaseModel] | None:
    """The model class an annotation stands for, choosing a union's member by its `method` tag."""
    import typing

    while typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    if typing.get_origin(ann) in _UNIONS:
        for a in typing.get_args(ann):
            m = _resolve(a, node)
            if m is None:
                continue
            tag = m.model_fields.get("method")
            if tag is None or not isinstance(node, dict) or node.get("method") in typing.get_args(tag.annotation):
                return m
    return None


def _allowed_keys(path: list[Any], doc: Any) -> list[str]:
    model = _model_at(path, doc)
    return list(model.model_fields) if model is not None else []


def _expected_for(path: list[Any]) -> str:
    return {
        "name": "a name of lowercase letters, digits, '-' or '_'",
        "seed": "an integer seed",
        "panel": "a path relative to the working directory",
        "label": "a unique label",
        "outcome": "an outcome column name",
        "unit": "a unit code",
        "first_year": "an integer year",
    }.get(str(path[-1]), "a value")


# --------------------------------------------------------------------------- [multiverse] values
# The dimensions a [multiverse] table may vary and their allowed values (evalkit.multiverse runs them).

NA = "n/a"
ESTIMATORS = tuple(methods.MULTIVERSE)  # methods.Method.multiverse: the estimators a multiverse may vary
# Comparison pools. never / notyet: the estimator's control group; inadequate: never-treated councils
# also judged inadequate before the last move (those the DfE directed that stayed in-house);
# matched: the comparators `evalkit panel --match` chose; neighbours: DfE statistical neighbours of a
# treated council (2025 model).
COMPARISONS = ("never", "notyet", "inadequate", "matched", "neighbours")
CHOICES: dict[str, tuple[Any, ...] | None] = {
    "comparison": COMPARISONS,
    "years": None,  # [first, last] pairs
    "boundaries": ("aggregate", "separate"),
    "kingston_richmond": ("joint", "separate", "out"),
    "northamptonshire": ("in", "out"),
    "estimator": ESTIMATORS,
    "covariates": None,  # lists of panel columns
    "anticipation": (0, 1),
    "est_method": ("reg", "ipw", "dr"),
}
DEFAULTS: dict[str, Any] = {
    "comparison": "never",
    "years": None,
    "boundaries": "aggregate",
    "kingston_richmond": "joint",
    "northamptonshire": "in",
    "estimator": "cs",
    "covariates": [],
    "anticipation": 0,
    "est_method": "reg",
}
# Which choices each estimator uses (the others are "n/a" for it), and the comparison pools it can use
# (imputation always uses every untreated council-year): from the method registry.
USES: dict[str, set[str]] = {k: set(m.multiverse.uses) for k, m in methods.MULTIVERSE.items() if m.multiverse}
POOLS: dict[str, tuple[str, ...]] = {k: m.multiverse.pools for k, m in methods.MULTIVERSE.items() if m.multiverse}
SAMPLE_DIMENSIONS = ("years", "boundaries", "kingston_richmond", "northamptonshire")


def validate_multiverse(table: Any, file: str) -> dict[str, Any]:
    """Check a [multiverse] table; return it with defaults (max_specs 500, seed 1, outcome None)."""

    def fail(key: str, message: str, expected: str) -> EvalkitError:
        return EvalkitError(message, file=file, column=f"multiverse.{key}", expected=expected)

    if not isinstance(table, dict):
        raise fail("", "is not a table", "a [multiverse] table")
    unknown = sorted(set(table) - {"max_specs", "seed", "outcome", "dimensions"})
    if unknown:
        raise fail(unknown[0], "unknown key", "max_specs, seed, outcome or dimensions")
    out: dict[str, Any] = {}
    for key, default in (("max_specs", 500), ("seed", 1)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(key, f"is {value!r}", "a positive integer")
        out[key] = value
    outcome = table.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        raise fail("outcome", f"is {outcome!r}", "an outcome column name")
    out["outcome"] = outcome
    dims = table.get("dimensions", {})
    if not isinstance(dims, dict) or not dims:
        raise fail("dimensions", "is missing or empty", "a [multiverse.dimensions] table")
    out_dims: dict[str, list[Any]] = {}
    for name, values in dims.items():
        if name not in CHOICES:
            raise fail(f"dimensions.{name}", "unknown dimension", ", ".join(CHOICES))
        if not isinstance(values, list) or not values:
            raise fail(f"dimensions.{name}", f"is {values!r}", "a non-empty array of values")
        allowed = CHOICES[name]
        for i, v in enumerate(values):
            key = f"dimensions.{name}[{i}]"
            if name == "years":
                if not (
                    isinstance(v, list)
                    and len(v) == 2
                    and all(isinstance(y, int) and not isinstance(y, bool) for y in v)
                    and v[0] < v[1]
                ):
                    raise fail(key, f"is {v!r}", "[first, last] years")
            elif name == "covariates":
                if not (isinstance(v, list) and all(isinstance(c, str) for c in v)):
                    raise fail(key, f"is {v!r}", 'a list of panel columns, e.g. [] or ["population_0_17"]')
            elif v not in allowed or isinstance(v, bool):
                raise fail(key, f"unknown value {v!r}", "one of " + ", ".join(map(str, allowed)))
        if len({json.dumps(v) for v in values}) != len(values):
            raise fail(f"dimensions.{name}", "has a repeated value", "each value once")
        out_dims[name] = list(values)
    out["dimensions"] = out_dims
    return out
