"""Render `results.json` into `report.html` (self-contained) and `report.md` (+ `fig-*.svg`).

Both formats come from one list of blocks (see `evalkit.report.blocks`), in this order: title and
question; the plan and any deviations from its lock; which estimate to trust and why; the primary
analyses (tables, event-study and synthetic-control figures); robustness checks (the other
analyses); coverage and missing data; treated councils with sources; balance; limitations;
provenance. Output bytes depend only on the input file (and the matplotlib version): no
timestamps, no absolute paths, sorted keys, fixed SVG hash salt.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path
from typing import Any

from evalkit import columns, methods
from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_text, sha256_file
from evalkit.report import answer_blocks as AB
from evalkit.report import council, exits
from evalkit.report import council_figures as CF
from evalkit.report import figures as F
from evalkit.report import sensitivity as S
from evalkit.report.blocks import (
    Banner,
    BulletList,
    Code,
    Details,
    Fig,
    Heading,
    Inline,
    Link,
    Para,
    Pre,
    Strong,
    Table,
    block_html,
    block_md,
)
from evalkit.report.since import load_changes, since_blocks

DEMO_BANNER = "SYNTHETIC DEMO DATA — not real statistics"

# Rows that summarise an analysis in one number, most preferred first.
HEADLINE_AGGREGATIONS = ("simple", "overall", "pooled", "att", "average", "coef")
# Rows shown in collapsible tables rather than the main table.
DETAIL_AGGREGATIONS = {
    "dynamic": "Event-study estimates (by years since the move)",
    "calendar": "Estimates by calendar year",
    "att_gt": "Group-time estimates (first-treated year × year)",
    "honest": "Sensitivity to violations of parallel trends (Rambachan & Roth 2023)",
    "honest_breakdown": "Breakdown values (smallest violation whose robust interval includes zero)",
    "pretrend": "Analytic Wald pre-trend test (a diagnostic, not evidence: with few treated councils it rejects far "
    "too often; the verdict uses the permutation pre-trend test). 'Effect' is the chi-squared statistic",
}
DETAIL_INLINE_ROWS = 30  # longer detail tables are written as CSV beside the report (write_tables)
EXTRA_WORDS = {
    "weights": "Donor weights (comparison councils in each synthetic control)",
    "rmspe": "Fit before and after the move (RMSPE) of every council, treated and placebo",
}
SYNTH_EXTRAS = ("paths", "placebo", "weights", "rmspe", "event_study")


# --------------------------------------------------------------------------- formatting


def fmt_num(v: Any, digits: int = 3) -> str:
    if v is None or isinstance(v, bool):
        return "—"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if f != f or f in (float("inf"), float("-inf")):
        return "—"
    if f != 0 and abs(f) < 10**-digits:
        return f"{f:.{digits}g}"
    if abs(f) >= 10000:
        return f"{f:,.1f}"
    return f"{f:.{digits}f}"


def fmt_p(p: Any) -> str:
    if p is None:
        return "—"
    try:
        f = float(p)
    except (TypeError, ValueError):
        return str(p)
    if f != f:
        return "—"
    return "<0.001" if f < 0.001 else f"{f:.3f}"


def fmt_ci(lo: Any, hi: Any) -> str:
    if lo is None or hi is None:
        return "—"
    return f"{fmt_num(lo)} to {fmt_num(hi)}"


def fmt_value(v: Any) -> str:
    """Any JSON value as short text (compact JSON for tables and lists)."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, ".6g")
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    return str(v)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-") or "x"


def _cell(value: Any) -> Inline:
    if isinstance(value, str) and re.match(r"^https?://\S+$", value):
        return Link(value, value)
    return fmt_value(value)


# --------------------------------------------------------------------------- reading


