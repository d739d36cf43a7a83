"""Report figures as deterministic SVG text.

Every figure is drawn on a bare `matplotlib.figure.Figure` (no pyplot, no global backend), inside
an `rc_context` that fixes the SVG hash salt, keeps text as text (`svg.fonttype = "none"`, so
figures stay small, searchable and readable by screen readers) and uses the DejaVu Sans metrics
bundled with matplotlib. The SVG is saved without date or creator metadata, and a <title> and
<desc> are inserted for accessibility. Same input, same matplotlib version: same bytes.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DEMO_TITLE_PREFIX = "SYNTHETIC DEMO DATA — "

# Colour-blind safe (Okabe–Ito) colours.
BLUE = "#0072B2"
ORANGE = "#D55E00"
GREY = "#999999"
BLACK = "#000000"

_RC: dict[str, Any] = {
    "svg.hashsalt": "evalkit",
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "path.simplify": False,
    "savefig.bbox": "standard",
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.unicode_minus": True,
}


@dataclass(frozen=True)
class SvgFigure:
    """One figure: a file-name stem (`fig-<slug>`), its alt text, and the SVG document."""

    slug: str
    title: str
    alt: str
    svg: str

    @property
    def filename(self) -> str:
        return f"fig-{self.slug}.svg"

    def inline(self) -> str:
        """The SVG element for embedding in HTML (no XML prolog; style scoped to the figure)."""
        text = re.sub(r"^<\?xml[^>]*>\s*", "", self.svg)
        text = re.sub(r"^<!DOCTYPE[^>]*>\s*", "", text)
        # matplotlib's ids (figure_1, axes_1, ...) repeat across figures: prefix them with the slug
        # so the HTML page has unique ids, and rewrite the references to them.
        prefix = self.slug + "-"
        ids = {i for i in re.findall(r'\bid="([^"]+)"', text) if not i.startswith(prefix)}
        text = re.sub(
            r'(\bid="|url\(#|href="#)([^")]+)',
            lambda m: m.group(1) + (prefix + m.group(2) if m.group(2) in ids else m.group(2)),
            text,
        )
        text = text.replace("*{stroke-linejoin", f"#{self.slug_id} *{{stroke-linejoin", 1)
        text = text.replace("<svg ", f'<svg id="{self.slug_id}" ', 1)
        return text.strip() + "\n"

    @property
    def slug_id(self) -> str:
        return "svg-" + self.slug


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _title(text: str, demo: bool) -> str:
    return (DEMO_TITLE_PREFIX + text) if demo else text


def _render(fig: Figure, slug: str, title: str, alt: str) -> SvgFigure:
    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"evalkit-{slug}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    # Accessibility: role, label and a <title>/<desc> as the first children of <svg>.
    t_id, d_id = f"{slug}-title", f"{slug}-desc"
    svg = svg.replace("<svg ", f'<svg role="img" aria-labelledby="{t_id} {d_id}" ', 1)
    svg = re.sub(
        r"(<svg [^>]*>)",
        lambda m: (
            m.group(1) + f'\n <title id="{t_id}">{escape(title)}</title>\n <desc id="{d_id}">{escape(alt)}</desc>'
        ),
        svg,
        count=1,
    )
    svg = svg.replace("\r\n", "\n")
    if not svg.endswith("\n"):
        svg += "\n"
    return SvgFigure(slug=slug, title=title, alt=alt, svg=svg)


def _new_figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def _fmt(v: float | None) -> str:
    return "missing" if v is None else f"{v:.3g}"


# --------------------------------------------------------------------------- event study


def event_study(
    rows: list[dict[str, Any]], *, slug: str, title: str, outcome: str, demo: bool, alpha: float | None = None
) -> SvgFigure | None:
    """Estimates and confidence intervals by event time (rows with aggregation "dynamic")."""
    pts = sorted(
        (int(r["event_time"]), _clean(r.get("estimate")), _clean(r.get("ci_low")), _clean(r.get("ci_high")))
        for r in rows
        if r.get("event_time") is not None and _clean(r.get("estimate")) is not None
    )
    if not pts:
        return None
    full_title = _title(title, demo)
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2, 4.0)
        ax = fig.add_subplot()
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        lo = [p[1] - p[2] if p[2] is not None else 0.0 for p in pts]
        hi = [p[3] - p[1] if p[3] is not None else 0.0 for p in pts]
        colours = [ORANGE if x >= 0 else BLUE for x in xs]
        ax.axhline(0.0, color=BLACK, linewidth=0.8)
        ax.axvline(-0.5, color=GREY, linewidth=0.8, linestyle="--")
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=GREY, elinewidth=1.2, capsize=3)
        ax.scatter(xs, ys, c=colours, s=28, zorder=3)
        level = f"{100 * (1 - alpha):.0f}% " if alpha else ""
        ax.set_xlabel("Years since the move (0 = first year under the new model)")
        ax.set_ylabel(f"Effect on {outcome}")
        ax.set_title(full_title, loc="left", wrap=True)
        ax.set_xticks(sorted(set(xs)))
        ax.text(
            0.99,
            0.02,
            f"bars: {level}confidence intervals",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color="#555555",
        )
    post = [p for p in pts if p[0] >= 0]
    pre = [p for p in pts if p[0] < 0]
    alt = (
        f"Event-study plot of the estimated effect on {outcome} by years since the move, "
        f"from {xs[0]} to {xs[-1]}. {len(pre)} pre-move and {len(post)} post-move estimates"
        + (
            f"; post-move estimates range from {_fmt(min(p[1] for p in post))} to {_fmt(max(p[1] for p in post))}"
            if post
            else ""
        )
        + ". The same numbers are in the event-study table."
    )
    return _render(fig, slug, full_title, alt)


# --------------------------------------------------------------------------- synthetic control


def _by_unit(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(str(r.get("unit")), []).append(r)
    for v in out.values():
        v.sort(key=lambda r: (r.get("time") is None, r.get("time")))
    return dict(sorted(out.items()))


def synth_paths(
    paths: list[dict[str, Any]],
    *,
    slug: str,
    title: str,
    outcome: str,
    demo: bool,
    treatment_times: dict[str, int] | None = None,
    max_units: int = 12,
) -> SvgFigure | None:
    """Treated unit(s) and their synthetic controls over time; one small panel per treated unit."""
    units = _by_unit(paths)
    if not units:
        return None
    shown = list(units)[:max_units]
    n = len(shown)
    ncols = 1 if n == 1 else min(3, n)
    nrows = math.ceil(n / ncols)
    full_title = _title(title, demo)
    treatment_times = treatment_times or {}
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2 if n == 1 else 3.0 * ncols, 4.0 if n == 1 else 2.4 * nrows + 0.8)
        axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True)
        for i, unit in enumerate(shown):
            ax = axes[i // ncols][i % ncols]
            rs = units[unit]
            t = [r["time"] for r in rs]
            ax.plot(t, [_clean(r.get("treated")) for r in rs], color=ORANGE, linewidth=1.8, label="treated")
            ax.plot(
                t,
                [_clean(r.get("synthetic")) for r in rs],
                color=BLUE,
                linewidth=1.6,
                linestyle="--",
                label="synthetic control",
            )
            if unit in treatment_times:
                ax.axvline(treatment_times[unit] - 0.5, color=GREY, linewidth=0.8, linestyle=":")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if n > 1 else 8, integer=True))
            if n > 1:
                ax.set_title(unit, fontsize=9, loc="left")
            if i == 0:
                ax.legend(frameon=False, fontsize=7 if n > 1 else 8, loc="best")
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        if n == 1:
            axes[0][0].set_title(full_title, loc="left", wrap=True)
            axes[0][0].set_xlabel("Year")
            axes[0][0].set_ylabel(outcome)
        else:
            fig.suptitle(full_title, x=0.02, ha="left", fontsize=11)
            fig.supxlabel("Year", fontsize=9)
            fig.supylabel(outcome, fontsize=9)
    extra = f" (first {max_units} of {len(units)} treated units shown)" if len(units) > max_units else ""
    alt = (
        f"Line chart of {outcome} over time for {len(units)} treated unit(s){extra} and their synthetic "
        f"controls. The dotted vertical line marks the move where known; a gap after it is the "
        f"estimated effect."
    )
    return _render(fig, slug, full_title, alt)


def _series(rows: Iterable[dict[str, Any]], keys: tuple[str, ...], x: str) -> dict[tuple, list[tuple[float, float]]]:
    """Group rows into sorted (x, gap) series keyed by `keys`."""
    out: dict[tuple, list[tuple[float, float]]] = {}
    for r in rows:
        xv, gv = _clean(r.get(x)), _clean(r.get("gap"))
        if xv is None:
            continue
        out.setdefault(tuple(str(r.get(k)) for k in keys), []).append((xv, gv if gv is not None else math.nan))
    for v in out.values():
        v.sort()
    return dict(sorted(out.items()))


def _band(series: dict[tuple, list[tuple[float, float]]]) -> tuple[list[float], list[float], list[float]]:
    """5th and 95th percentiles of the series at each x (for many placebo lines)."""
    import numpy as np

    by_x: dict[float, list[float]] = {}
    for pts in series.values():
        for xv, gv in pts:
            if gv == gv:
                by_x.setdefault(xv, []).append(gv)
    xs = sorted(by_x)
    lo = [float(np.percentile(by_x[x], 5)) for x in xs]
    hi = [float(np.percentile(by_x[x], 95)) for x in xs]
    return xs, lo, hi


MAX_PLACEBO_LINES = 200


def synth_gaps(
    paths: list[dict[str, Any]] | None,
    placebo: list[dict[str, Any]] | None,
    *,
    slug: str,
    title: str,
    outcome: str,
    demo: bool,
    treatment_times: dict[str, int] | None = None,
) -> SvgFigure | None:
    """Gap (treated minus synthetic) for the treated unit(s), over placebo gaps in grey.

    Staggered designs (placebo rows carry `treated_unit`, paths carry `event_time`) are drawn by
    years since the move. More than 200 placebo series are summarised as a 5-95% band.
    """
    paths, placebo = paths or [], placebo or []
    if not paths and not placebo:
        return None
    staggered = bool(placebo and "treated_unit" in placebo[0]) or bool(
        paths and "event_time" in paths[0] and len({r.get("unit") for r in paths}) > 1
    )
    x = "time"
    if staggered and paths and "event_time" in paths[0]:
        x = "event_time"
        first = {
            str(r["unit"]): int(r["time"]) - int(r["event_time"])
            for r in paths
            if r.get("time") is not None and r.get("event_time") is not None
        }
        if placebo and "treated_unit" in placebo[0]:
            placebo = [
                dict(r, event_time=int(r["time"]) - first[str(r["treated_unit"])])
                for r in placebo
                if r.get("time") is not None and str(r.get("treated_unit")) in first
            ]
        else:
            placebo = []
    treated = _series(paths, ("unit",), x)
    pkeys = ("treated_unit", "unit") if placebo and "treated_unit" in placebo[0] else ("unit",)
    placebos = _series(placebo, pkeys, x)
    full_title = _title(title, demo)
    many = len(treated) > 5
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2, 4.0)
        ax = fig.add_subplot()
        ax.axhline(0.0, color=BLACK, linewidth=0.8)
        if len(placebos) > MAX_PLACEBO_LINES:
            bx, lo, hi = _band(placebos)
            ax.fill_between(
                bx,
                lo,
                hi,
                color=GREY,
                alpha=0.35,
                linewidth=0,
                label=f"placebo gaps, middle 90% ({len(placebos)} placebo runs)",
            )
        else:
            for k, pts in enumerate(placebos.values()):
                ax.plot(
                    [p[0] for p in pts],
                    [p[1] for p in pts],
                    color=GREY,
                    linewidth=0.7,
                    alpha=0.6,
                    label="placebo (each donor as if treated)" if k == 0 else None,
                )
        palette = [ORANGE, "#CC79A7", "#009E73", "#E69F00", "#56B4E9"]
        for k, ((unit,), pts) in enumerate(treated.items()):
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                color=ORANGE if many else palette[k % len(palette)],
                linewidth=1.0 if many else 2.0,
                alpha=0.7 if many else 1.0,
                label=("treated units" if k == 0 else None) if many else f"treated: {unit}",
            )
        if many:
            import numpy as np

            by_x: dict[float, list[float]] = {}
            for pts in treated.values():
                for xv, gv in pts:
                    if gv == gv:
                        by_x.setdefault(xv, []).append(gv)
            mx = sorted(by_x)
            ax.plot(
                mx, [float(np.mean(by_x[v])) for v in mx], color=BLACK, linewidth=2.2, label="average of treated units"
            )
        if x == "event_time":
            ax.axvline(-0.5, color=GREY, linewidth=0.8, linestyle=":")
            ax.set_xlabel("Years since the move (0 = first year under the new model)")
        else:
            for t in sorted({v for k, v in (treatment_times or {}).items() if (k,) in treated}):
                ax.axvline(t - 0.5, color=GREY, linewidth=0.8, linestyle=":")
            ax.set_xlabel("Year")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        ax.set_title(full_title, loc="left", wrap=True)
        ax.set_ylabel(f"Gap in {outcome}\n(treated minus synthetic)")
        ax.legend(frameon=False, fontsize=8, loc="best")
    shown = "as a band holding the middle 90% of" if len(placebos) > MAX_PLACEBO_LINES else "as grey lines for"
    alt = (
        f"Line chart of the gap in {outcome} between each treated unit and its synthetic control "
        f"({len(treated)} treated, in colour{', with their average in black' if many else ''}) "
        f"by {'years since the move' if x == 'event_time' else 'year'}, and placebo gaps {shown} "
        f"{len(placebos)} placebo runs. An effect is credible when the treated gap after the move stands out "
        f"from the placebo gaps."
    )
    return _render(fig, slug, full_title, alt)


def synth_weights(
    weights: list[dict[str, Any]], *, slug: str, title: str, demo: bool, top: int = 20
) -> SvgFigure | None:
    """Horizontal bar chart of donor weights (largest first, zero weights left out).

    With several treated units (a `treated_unit` column) the bars are each donor's average weight
    across the treated units' synthetic controls.
    """
    per_treated = bool(weights) and "treated_unit" in weights[0]
    totals: dict[str, float] = {}
    for r in weights:
        w = _clean(r.get("weight"))
        if w is not None:
            totals[str(r.get("unit"))] = totals.get(str(r.get("unit")), 0.0) + w
    n_treated = len({str(r.get("treated_unit")) for r in weights}) if per_treated else 1
    items = [(u, w / n_treated) for u, w in totals.items() if abs(w / n_treated) >= 1e-6]
    if not items:
        return None
    items.sort(key=lambda x: (-x[1], x[0]))
    shown = items[:top]
    full_title = _title(title, demo)
    xlabel = (
        f"Average weight across the {n_treated} treated units' synthetic controls"
        if per_treated
        else "Weight in the synthetic control"
    )
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2, 1.2 + 0.28 * len(shown))
        ax = fig.add_subplot()
        names = [s[0] for s in shown][::-1]
        vals = [s[1] for s in shown][::-1]
        ax.barh(range(len(shown)), vals, color=BLUE)
        ax.set_yticks(range(len(shown)), labels=names, fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_title(full_title, loc="left", wrap=True)
        ax.grid(axis="y", visible=False)
    omitted = len(items) - len(shown)
    alt = (
        f"Bar chart of the {len(shown)} largest donor weights"
        + (f" (average over {n_treated} treated units)" if per_treated else "")
        + (f" ({omitted} more non-zero weights not shown)" if omitted else "")
        + ": "
        + "; ".join(f"{n} {w:.3f}" for n, w in shown[:5])
        + ("; …" if len(shown) > 5 else ".")
    )
    return _render(fig, slug, full_title, alt)


def synth_rmspe(
    rmspe: list[dict[str, Any]],
    *,
    slug: str,
    title: str,
    demo: bool,
    treated_units: set[str] | None = None,
    top: int = 40,
) -> SvgFigure | None:
    """Post/pre RMSPE ratios, treated unit(s) highlighted; a dot per unit, largest first.

    Rows with a boolean `treated` column mark the treated units. With several treated units (a
    `treated_unit` column) each treated unit is shown with its rank among its own placebo runs.
    """
    treated_units = set(treated_units or set())
    treated_units |= {str(r.get("unit")) for r in rmspe if r.get("treated") is True}
    per_treated = bool(rmspe) and "treated_unit" in rmspe[0]
    items: list[tuple[str, float]] = []
    if per_treated:
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rmspe:
            groups.setdefault(str(r.get("treated_unit")), []).append(r)
        for tu, rs in sorted(groups.items()):
            own = [r for r in rs if str(r.get("unit")) == tu]
            ratio = _clean(own[0].get("ratio")) if own else None
            if ratio is None:
                continue
            others = [_clean(r.get("ratio")) for r in rs if str(r.get("unit")) != tu]
            others = [o for o in others if o is not None]
            rank = 1 + sum(o > ratio for o in others)
            items.append((f"{tu} (rank {rank} of {len(others) + 1})", ratio))
        treated_names = {n for n, _ in items}
    else:
        for r in rmspe:
            ratio = _clean(r.get("ratio"))
            if ratio is not None:
                items.append((str(r.get("unit")), ratio))
        treated_names = treated_units
    if not items:
        return None
    items.sort(key=lambda x: (-x[1], x[0]))
    shown = items[:top]
    # Always show the treated units, even when they rank low.
    shown += [it for it in items[top:] if it[0] in treated_names]
    shown.sort(key=lambda x: (-x[1], x[0]))
    full_title = _title(title, demo)
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2, 1.2 + 0.22 * len(shown))
        ax = fig.add_subplot()
        names = [s[0] for s in shown][::-1]
        vals = [s[1] for s in shown][::-1]
        colours = [ORANGE if n in treated_names else GREY for n in names]
        log = min(vals) > 0 and max(vals) / min(vals) > 100
        base = min(vals) / 2 if log else 0.0
        ax.hlines(range(len(shown)), base, vals, color=colours, linewidth=1.2)
        ax.scatter(vals, range(len(shown)), c=colours, s=22, zorder=3)
        ax.set_yticks(range(len(shown)), labels=names, fontsize=7 if len(shown) > 25 else 8)
        if log:
            ax.set_xscale("log")
        ax.set_xlabel("Post-move RMSPE / pre-move RMSPE" + (" (log scale)" if log else ""))
        ax.set_title(full_title, loc="left", wrap=True)
        ax.grid(axis="y", visible=False)
    if per_treated:
        alt = (
            f"Dot chart of the ratio of post- to pre-move prediction error for each of {len(items)} treated "
            f"units, labelled with its rank among its own placebo runs (rank 1 = largest ratio)."
        )
    else:
        ranks = [i + 1 for i, it in enumerate(items) if it[0] in treated_names]
        extra = f" (the {len(shown)} largest shown)" if len(shown) < len(items) else ""
        alt = (
            f"Dot chart of the ratio of post- to pre-move prediction error for {len(items)} units{extra}"
            + (f"; treated unit(s) in orange rank {', '.join(map(str, ranks))} of {len(items)}" if ranks else "")
            + ". A treated unit with one of the largest ratios suggests an effect beyond chance."
        )
    return _render(fig, slug, full_title, alt)


# --------------------------------------------------------------------------- multiverse


def specification_curve(
    rows: list[dict[str, Any]], dimensions: list[str], *, slug: str, title: str, outcome: str, demo: bool
) -> SvgFigure | None:
    """Specification curve: estimates sorted, with intervals (top); which choices each used (below).

    The intervals are one filled band and the estimates one line, and the choice indicators one
    image, so the SVG stays small with hundreds of specifications."""
    import numpy as np

    pts = [r for r in rows if r.get("status") == "ok" and _clean(r.get("estimate")) is not None]
    if not pts:
        return None
    pts.sort(key=lambda r: (float(r["estimate"]), str(r["id"])))
    n = len(pts)
    x = np.arange(1, n + 1)
    est = np.array([float(r["estimate"]) for r in pts])
    lo = np.array([_clean(r.get("ci_low")) if _clean(r.get("ci_low")) is not None else np.nan for r in pts])
    hi = np.array([_clean(r.get("ci_high")) if _clean(r.get("ci_high")) is not None else np.nan for r in pts])
    levels = [
        (d, v)
        for d in dimensions
        for v in sorted({str(r[d]) for r in pts})
        if v != "n/a" and len({str(r[d]) for r in pts} - {"n/a"}) > 1
    ]
    full_title = _title(title, demo)
    with matplotlib.rc_context(_RC):
        fig = _new_figure(8.0, 4.2 + 0.16 * len(levels))
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, max(1, 0.16 * len(levels) / 1.2)])
        top.axhline(0.0, color=BLACK, linewidth=0.8)
        has = np.isfinite(lo) & np.isfinite(hi)
        excl = has & ((lo > 0) | (hi < 0))
        top.fill_between(
            x,
            np.where(has, lo, est),
            np.where(has, hi, est),
            color=GREY,
            alpha=0.35,
            linewidth=0,
            step="mid",
            label="interval",
        )
        top.plot(x, est, color=BLUE, linewidth=1.2, label="estimate")
        if excl.any():
            top.plot(
                x[excl],
                est[excl],
                linestyle="none",
                marker="o",
                markersize=2.5,
                color=ORANGE,
                label="interval excludes zero",
            )
        top.set_ylabel(f"Effect on {outcome}")
        top.set_title(full_title, loc="left", wrap=True)
        top.legend(loc="upper left", fontsize=8, frameon=False)
        if levels:
            mat = np.array([[1.0 if str(r[d]) == v else 0.0 for r in pts] for d, v in levels])
            bottom.imshow(
                mat,
                aspect="auto",
                cmap="Greys",
                vmin=0,
                vmax=1.4,
                interpolation="nearest",
                extent=(0.5, n + 0.5, len(levels) - 0.5, -0.5),
            )
            bottom.set_yticks(range(len(levels)))
            bottom.set_yticklabels([f"{d.replace('_', ' ')}: {v}" for d, v in levels], fontsize=7)
            bottom.grid(False)
        bottom.set_xlabel(f"Specifications, sorted by estimate ({n})")
        bottom.set_xlim(0.5, n + 0.5)
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    share_neg = float(np.mean(est < 0))
    alt = (
        f"Specification curve of {n} estimates of the effect on {outcome}, sorted from {_fmt(float(est.min()))} "
        f"to {_fmt(float(est.max()))}; {share_neg:.0%} are negative and {int(excl.sum())} have an interval that "
        "excludes zero. Below, a grid marks the choices each specification used. The same numbers are in "
        "multiverse.parquet."
    )
    return _render(fig, slug, full_title, alt)