def load_results(path: str | Path) -> dict[str, Any]:
    """Read results.json and check the keys the report cannot do without."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalkitError("results file not found; run `evalkit estimate` first", file=path) from None
    except json.JSONDecodeError as exc:
        raise EvalkitError(
            f"not valid JSON: {exc.msg}",
            file=path,
            row=exc.lineno,
            expected="results.json written by `evalkit estimate`",
        ) from None
    if not isinstance(doc, dict):
        raise EvalkitError("not a JSON object", file=path, expected="results.json written by `evalkit estimate`")
    for key, kind in (("title", str), ("name", str), ("analyses", list), ("provenance", dict)):
        if not isinstance(doc.get(key), kind):
            raise EvalkitError(
                f"missing or wrong type ({type(doc.get(key)).__name__})",
                file=path,
                column=key,
                expected=f"a {'string' if kind is str else 'list' if kind is list else 'object'}",
            )
    for i, a in enumerate(doc["analyses"]):
        if not isinstance(a, dict) or not isinstance(a.get("results"), dict) or "label" not in a:
            raise EvalkitError(
                "analysis lacks label or results",
                file=path,
                column=f"analyses[{i}]",
                expected="{label, title, primary, results}",
            )
        if not isinstance(a["results"].get("estimates", []), list):
            raise EvalkitError(
                "estimates is not a list",
                file=path,
                column=f"analyses[{i}].results.estimates",
                expected="a list of estimate rows",
            )
    return doc


# --------------------------------------------------------------------------- analysis helpers


def _alpha(doc: dict[str, Any], results: dict[str, Any]) -> float:
    a = (results.get("inference") or {}).get("alpha")
    if a is None:
        a = ((doc.get("plan") or {}).get("inference") or {}).get("alpha")
    try:
        return float(a) if a is not None else 0.05
    except (TypeError, ValueError):
        return 0.05


def headline_row(results: dict[str, Any]) -> dict[str, Any] | None:
    """The one row that summarises an analysis, with its default interval: the decision rule's own row
    (analysis.verdict.headline); for a method with no registered headline (an event study) the first
    summary row."""
    from evalkit.analysis.intervals import default_row
    from evalkit.analysis.verdict import headline

    head = headline(results) if results.get("estimates") else None
    if head is not None:
        return head
    rows = results.get("estimates") or []
    for agg in HEADLINE_AGGREGATIONS:
        for r in rows:
            if r.get("aggregation") == agg:
                return default_row(rows, str(r.get("name"))) or r
    for r in rows:
        if r.get("aggregation") not in DETAIL_AGGREGATIONS and r.get("aggregation") not in ("group", "unit"):
            return r
    return None


def interval_name(row: dict[str, Any]) -> str:
    """'confidence interval' for analytic rows, else what made the interval (randomisation, wild bootstrap...)."""
    from evalkit.analysis.verdict import interval_kind

    kind = interval_kind(row)
    return {
        "analytic": "confidence interval",
        "randomization": "randomisation interval",
        "randomisation": "randomisation interval",
        "wild": "wild cluster bootstrap interval",
        "studentized": "studentised randomisation interval",
        "ferman_pinto": "size-rescaled (Ferman-Pinto) randomisation interval",
        "hagemann": "Hagemann rearrangement interval",
    }.get(kind, f"{kind} interval")


def _unit_names(doc: dict[str, Any]) -> dict[str, str]:
    names = {}
    for r in doc.get("registry") or []:
        if not isinstance(r, dict):
            continue
        unit = r.get("unit") or r.get("la_code")
        name = r.get("la_name") or r.get("name")
        if unit and name:
            names[str(unit)] = str(name)
    for a in doc.get("analyses") or []:  # harmonised units (e.g. "314 / 318") are named in each analysis' accounting
        for t in ((a.get("results") or {}).get("diagnostics") or {}).get("treated_units") or []:
            if isinstance(t, dict) and t.get("unit") and t.get("name") and str(t["unit"]) not in names:
                names[str(t["unit"])] = str(t["name"])
    return names


_BASE_AGGREGATION = {"simple": "simple", "coef": "coef", "att": "pooled", "dynamic": "dynamic", "group": "group"}


def row_label(row: dict[str, Any], unit_names: dict[str, str]) -> str:
    """A row of an estimates table in words, never its internal name."""
    agg = row.get("aggregation")
    name = str(row.get("name", ""))
    if row.get("interval") == "hagemann":  # one council's row (opt-in [inference] one_council)
        return f"{row_label(_base_of(row), unit_names)}, {hagemann_words(row.get(HAGEMANN_RHO_KEY))}"
    for suffix, words in ((":randomisation", "randomisation interval"), (":wild_bootstrap", "wild bootstrap interval")):
        if name.endswith(suffix):  # the same estimand as its base row, with the rule's interval
            base = name.removesuffix(suffix)
            kind = _BASE_AGGREGATION.get(base.split(":")[0], "")
            return f"{row_label({**row, 'name': base, 'aggregation': kind}, unit_names)}, {words}"
    if agg in ("honest", "honest_breakdown") or name.startswith("honest:"):
        m = re.search(r"honest:(rm|sd)(?::(mbar|m)=([\d.]+))?", name)
        if m:
            how = "relative magnitudes" if m.group(1) == "rm" else "smoothness"
            bound = f", {'M-bar' if m.group(2) == 'mbar' else 'M'} = {m.group(3)}" if m.group(3) else ""
            return f"Robust to parallel-trend violations ({how}{bound})"
    if name.startswith("event:e=") and agg == "dynamic" and row.get("event_time") is None:
        row = {**row, "event_time": int(name.split("=", 1)[1])}
    if agg == "dynamic" and row.get("event_time") is None and ":e=" in name:
        row = {**row, "event_time": int(name.split("=", 1)[1])}
    if agg == "dynamic" and row.get("event_time") is None:
        return "Average over years since the move"
    if agg == "calendar" and row.get("time") is None and "t=" not in name:
        return "Average over calendar years"
    if agg == "group" and row.get("group") is None and "g=" in name:
        row = {**row, "group": int(re.search(r"g=(-?\d+)", name).group(1))}
    if agg == "simple":
        return "Overall (average over treated councils and years)"
    if agg == "overall":
        return "Overall"
    if agg == "pooled":
        return "Pooled over treated units"
    if agg == "coef":
        return f"Coefficient: {name.split(':', 1)[1]}" if ":" in name else f"Coefficient: {name}"
    if agg == "group":
        if row.get("group") is not None:
            return f"Councils that moved in {row['group']}"
        return "Average over cohorts (councils grouped by year of the move)"
    if agg == "unit" and row.get("unit") is not None:
        u = str(row["unit"])
        return f"{unit_names[u]} ({u})" if u in unit_names else u
    if agg == "dynamic" and row.get("event_time") is not None:
        e = int(row["event_time"])
        return f"{e} years after" if e > 0 else ("Year of the move" if e == 0 else f"{-e} years before")
    if agg == "calendar":
        if row.get("time") is not None:
            return f"Year {row['time']}"
        m = re.search(r"t=(-?\d+)", name)
        return f"Year {m.group(1)}" if m else name
    if agg == "att_gt":
        return f"moved {row.get('group')}, year {row.get('time')}"
    return name


HAGEMANN_RHO_KEY = "_hagemann_rho"  # carried on a report's rows only, for their label


def hagemann_words(rho: Any) -> str:
    allowing = f"up to {float(rho):g} times" if rho is not None else "a bounded multiple of"
    return f"Hagemann rearrangement test, allowing the council {allowing} the comparison councils' variability"


def _base_of(row: dict[str, Any]) -> dict[str, Any]:
    """The estimand's own row for a few-treated row `<name>:<kind>` (its label without the interval)."""
    base = str(row.get("name", "")).rsplit(":", 1)[0]
    head = base.split(":")[0]
    return {**row, "name": base, "aggregation": _BASE_AGGREGATION.get(head, head), "interval": None}


def _with_rho(rows: list[dict[str, Any]], inference: dict[str, Any]) -> list[dict[str, Any]]:
    """Hagemann rows carry the run's rho, for their label."""
    rho = next(
        (v["one_council"].get("rho") for v in inference.values() if isinstance(v, dict) and "one_council" in v), None
    )
    return [{**r, HAGEMANN_RHO_KEY: rho} if r.get("interval") == "hagemann" else r for r in rows]


def _one_council_blocks(results: dict[str, Any], unit_names: dict[str, str]) -> list:
    """What the Hagemann rows assume, and the one-council rows it could not give an interval."""
    out: list = []
    for kind in ("studentized", "ferman_pinto"):
        one = ((results.get("inference") or {}).get(kind) or {}).get("one_council")
        if not one:
            continue
        given = sorted(n for n, r in one["rows"].items() if not r.get("why"))
        if given:
            out.append(
                Para(
                    f"Estimates resting on one council ({len(given)}) use Hagemann's rearrangement test (REStud 2025): "
                    "the council's own before-after comparison against the same comparison in each comparison "
                    f"council, allowing its standard deviation up to {float(one['rho']):g} times every comparison "
                    "council's (an assumption, not estimated). The p-value is twice the smaller one-sided p-value, and 1 "
                    "when the council's comparison lies within the comparison councils' own spread, where the test "
                    "rejects at no level."
                )
            )
        for name, why in sorted(one["refused"].items()):
            out.append(Para(f"No valid interval for {row_label(_base_of({'name': name + ':x'}), unit_names)}: {why}."))
    return out


def _no_valid_interval_blocks(results: dict[str, Any], unit_names: dict[str, str]) -> list:
    """Plain sentences where inference was refused: synthetic-control placebos on unidentified fits, and
    rows resting on one council without a valid interval (estimators.size_robust)."""
    out: list = []
    refused = (results.get("diagnostics") or {}).get("placebo_refused") or {}
    for unit, why in sorted(refused.items()):
        out.append(Para(f"No placebo p-value for {unit_names.get(unit, unit)}: {why}."))
    for kind in ("studentized", "ferman_pinto"):
        none = ((results.get("inference") or {}).get(kind) or {}).get("no_valid_interval")
        if none:
            out.append(Para(f"No valid interval for {', '.join(none['names'])}: {none['why']}."))
    return out


def _ci_or_none(r: dict[str, Any]) -> str:
    """The interval, or a plain statement that no valid one exists (a studentised row resting on one council)."""
    if r.get("ci_low") is None and r.get("interval") == "studentized" and r.get("p_value") is None:
        return "none valid (rests on one council)"
    if r.get("ci_low") is None and r.get("interval") == "hagemann":
        return "none valid (one council: see below)"
    return fmt_ci(r.get("ci_low"), r.get("ci_high"))


def _estimates_table(
    rows: list[dict[str, Any]], alpha: float, unit_names: dict[str, str], caption: str | None = None
) -> Table:
    level = f"{100 * (1 - alpha):.0f}%"
    return Table(
        columns=["Estimate", "Effect", "Standard error", f"{level} confidence interval", "p-value"],
        rows=[
            [
                row_label(r, unit_names),
                fmt_num(r.get("estimate")),
                fmt_num(r.get("se")),
                _ci_or_none(r),
                fmt_p(r.get("p_value")),
            ]
            for r in rows
        ],
        numeric={1, 2, 3, 4},
        caption=caption,
    )


def _main_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def rank(r: dict[str, Any]) -> int:
        agg = r.get("aggregation")
        if agg in HEADLINE_AGGREGATIONS:
            return HEADLINE_AGGREGATIONS.index(agg)
        return {"group": 10, "unit": 11}.get(agg, 12)

    main = [r for r in rows if r.get("aggregation") not in DETAIL_AGGREGATIONS]
    return sorted(main, key=rank)  # stable: keeps the estimator's order within a kind


def _kv_table(items: dict[str, Any], caption: str, first: str = "Setting") -> Table:
    return Table(columns=[first, "Value"], rows=[[k, fmt_value(v)] for k, v in sorted(items.items())], caption=caption)


def _treatment_times(doc: dict[str, Any], results: dict[str, Any]) -> dict[str, int]:
    times: dict[str, int] = {}
    for r in doc.get("registry") or []:
        if isinstance(r, dict) and r.get("unit") is not None and isinstance(r.get("first_year"), int):
            times[str(r["unit"])] = r["first_year"]
    for r in results.get("estimates") or []:
        if r.get("aggregation") == "unit" and r.get("unit") is not None and isinstance(r.get("group"), int):
            times[str(r["unit"])] = r["group"]
    return times


def _outcome_axis(column: str) -> str:
    """The outcome as figures name it: words and unit from the column catalogue, never the column name."""
    col = columns.get(column)
    return f"{col.label} ({col.unit})" if col.unit and col.scale == 1.0 else col.label


def analysis_figures(doc: dict[str, Any], analysis: dict[str, Any]) -> list[F.SvgFigure]:
    """Every figure for one analysis, in report order."""
    demo = bool(doc.get("synthetic_demo"))
    results = analysis["results"]
    label = _slug(analysis["label"])
    title = str(analysis.get("title") or analysis["label"])
    outcome = _outcome_axis(str(results.get("outcome", "")))
    extra = results.get("extra") or {}
    out: list[F.SvgFigure | None] = []
    dyn = [r for r in results.get("estimates") or [] if r.get("aggregation") == "dynamic"]
    if not dyn and isinstance(extra.get("event_study"), list):
        dyn = extra["event_study"]
    if dyn:
        out.append(
            F.event_study(
                dyn,
                slug=f"{label}-event-study",
                title=f"{title}: event study",
                outcome=outcome,
                demo=demo,
                alpha=_alpha(doc, results),
            )
        )
    sens = S.summary(results)
    if sens is not None:
        out.append(
            S.figure(
                sens,
                slug=f"{label}-sensitivity",
                title=f"{title}: sensitivity to parallel trends",
                outcome=outcome,
                demo=demo,
            )
        )
    if analysis.get("method") == "time_to_good":
        moves = {
            str(r["la_code"]): int(r["first_treated_year"])
            for r in doc.get("registry") or []
            if isinstance(r, dict) and r.get("role") == "treated" and isinstance(r.get("first_treated_year"), int)
        }
        out.append(
            CF.ofsted_timelines(
                extra.get("timelines") or [],
                slug=f"{label}-timelines",
                title="Ofsted judgements: councils that moved, and councils under a direction",
                demo=demo,
                moves=moves,
            )
        )
        out.append(
            CF.km_curves(
                extra.get("km") or [],
                extra.get("spells") or [],
                slug=f"{label}-km",
                title="Time from 'inadequate' to 'good or better' (Kaplan-Meier)",
                demo=demo,
            )
        )
        return [f for f in out if f is not None]
    times = _treatment_times(doc, results)
    if extra.get("paths") and extra.get("rmspe") and "event_time" in extra["paths"][0]:
        out.append(
            CF.synth_councils(
                extra["paths"],
                extra.get("placebo"),
                extra.get("rmspe"),
                results.get("estimates") or [],
                _unit_names(doc),
                slug=f"{label}-councils",
                title=f"{title}: each council against its synthetic control",
                outcome=outcome,
                demo=demo,
            )
        )
    elif extra.get("paths"):
        out.append(
            F.synth_paths(
                extra["paths"],
                slug=f"{label}-synth-paths",
                title=f"{title}: treated and synthetic control",
                outcome=outcome,
                demo=demo,
                treatment_times=times,
            )
        )
    if extra.get("paths") or extra.get("placebo"):
        out.append(
            F.synth_gaps(
                extra.get("paths"),
                extra.get("placebo"),
                slug=f"{label}-synth-gaps",
                title=f"{title}: gaps with placebo gaps",
                outcome=outcome,
                demo=demo,
                treatment_times=times,
            )
        )
    if extra.get("weights"):
        out.append(
            F.synth_weights(extra["weights"], slug=f"{label}-synth-weights", title=f"{title}: donor weights", demo=demo)
        )
    if extra.get("rmspe"):
        treated_units = {str(r.get("unit")) for r in extra.get("paths") or []}
        treated_units |= {
            str(r["unit"])
            for r in results.get("estimates") or []
            if r.get("aggregation") == "unit" and r.get("unit") is not None
        }
        out.append(
            F.synth_rmspe(
                extra["rmspe"],
                slug=f"{label}-synth-rmspe",
                title=f"{title}: post/pre RMSPE ratios",
                demo=demo,
                treated_units=treated_units,
            )
        )
    return _with_answer([f for f in out if f is not None], doc, analysis)


def _with_answer(figs: list[F.SvgFigure], doc: dict[str, Any], analysis: dict[str, Any]) -> list[F.SvgFigure]:
    """Captions of an analysis that answers a question (or a model type, or a part of spending) begin with
    that answer, from the stored answers: the same words and numbers as the first screen."""
    import dataclasses

    from evalkit import answers as A

    stored = doc.get("answers") or {}
    mine = next(
        (
            a
            for a in (stored.get("questions") or [])
            + (stored.get("by_model") or [])
            + (stored.get("spending_parts") or [])
            if a.get("label") == analysis.get("label")
        ),
        None,
    )
    if mine is None or mine.get("estimate") is None:
        return figs
    lead = f"Answer: {A.found_words(mine) if mine.get('verdict') else mine['outcome_words']}; {A.size_words(mine)}; {A.sureness_words(mine)}. "
    return [dataclasses.replace(f, alt=lead + f.alt) for f in figs]


def _method_title(key: str) -> str:
    return methods.METHODS[key].title if key in methods.METHODS else key


def _method_note(key: str) -> str:
    return methods.METHODS[key].note if key in methods.METHODS else ""


def method_code(doc: dict[str, Any], analysis: dict[str, Any]) -> str:
    """The plan's method code for an analysis (cs, synth, ...), else the estimator's own name."""
    for a in (doc.get("plan") or {}).get("analysis") or []:
        if isinstance(a, dict) and a.get("label") == analysis.get("label") and a.get("method"):
            return str(a["method"])
    m = str(analysis["results"].get("method", ""))
    return methods.key_of_result(m)


def _uncertainty(inference: dict[str, Any]) -> str:
    text = inference.get("se_type") or inference.get("method") or ""
    return str(text).replace("_", " ")


def _analysis_blocks(
    doc: dict[str, Any], analysis: dict[str, Any], figs: list[F.SvgFigure], unit_names: dict[str, str]
) -> list:
    results = analysis["results"]
    label = str(analysis["label"])
    title = str(analysis.get("title") or label)
    method = method_code(doc, analysis)
    alpha = _alpha(doc, results)
    inference = results.get("inference") or {}
    blocks: list = [Heading(3, title, f"analysis-{_slug(label)}")]
    desc: list = [
        "Label ",
        Code(label),
        f"; method: {_method_title(method)} (",
        Code(method),
        "); outcome: ",
        Code(str(results.get("outcome", ""))),
        ".",
    ]
    if _uncertainty(inference):
        desc.append(f" Uncertainty: {_uncertainty(inference)}.")
    blocks.append(Para(desc))
    if analysis.get("reason"):
        blocks.append(Para(["Why this analysis: ", str(analysis["reason"])]))
    if analysis.get("method") == "time_to_good":
        blocks += council.journey_blocks(doc, analysis)
        blocks += [Fig(f) for f in figs]
        return blocks
    if (results.get("diagnostics") or {}).get("no_estimate"):
        blocks.append(Para(["No estimate: ", str(results["diagnostics"]["no_estimate"]), "."]))
    rows = _with_rho(results.get("estimates") or [], inference)
    main = _main_rows(rows)
    if main:
        blocks.append(_estimates_table(main, alpha, unit_names, caption=f"Estimates: {title}"))
    else:
        blocks.append(Para("This analysis has no summary estimates."))
    sens = S.summary(results)
    if sens is not None:
        c = next((c for c in doc.get("conclusions") or [] if c.get("label") == label), {})
        lo, hi = c.get("ci_low"), c.get("ci_high")
        detected = lo is not None and hi is not None and (lo > 0 or hi < 0)
        blocks.append(Para(S.sentence(sens, str(results.get("outcome", "")), c.get("verdict"), detected)))
    blocks += _no_valid_interval_blocks(results, unit_names)
    blocks += _one_council_blocks(results, unit_names)
    for agg, caption in DETAIL_AGGREGATIONS.items():
        sub = [r for r in rows if r.get("aggregation") == agg]
        if agg == "dynamic":
            sub.sort(key=lambda r: (r.get("event_time") is None, r.get("event_time")))
        if len(sub) > DETAIL_INLINE_ROWS:  # long tables are files beside the report, not pages of it
            blocks.append(
                Para([f"{caption}: {len(sub)} rows in ", Code(detail_csv_name(label, agg)), " beside this report."])
            )
        elif sub:
            blocks.append(
                Details(
                    f"{caption} — {len(sub)} rows",
                    [_estimates_table(sub, alpha, unit_names, caption=f"{caption}: {title}")],
                )
            )
    for fig in figs:
        blocks.append(Fig(fig))
    extra = results.get("extra") or {}
    for name in sorted(extra):
        table = extra[name]
        if (name in SYNTH_EXTRAS and name not in ("weights", "rmspe")) or name.startswith("vcov"):
            continue
        if not isinstance(table, list) or not table or not isinstance(table[0], dict):
            continue
        words = EXTRA_WORDS.get(name, name.replace("_", " "))
        blocks.append(
            Para([f"{words}: {len(table)} rows in ", Code(detail_csv_name(label, name)), " beside this report."])
        )
    settings = {f"inference.{k}": v for k, v in inference.items()}
    settings.update({f"options.{k}": v for k, v in (results.get("options") or {}).items()})
    settings["seed"] = results.get("seed")
    diag = results.get("diagnostics") or {}
    inner = [_kv_table(settings, f"Settings: {title}")]
    if diag:
        short = {k: v for k, v in diag.items() if not isinstance(v, (list, dict))}
        short.update(
            {
                k: f"{len(v)} entries, in {detail_json_name(label)}"
                for k, v in diag.items()
                if isinstance(v, (list, dict))
            }
        )
        inner.append(_kv_table(short, f"Diagnostics: {title}", first="Diagnostic"))
    blocks.append(Details("Settings and diagnostics", inner))
    return blocks


# --------------------------------------------------------------------------- sections


def _plan_blocks(doc: dict[str, Any]) -> list:
    blocks: list = [Heading(2, "The analysis plan", "plan")]
    plan = doc.get("plan")
    if not isinstance(plan, dict):
        blocks.append(Para("No plan was recorded with these results."))
    else:
        data = plan.get("data") or {}
        sample = plan.get("sample") or {}
        inf = plan.get("inference") or {}
        treated = sample.get("treated", "registry")
        if isinstance(treated, list):
            treated_text = (
                ", ".join(f"{t.get('unit')} (from {t.get('first_year')})" for t in treated if isinstance(t, dict))
                or "none"
            )
        else:
            treated_text = "the register of alternative delivery models" if treated == "registry" else str(treated)
        years = sample.get("years")
        rows = [
            ["Panel", Code(str(data.get("panel", "—")))],
            ["Years", f"{years[0]} to {years[1]}" if isinstance(years, list) and len(years) == 2 else "all available"],
            ["Treated councils", treated_text],
            ["Comparison councils", str(sample.get("donors", "—")).replace("_", " ")],
            ["Excluded councils", ", ".join(map(str, sample.get("exclude_units") or [])) or "none"],
            ["Significance level (alpha)", fmt_value(inf.get("alpha"))],
            ["Random seed", fmt_value(inf.get("seed"))],
            ["Bootstrap draws", fmt_value(inf.get("bootstrap"))],
            ["Placebo permutations", fmt_value(inf.get("permutations"))],
        ]
        blocks.append(Table(columns=["Setting", "Value"], rows=rows, caption="Plan settings"))
        analyses = plan.get("analysis") or []
        if analyses:
            blocks.append(
                Table(
                    columns=["Label", "Title", "Method", "Outcome", "Primary", "Options"],
                    rows=[
                        [
                            Code(str(a.get("label"))),
                            str(a.get("title", "")),
                            str(a.get("method", "")),
                            Code(str(a.get("outcome", ""))),
                            "yes" if a.get("primary") else "no",
                            fmt_value(a.get("options") or {}) if a.get("options") else "—",
                        ]
                        for a in analyses
                        if isinstance(a, dict)
                    ],
                    caption="Planned analyses",
                )
            )
    blocks.append(Heading(3, "Changes since the plan was locked", "deviations"))
    lock = doc.get("lock")
    devs = doc.get("deviations") or []
    if devs:
        blocks.append(
            Para(
                [
                    Strong(f"The plan was changed after it was locked: {len(devs)} field(s) differ. "),
                    "Results from changed fields were not pre-registered.",
                ],
                css="warning",
            )
        )
        blocks.append(
            Table(
                columns=["Field", "Locked plan", "Plan as run"],
                rows=[
                    [Code(str(d.get("field"))), fmt_value(d.get("locked")), fmt_value(d.get("current"))]
                    for d in devs
                    if isinstance(d, dict)
                ],
                caption="Deviations from the locked plan",
            )
        )
    elif isinstance(lock, dict):
        blocks.append(
            Para(
                [
                    f"None. The plan is unchanged since it was locked on {lock.get('locked_at', '(date not recorded)')} ",
                    "(sha256 ",
                    Code(str(lock.get("sha256", "—"))),
                    ").",
                ]
            )
        )
    else:
        blocks.append(
            Para(
                "The plan was not locked before the estimates were run, so it is not a "
                "pre-registration: analysis choices may have been made after seeing results."
            )
        )
    return blocks


def _trust_blocks(doc: dict[str, Any], primaries: list[dict], others: list[dict], unit_names: dict[str, str]) -> list:
    blocks: list = [Heading(2, "Which estimate to trust", "trust")]
    lock = doc.get("lock")
    devs = doc.get("deviations") or []
    for a in primaries:
        res = a["results"]
        row = headline_row(res)
        method = method_code(doc, a)
        title = str(a.get("title") or a["label"])
        level = f"{100 * (1 - _alpha(doc, res)):.0f}%"
        if row is not None:
            blocks.append(
                Para(
                    [
                        Strong(f"Primary estimate — {title}: "),
                        f"{fmt_num(row.get('estimate'))} on {columns.label(str(res.get('outcome', 'the outcome')))} "
                        f"({level} {interval_name(row)} {fmt_ci(row.get('ci_low'), row.get('ci_high'))}; "
                        f"p-value {fmt_p(row.get('p_value'))}).",
                    ],
                    css="headline",
                )
            )
        else:
            blocks.append(Para([Strong(f"Primary analysis — {title}: "), "no summary estimate was produced."]))
        why = str(a["rationale"]) if a.get("rationale") else ""
        if isinstance(lock, dict) and not any(
            str(d.get("field", "")).startswith("analysis") for d in devs if isinstance(d, dict)
        ):
            reason = (
                f"It was named as the primary analysis in the plan before estimation "
                f"(plan locked on {lock.get('locked_at', 'an unrecorded date')})."
            )
        elif isinstance(lock, dict):
            reason = (
                "It is marked primary in the plan, but the analyses were changed after the plan was locked; "
                "see the deviations above."
            )
        else:
            reason = "It is marked primary in the plan; the plan was not locked, so this choice was not pre-registered."
        text = " ".join(x for x in (why, reason, _method_note(method)) if x)
        blocks.append(Para(["Why: ", text]))
    if not primaries:
        blocks.append(
            Para(
                "No analysis was marked primary in the plan, so no single estimate is singled out. "
                "Read the estimates together, and prefer methods that allow for councils moving "
                "in different years."
            )
        )
    summary_rows = []
    for a in primaries + others:
        res = a["results"]
        row = headline_row(res) or {}
        summary_rows.append(
            [
                str(a.get("title") or a["label"]),
                "primary" if a in primaries else "robustness",
                method_code(doc, a),
                fmt_num(row.get("estimate")),
                fmt_num(row.get("se")),
                fmt_ci(row.get("ci_low"), row.get("ci_high")),
                interval_name(row) if row else "",
                fmt_p(row.get("p_value")),
            ]
        )
    if summary_rows:
        blocks.append(
            Table(
                columns=[
                    "Analysis",
                    "Role",
                    "Method",
                    "Effect",
                    "Standard error",
                    "Interval",
                    "Kind of interval",
                    "p-value",
                ],
                rows=summary_rows,
                numeric={3, 4, 5, 7},
                caption="Summary estimate of every analysis, with the interval the verdict would use",
            )
        )
    return blocks


def _power_blocks(doc: dict[str, Any]) -> list:
    """Rejection rate against a true effect for each primary analysis (the plan's [power] section)."""
    power = doc.get("power")
    if not isinstance(power, dict) or not power.get("analyses"):
        return []
    from evalkit.analysis.verdict import outcome_words

    conf = power.get("settings") or {}
    blocks: list = [
        Heading(2, "What could have been detected", "power"),
        Para(
            f"Placebo adoptions: the treated councils' adoption years were given to never-treated councils drawn at random "
            f"({conf.get('draws')} draws, cohort sizes kept), a known effect was added, and each primary analysis was run "
            f"with its own default interval. The minimum detectable effect (MDE) is the smallest effect found in at least "
            f"{100 * float(conf.get('power', 0.8)):.0f}% of draws."
            + (
                " Each analysis's second table ('Every interval on this panel') comes from its own, independent placebo "
                "draws (another seed), so for the verdict's interval its rejection rate and MDE differ from the curve's "
                "by Monte Carlo error (a 5% rate over 100 draws has a standard error of about 2 points); the sentence "
                "beside each verdict quotes the second table."
                if any(a.get("calibration") for a in power["analyses"])
                else ""
            )
        ),
    ]
    for a in power["analyses"]:
        words, unit = outcome_words(str(a.get("outcome")))
        blocks.append(
            Para(
                [
                    Strong(f"{words}: "),
                    f"MDE {fmt_num(a.get('mde_increase'))} (increase) and "
                    f"{fmt_num(a.get('mde_decrease'))} (decrease) {unit}; with no effect, "
                    f"{100 * float(a.get('size', float('nan'))):.0f}% of placebo draws were called an effect.",
                ]
            )
        )
        blocks.append(
            Table(
                columns=["True effect", "Share of draws calling it an effect"],
                rows=[[fmt_num(c["effect"]), f"{100 * c['rejection_rate']:.0f}%"] for c in a.get("curve", [])],
                numeric={0, 1},
                caption=f"Power: {a.get('label')}",
            )
        )
        cal = (a.get("calibration") or {}).get("designs") or {}
        if cal:
            rows = [
                [
                    interval_name({"interval": kind}),
                    design.replace("_", " "),
                    f"{100 * c['size']:.1f}%" if c.get("size") is not None else "-",
                    str(c.get("draws", 0)),
                    fmt_num(c.get("mde_increase")),
                    fmt_num(c.get("mde_decrease")),
                ]
                for design, kinds in cal.items()
                for kind, c in kinds.items()
            ]
            blocks.append(
                Table(
                    columns=["Interval", "Placebo draws", "Rejected a true zero", "Draws", "MDE up", "MDE down"],
                    rows=rows,
                    numeric={2, 3, 4, 5},
                    caption=f"Every interval on this panel: {a.get('label')}",
                )
            )
    return blocks


def _coverage_blocks(doc: dict[str, Any]) -> list:
    blocks: list = [Heading(2, "Coverage and missing data", "coverage")]
    cov = [c for c in doc.get("coverage") or [] if isinstance(c, dict)]
    if not cov:
        return blocks + [Para("Coverage was not recorded.")]
    rows = []
    for c in cov:
        reasons = c.get("missing_reasons") or {}
        reason_text = "; ".join(f"{str(k).replace('_', ' ')}: {v}" for k, v in sorted(reasons.items())) or "—"
        rows.append(
            [
                Code(str(c.get("measure", ""))),
                fmt_value(c.get("units")),
                fmt_value(c.get("years")),
                fmt_value(c.get("missing")),
                reason_text,
            ]
        )
    blocks.append(
        Table(
            columns=["Measure", "Councils", "Years", "Missing values", "Why missing"],
            rows=rows,
            numeric={1, 3},
            caption="Coverage of each measure in the panel",
        )
    )
    return blocks


def _balance_blocks(doc: dict[str, Any]) -> list:
    blocks: list = [Heading(2, "Balance", "balance")]
    bal = [b for b in doc.get("balance") or [] if isinstance(b, dict)]
    if not bal:
        return blocks + [Para("Balance was not recorded.")]
    blocks.append(
        Para(
            "Standardised mean differences between treated and comparison councils before and after "
            "weighting or matching. Values within ±0.1 are usually read as well balanced."
        )
    )
    blocks.append(
        Table(
            columns=["Variable", "Before", "After"],
            rows=[
                [Code(str(b.get("variable", ""))), fmt_num(b.get("smd_before")), fmt_num(b.get("smd_after"))]
                for b in bal
            ],
            numeric={1, 2},
            caption="Standardised mean differences",
        )
    )
    return blocks


def _multiverse_blocks(doc: dict[str, Any]) -> tuple[list, list[F.SvgFigure]]:
    """The multiverse section, when the plan has a [multiverse] table (its results: multiverse.json)."""
    if not (doc.get("plan") or {}).get("multiverse"):
        return [], []
    from evalkit.report.multiverse import figure, sentences

    blocks: list = [Heading(2, "Every defensible specification (multiverse)", "multiverse")]
    mv = doc.get("multiverse_results")
    if not mv:
        name = doc.get("name", "PLAN")
        blocks.append(
            Para(
                [
                    "The plan defines a multiverse, but it has not been run: ",
                    Code(f"evalkit multiverse --plan plans/{name}.toml"),
                    ", then report again.",
                ]
            )
        )
        return blocks, []
    note = mv["specifications"]
    blocks.append(
        Para(
            (
                f"All {len(mv['rows'])} distinct specifications"
                if note.get("subset") == "all"
                else f"{len(mv['rows'])} specifications drawn at random (seed {note['seed']}) from the "
                f"{note['distinct_specifications']} distinct ones"
            )
            + ", each with the plan's inference; one row each in multiverse.parquet."
        )
    )
    blocks.append(Para(" ".join(sentences(mv["summary"], note.get("outcome", "the outcome")))))
    fig = figure(mv, demo=bool(doc.get("synthetic_demo")))
    if fig is None:
        return blocks, []
    blocks.append(Fig(fig))
    return blocks, [fig]


def _limitations_blocks(doc: dict[str, Any]) -> list:
    blocks: list = [Heading(2, "Limitations", "limitations")]
    items: list[str] = []
    plan_lims = ((doc.get("plan") or {}).get("report") or {}).get("limitations") or []
    for x in list(doc.get("limitations") or []) + list(plan_lims):
        if isinstance(x, str) and x not in items:
            items.append(x)
    if doc.get("synthetic_demo"):
        demo_line = "These results use synthetic demonstration data and say nothing about real councils."
        if demo_line not in items:
            items.insert(0, demo_line)
    return blocks + ([BulletList(items)] if items else [Para("None recorded.")])


def _provenance_blocks(doc: dict[str, Any]) -> list:
    prov = doc.get("provenance") or {}
    blocks: list = [Heading(2, "Provenance", "provenance")]
    inputs = [i for i in prov.get("inputs") or [] if isinstance(i, dict)]
    if inputs:
        blocks.append(
            Table(
                columns=["Input file", "sha256", "Rows"],
                rows=[
                    [Code(str(i.get("path", ""))), Code(str(i.get("sha256", "—"))), fmt_value(i.get("rows"))]
                    for i in inputs
                ],
                numeric={2},
                caption="Input files",
            )
        )
    sources = prov.get("sources") or {}
    pubs = [p for p in sources.get("publications") or [] if isinstance(p, dict)]
    if pubs:
        blocks.append(
            Para(
                f"Every published file read into the panel ({len(pubs)} files, from "
                f"{sources.get('source_dir') or 'the folder given to ingest'}), with its sha256 and public origin; "
                "the same list is in results.json (provenance.sources)."
            )
        )
        blocks.append(
            Table(
                columns=["File", "Publication", "Release", "Rows", "sha256", "Origin"],
                rows=[
                    [
                        Code(str(p.get("file"))),
                        str(p.get("title") or p.get("source") or "—"),
                        fmt_value(p.get("release")),
                        fmt_value(p.get("rows")),
                        Code(str(p.get("sha256"))),
                        Link(str(p["origin"] or p["url"]), str(p["url"]))
                        if p.get("url")
                        else "not in the source catalogue",
                    ]
                    for p in pubs
                ],
                numeric={3},
                caption="Published files",
            )
        )
    defl = sources.get("deflator")
    cite: list[list[Inline]] = []
    if isinstance(defl, dict):
        cite.append(
            [
                "Deflator",
                f"ONS {defl.get('series')} ({defl.get('title')}), dataset {defl.get('dataset')}, released "
                f"{defl.get('release_date')}, prices of {defl.get('base_label')}; file {defl.get('file')}, "
                f"sha256 {defl.get('sha256')}",
            ]
        )
    for r in sources.get("registry") or []:
        cite.append(["Registry of delivery models", f"{r.get('file')}, sha256 {r.get('sha256')}"])
    if doc.get("plan_file"):
        cite.append(["Plan file", f"{doc['plan_file']}, sha256 {doc.get('plan_sha256') or 'not recorded'}"])
    if cite:
        blocks.append(Table(columns=["Item", "Source"], rows=cite, caption="Deflator, registry and plan"))
    lock = doc.get("lock")
    plan_rows: list[list[Inline]] = [["Plan sha256", Code(str(doc.get("plan_sha256") or "not recorded"))]]
    if isinstance(lock, dict):
        plan_rows.append(["Locked plan file", Code(str(lock.get("plan_file") or doc.get("plan_file") or "—"))])
        plan_rows.append(["Locked plan sha256", Code(str(lock.get("sha256", "—")))])
        plan_rows.append(["Locked at (UTC)", str(lock.get("locked_at", "—"))])
        same = lock.get("sha256") == doc.get("plan_sha256")
        plan_rows.append(["Plan as run matches lock", "yes" if same else "no"])
    else:
        plan_rows.append(["Lock", "the plan was not locked"])
    plan_rows.append(["evalkit version", str(prov.get("evalkit_version", "—"))])
    blocks.append(Table(columns=["Item", "Value"], rows=plan_rows, caption="Plan and software"))
    libs = prov.get("libraries") or {}
    if isinstance(libs, dict) and libs:
        blocks.append(
            Table(
                columns=["Library", "Version"],
                rows=[[k, str(v)] for k, v in sorted(libs.items())],
                caption="Library versions",
            )
        )
    seeds = prov.get("seeds")
    if isinstance(seeds, dict) and seeds:
        blocks.append(_kv_table(seeds, "Random seeds", first="Seed"))
    if prov.get("command"):
        blocks.append(Para("Command that produced the results:"))
        blocks.append(Pre(str(prov["command"])))
    blocks.append(
        Para(["Check that these results reproduce with ", Code(f"evalkit verify reports/{doc['name']}"), "."])
    )
    return blocks


def build_blocks(doc: dict[str, Any]) -> tuple[list, list[F.SvgFigure]]:
    """The report as blocks, plus every figure in order."""
    demo = bool(doc.get("synthetic_demo"))
    unit_names = _unit_names(doc)
    analyses = doc["analyses"]
    primaries = [a for a in analyses if a.get("primary") is True]
    others = [a for a in analyses if a.get("primary") is not True]
    blocks: list = []
    if demo:
        blocks.append(Banner(DEMO_BANNER))
    blocks.append(Heading(1, str(doc["title"])))
    if doc.get("question"):
        blocks.append(Para([Strong("Question: "), str(doc["question"])], css="question"))
    blocks += since_blocks(doc.get("since_last_run"))  # evalkit diff's NEW/changes.json, when there is one
    blocks += AB.first_screen_blocks(doc)  # the stored answers (evalkit.answers), and nothing else
    blocks += AB.bottom_line_blocks(doc)
    blocks += AB.council_blocks(doc)
    blocks += AB.answer_blocks(doc)
    blocks += AB.spending_blocks(doc)
    blocks += _power_blocks(doc)
    blocks += _plan_blocks(doc)
    blocks += _trust_blocks(doc, primaries, others, unit_names)

    all_figs: list[F.SvgFigure] = []
    seen_slugs: set[str] = set()

    def analysis_section(items: list[dict]) -> list:
        out: list = []
        for a in items:
            figs = analysis_figures(doc, a)
            for f in figs:
                if f.slug in seen_slugs:
                    raise EvalkitError(
                        "two analyses produce the same figure name", column=f.slug, expected="unique analysis labels"
                    )
                seen_slugs.add(f.slug)
            all_figs.extend(figs)
            out += _analysis_blocks(doc, a, figs, unit_names)
        return out

    if primaries:
        blocks.append(Heading(2, "Primary results", "results"))
        blocks += analysis_section(primaries)
        blocks.append(Heading(2, "Robustness checks", "robustness"))
        if others:
            blocks.append(
                Para("Other analyses from the plan, to show whether the answer depends on the method or its settings.")
            )
            blocks += analysis_section(others)
        else:
            blocks.append(Para("The plan has no other analyses."))
    else:
        blocks.append(Heading(2, "Results", "results"))
        blocks += analysis_section(others)
    blocks += AB.heterogeneity_blocks(doc)
    blocks += exits.section(doc)  # only when the plan has exit analyses
    mv_blocks, mv_figs = _multiverse_blocks(doc)
    blocks += mv_blocks
    all_figs.extend(mv_figs)
    blocks += _coverage_blocks(doc)
    blocks += AB.anomaly_blocks(doc)
    blocks += council.registry_blocks(doc)
    blocks += _balance_blocks(doc)
    blocks += _limitations_blocks(doc)
    blocks += _provenance_blocks(doc)
    return blocks, all_figs


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  line-height: 1.5; color: #1b1b1b; background: #ffffff; margin: 0; }
main { max-width: 72rem; margin: 0 auto; padding: 0.5rem 1.5rem 3rem; }
h1 { font-size: 1.35rem; line-height: 1.2; margin: 0.5rem 0 0.3rem; }
h2 { font-size: 1.45rem; border-bottom: 2px solid #1b1b1b; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { font-size: 1.15rem; margin-top: 2rem; }
.banner { background: #ffdd00; color: #0b0c0c; border: 3px solid #0b0c0c; padding: 0.6rem 1rem;
  font-size: 1.1rem; text-align: center; margin: 0 0 1rem; }
.question { font-size: 0.95rem; line-height: 1.35; margin: 0.2rem 0; }
.answers table { font-size: 0.8rem; line-height: 1.25; width: 100%; table-layout: fixed; }
.answers th:nth-child(1) { width: 19%; } .answers th:nth-child(2) { width: 15%; }
.answers th:nth-child(3) { width: 21%; } .answers th:nth-child(4) { width: 22%; }
.answers th:nth-child(5) { width: 23%; }
.answers caption { font-size: 1.05rem; }
.answers th, .answers td { padding: 0.25rem 0.4rem; }
.verdict-words { font-size: 0.8rem; color: #333; margin: 0.2rem 0 0.6rem; }
.headline { font-size: 1.1rem; border-left: 6px solid #0072B2; padding: 0.3rem 0.8rem; background: #f3f7fa; }
.warning { border-left: 6px solid #D55E00; padding: 0.3rem 0.8rem; background: #fdf3ee; }
nav { margin: 1rem 0; }
nav h2.toc { font-size: 1rem; border: 0; margin: 0; padding: 0; }
nav ol { columns: 3; padding-left: 1.4rem; margin: 0.3rem 0; }
a { color: #1d4f91; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.9em; }
code { overflow-wrap: break-word; }
pre { background: #f4f4f4; padding: 0.6rem; overflow-x: auto; white-space: pre-wrap; }
.table-wrap { overflow-x: auto; margin: 0.8rem 0; }
table { border-collapse: collapse; font-size: 0.92rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border: 1px solid #b1b4b6; padding: 0.3rem 0.55rem; vertical-align: top; text-align: left; }
thead th { background: #f0f0f0; }
tbody th { font-weight: normal; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2rem 0; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.9rem; color: #454a4d; margin-top: 0.3rem; }
details { margin: 0.6rem 0; }
summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 3rem; font-size: 0.85rem; color: #454a4d; }
@media print { details { display: block; } .table-wrap { overflow: visible; } }
""".strip()


def render_html(doc: dict[str, Any], blocks: list) -> str:
    title = str(doc["title"])
    if doc.get("synthetic_demo"):
        title = f"{DEMO_BANNER}: {title}"
    toc = [(b.anchor, b.text) for b in blocks if isinstance(b, Heading) and b.level == 2 and b.anchor]
    body: list[str] = []
    toc_done = False
    for b in blocks:
        if isinstance(b, Heading) and b.level == 2 and not toc_done:
            items = "".join(f'<li><a href="#{escape(a)}">{escape(t)}</a></li>' for a, t in toc)
            body.append(f'<nav aria-label="Contents"><h2 class="toc">Contents</h2><ol>{items}</ol></nav>\n')
            toc_done = True
        body.append(block_html(b))
    version = escape(str((doc.get("provenance") or {}).get("evalkit_version", "")))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n<main>\n"
        + "".join(body)
        + f"<footer><p>Report generated by evalkit {version} from results.json.</p></footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def render_markdown(doc: dict[str, Any], blocks: list) -> str:
    text = "".join(block_md(b) for b in blocks)
    version = str((doc.get("provenance") or {}).get("evalkit_version", ""))
    text += f"---\n\nReport generated by evalkit {version} from results.json.\n"
    return text


def check_companions(doc: dict[str, Any], results_json_path: Path) -> None:
    """Refuse to render from files of different runs: results.parquet must be the one results.json
    names, and multiverse.json must come from the panel results.json was estimated on."""
    folder = results_json_path.parent
    for name, digest in sorted((doc.get("outputs") or {}).items()):
        path = folder / name
        if path.exists() and sha256_file(path) != digest:
            raise EvalkitError(
                f"{name} is not the file this results.json was written with (another run's, or a run killed "
                "between the two files)",
                file=path,
                expected=f"sha256 {digest}: rerun `evalkit estimate`",
            )
    mv = doc.get("multiverse_results")
    if mv is not None:
        made_from = (mv.get("inputs") or {}).get("panel_sha256")
        estimated_on = {i.get("sha256") for i in (doc.get("provenance") or {}).get("inputs") or []}
        if made_from not in estimated_on:
            raise EvalkitError(
                "multiverse.json was made from another panel than results.json (or names none)",
                file=folder / "multiverse.json",
                expected=f"rerun `evalkit multiverse --plan plans/{doc.get('name')}.toml`",
            )


def _csv(rows: list[list[Any]]) -> str:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def detail_json_name(label: str) -> str:
    return f"{_slug(label)}-diagnostics.json"


def detail_csv_name(label: str, part: str) -> str:
    return f"{_slug(label)}-{_slug(part)}.csv"


def _detail_tables(doc: dict[str, Any]) -> list[tuple[str, list[list[Any]]]]:
    """(file name, rows) of every table the report points to instead of printing: long estimate tables
    (with each row in words beside its internal name) and the estimators' extra tables (unit names added)."""
    names = _unit_names(doc)
    out = []
    for a in doc.get("analyses") or []:
        res = a.get("results") or {}
        if a.get("method") == "time_to_good":
            continue
        rows = res.get("estimates") or []
        for agg in DETAIL_AGGREGATIONS:
            sub = [r for r in rows if r.get("aggregation") == agg]
            if len(sub) > DETAIL_INLINE_ROWS:
                keys = [
                    "name",
                    "estimate",
                    "se",
                    "ci_low",
                    "ci_high",
                    "p_value",
                    "interval",
                    "group",
                    "time",
                    "event_time",
                ]
                table = [["row", *keys]] + [[row_label(r, names), *(r.get(k) for k in keys)] for r in sub]
                out.append((detail_csv_name(str(a["label"]), agg), table))
        for name, table in sorted((res.get("extra") or {}).items()):
            if (name in SYNTH_EXTRAS and name not in ("weights", "rmspe")) or name.startswith("vcov"):
                continue
            if not isinstance(table, list) or not table or not isinstance(table[0], dict):
                continue
            cols = list(table[0].keys())
            head = cols + (["council"] if "unit" in cols else [])
            body = [
                [r.get(c) for c in cols] + ([names.get(str(r.get("unit")), "")] if "unit" in cols else [])
                for r in table
            ]
            out.append((detail_csv_name(str(a["label"]), name), [head, *body]))
    return out


def write_tables(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """Tables to reuse, as CSV beside the report: the answers (one row per question) and the panel's
    flagged values. Written from results.json only, so the same input gives the same bytes."""
    written = []
    questions = (doc.get("answers") or {}).get("questions") or []
    if questions:
        keys = ("label", "outcome", "outcome_words", "unit", "verdict", "estimate", "ci_low", "ci_high", "p_value")
        rows = [[*keys, "baseline", "percent_of_baseline", "councils", "councils_left_out"]]
        for a in questions:
            rows.append(
                [*(a.get(k) for k in keys), (a.get("baseline") or {}).get("value"), a.get("percent_of_baseline")]
                + [
                    "; ".join(c["name"] for c in a.get("councils") or []),
                    "; ".join(f"{c['name']}: {c.get('reason')}" for c in a.get("councils_left_out") or []),
                ]
            )
        atomic_write_text(out_dir / "answers.csv", _csv(rows))
        written.append(out_dir / "answers.csv")
    for name, table in _detail_tables(doc):
        atomic_write_text(out_dir / name, _csv(table))
        written.append(out_dir / name)
    for a in doc.get("analyses") or []:  # each analysis's full diagnostics (the report shows the short ones)
        diag = (a.get("results") or {}).get("diagnostics") or {}
        if any(isinstance(v, (list, dict)) for v in diag.values()):
            target = out_dir / detail_json_name(str(a["label"]))
            atomic_write_text(target, json.dumps(diag, sort_keys=True, indent=1, ensure_ascii=False) + "\n")
            written.append(target)
    flags = (doc.get("anomalies") or {}).get("flags") or []
    if flags:
        rows = [["unit", "name", "column", "kind", "years", "value", "before", "after", "change_percent", "z"]]
        rows += [
            [
                f["unit"],
                f["name"],
                f["column"],
                f["kind"],
                " ".join(str(y) for y in f["years"]),
                f.get("value"),
                f.get("before"),
                f.get("after"),
                f.get("change_percent"),
                " ".join(str(z) for z in f.get("z") or []),
            ]
            for f in flags
        ]
        atomic_write_text(out_dir / "flagged_values.csv", _csv(rows))
        written.append(out_dir / "flagged_values.csv")
    return written


def render_report(results_json_path: Path, out_dir: Path) -> list[Path]:
    """Write report.html, report.md and fig-*.svg into `out_dir`; return the paths written, sorted.

    Stale fig-*.svg files from earlier renders are removed so the folder matches this render. The
    files are rendered first and published as one set (evalkit.generations.staged): a failure or a
    kill leaves the previous report whole.
    """
    from evalkit import generations

    results_json_path, out_dir = Path(results_json_path), Path(out_dir)
    if out_dir.is_dir():
        generations.recover(out_dir)
    if results_json_path.parent != out_dir and results_json_path.parent.is_dir():
        generations.recover(results_json_path.parent)
    doc = load_results(results_json_path)
    mv_file = results_json_path.parent / "multiverse.json"
    if (doc.get("plan") or {}).get("multiverse") and mv_file.exists():
        doc["multiverse_results"] = json.loads(mv_file.read_text(encoding="utf-8"))
    check_companions(doc, results_json_path)
    doc["since_last_run"] = load_changes(results_json_path)  # `evalkit diff OLD NEW` wrote it into NEW
    blocks, figs = build_blocks(doc)
    texts = {f.filename: f.svg for f in figs}
    texts["report.md"] = render_markdown(doc, blocks)
    texts["report.html"] = render_html(doc, blocks)

    def stale(new: set[str]) -> list[str]:
        return [old.name for old in out_dir.glob("fig-*.svg") if old.name not in new]

    with generations.staged(out_dir, remove=stale) as stage:
        for name, text in texts.items():
            atomic_write_text(stage / name, text)
        tables = write_tables(doc, stage)  # the CSV and JSON tables beside the report, in the same set
    written = [out_dir / name for name in texts] + [out_dir / t.name for t in tables]
    return sorted(written)
