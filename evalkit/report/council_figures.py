"""Figures a council leader reads: per-council synthetic controls, Ofsted timelines, time to good.

Same deterministic SVG machinery as `evalkit.report.figures` (bare Figure, fixed hash salt, text as
text, <title>/<desc>).
"""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import numpy as np
from matplotlib.ticker import MaxNLocator

from evalkit.answers import council_fit
from evalkit.report.figures import _RC, BLUE, GREY, ORANGE, SvgFigure, _clean, _new_figure, _render, _title

GRADE_Y = {"outstanding": 1, "good": 2, "requires_improvement": 3, "inadequate": 4}
GRADE_COLOUR = {"outstanding": "#009E73", "good": "#56B4E9", "requires_improvement": "#E69F00", "inadequate": "#D55E00"}
GROUP_COLOUR = {"treated": ORANGE, "directed_in_house": BLUE, "other_in_house": GREY}
GROUP_LABEL = {
    "treated": "trust or company",
    "directed_in_house": "under direction, stayed in-house",
    "other_in_house": "other councils judged inadequate",
}


def _short(name: str) -> str:
    """'Northamptonshire (North and West ... from 2021)' -> 'Northamptonshire'; joint units keep both names."""
    name = name.split(" (")[0]
    return name.replace(" upon Thames", "") if len(name) > 30 else name


def synth_councils(
    paths: list[dict[str, Any]],
    placebo: list[dict[str, Any]] | None,
    rmspe: list[dict[str, Any]] | None,
    estimates: list[dict[str, Any]],
    names: dict[str, str],
    *,
    slug: str,
    title: str,
    outcome: str,
    demo: bool,
) -> SvgFigure | None:
    """One small multiple per treated council, titled with its name: treated (orange), synthetic (blue),
    the placebo band (synthetic + 5th-95th percentile of the donors' placebo gaps, grey), the effect,
    its placebo p-value and the pre-period fit; a warning where only two pre-period years exist."""
    by_unit: dict[str, list[dict]] = {}
    for r in paths:
        by_unit.setdefault(str(r["unit"]), []).append(r)
    if not by_unit:
        return None
    fit = council_fit(paths, rmspe or [], estimates)
    band: dict[str, dict[int, list[float]]] = {}
    for r in placebo or []:
        if r.get("treated_unit") is None or _clean(r.get("gap")) is None:
            continue
        band.setdefault(str(r["treated_unit"]), {}).setdefault(int(r["time"]), []).append(float(r["gap"]))
    units = sorted(by_unit, key=lambda u: names.get(u, u))
    n = len(units)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    full_title = _title(title, demo)
    with matplotlib.rc_context(_RC):
        fig = _new_figure(3.2 * ncols, 2.7 * nrows + 0.9)
        axes = fig.subplots(nrows, ncols, squeeze=False)
        for i, u in enumerate(units):
            ax = axes[i // ncols][i % ncols]
            rs = sorted(by_unit[u], key=lambda r: r["time"])
            t = [r["time"] for r in rs]
            syn = [_clean(r.get("synthetic")) for r in rs]
            if u in band:
                lo = [s + np.percentile(band[u].get(tt, [0.0]), 5) if s is not None else None for tt, s in zip(t, syn)]
                hi = [s + np.percentile(band[u].get(tt, [0.0]), 95) if s is not None else None for tt, s in zip(t, syn)]
                ax.fill_between(
                    t,
                    [x if x is not None else np.nan for x in lo],
                    [x if x is not None else np.nan for x in hi],
                    color=GREY,
                    alpha=0.3,
                    linewidth=0,
                    label="placebo band (5-95%)",
                )
            ax.plot(t, [_clean(r.get("treated")) for r in rs], color=ORANGE, linewidth=1.8, label="council")
            ax.plot(t, syn, color=BLUE, linewidth=1.4, linestyle="--", label="synthetic control")
            first = next((r["time"] for r in rs if r.get("event_time") == 0), None)
            if first is not None:
                ax.axvline(first - 0.5, color=GREY, linewidth=0.8, linestyle=":")
            f = fit.get(u, {})
            eff = f.get("effect")
            p = f.get("p_value")
            line2 = (f"effect {eff:+.3g}" if eff is not None else "effect —") + (
                f", p={p:.2f}" if p is not None else ""
            )
            line3 = f"pre-fit {f.get('fit', '?')}" + (
                f" ({f['fit_pct']:.1f}% of level)" if f.get("fit_pct") is not None else ""
            )
            if f.get("pre_years", 0) <= 2:
                line3 += f"; WARNING: only {f.get('pre_years', 0)} pre-period years"
            ax.set_title(f"{_short(names.get(u, u))}\n{line2}\n{line3}", fontsize=7.5, loc="left")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.legend(frameon=False, fontsize=6, loc="best")
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        fig.suptitle(full_title, x=0.02, ha="left", fontsize=10)
        fig.supxlabel("Year ending 31 March", fontsize=8)
        fig.supylabel(outcome, fontsize=8)
    alt = (
        f"Small multiples, one per treated council ({', '.join(names.get(u, u) for u in units)}): the council's "
        f"{outcome} (orange) against its synthetic control (blue dashed) with the band of placebo gaps around it (grey); "
        "each title gives the average effect after the move, its placebo p-value and the pre-period fit "
        "(root mean squared error as a share of the council's pre-period level: good up to 5%, fair up to 10%)."
    )
    return _render(fig, slug, full_title, alt)


def ofsted_timelines(
    timelines: list[dict[str, Any]], *, slug: str, title: str, demo: bool, moves: dict[str, int] | None = None
) -> SvgFigure | None:
    """One row per council: each SIF/ILACS judgement as a coloured dot at its publication date."""
    if not timelines:
        return None
    rows: dict[str, list[dict]] = {}
    for r in timelines:
        rows.setdefault(str(r.get("unit_name") or r["unit"]), []).append(r)
    order = sorted(rows, key=lambda k: (rows[k][0].get("group") != "treated", k))
    full_title = _title(title, demo)
    moves = moves or {}
    with matplotlib.rc_context(_RC):
        fig = _new_figure(8.0, 0.38 * len(order) + 1.6)
        ax = fig.subplots()
        for y, name in enumerate(order):
            pts = sorted(rows[name], key=lambda r: r["date"])
            xs = [int(p["date"][:4]) + (int(p["date"][5:7]) - 0.5) / 12 for p in pts]
            ax.plot(xs, [y] * len(xs), color="#cccccc", linewidth=1, zorder=1)
            for x, p in zip(xs, pts):
                ax.scatter([x], [y], color=GRADE_COLOUR.get(p["grade"], GREY), s=36, zorder=2, edgecolors="none")
            unit = str(pts[0]["unit"])
            if unit in moves:
                ax.plot([moves[unit] - 0.75] * 2, [y - 0.35, y + 0.35], color="#000000", linewidth=1.6)
        ax.set_yticks(range(len(order)))
        ax.set_yticklabels(
            [f"{n} ({'trust/company' if rows[n][0].get('group') == 'treated' else 'under direction'})" for n in order],
            fontsize=8,
        )
        ax.invert_yaxis()
        for grade, colour in GRADE_COLOUR.items():
            ax.scatter([], [], color=colour, s=36, label=grade.replace("_", " "))
        ax.plot([], [], color="#000000", linewidth=1.6, label="move to trust/company")
        ax.legend(frameon=False, fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.08))
        ax.set_title(full_title, loc="left", fontsize=10, wrap=True)
    alt = (
        f"Timeline of Ofsted overall-effectiveness judgements (SIF and ILACS) for {len(order)} councils: "
        "each dot is a published judgement coloured by grade; a black tick marks the move to a trust or company."
    )
    return _render(fig, slug, full_title, alt)


def km_curves(
    km: list[dict[str, Any]], spells: list[dict[str, Any]], *, slug: str, title: str, demo: bool
) -> SvgFigure | None:
    """Share of councils not yet 'good' against years since the first 'inadequate', one step curve per group,
    with censoring ticks."""
    if not spells:
        return None
    full_title = _title(title, demo)
    with matplotlib.rc_context(_RC):
        fig = _new_figure(7.2, 4.2)
        ax = fig.subplots()
        for group in ("treated", "directed_in_house", "other_in_house"):
            pts = [r for r in km if r["group"] == group]
            sp = [s for s in spells if s["group"] == group]
            if not sp:
                continue
            xs, ys = [0.0], [1.0]
            for r in pts:
                xs.append(r["years"])
                ys.append(r["survival"])
            end = max(s["years"] for s in sp)
            xs.append(end)
            ys.append(ys[-1])
            ax.step(
                xs,
                ys,
                where="post",
                color=GROUP_COLOUR[group],
                linewidth=1.8,
                label=f"{GROUP_LABEL[group]} (n={len(sp)}, good: {sum(s['event'] for s in sp)})",
            )
            for s in sp:
                if not s["event"]:
                    y = ys[0]
                    for x_, y_ in zip(xs, ys):
                        if x_ <= s["years"]:
                            y = y_
                    ax.plot([s["years"]], [y], marker="|", markersize=9, color=GROUP_COLOUR[group])
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("Years since the first 'inadequate' judgement (SIF or ILACS)")
        ax.set_ylabel("Share not yet 'good or better'")
        ax.legend(frameon=False, fontsize=8, loc="lower left")
        ax.set_title(full_title, loc="left", wrap=True, fontsize=10)
    alt = (
        "Kaplan-Meier curves of the share of councils not yet judged good or better, by years since their first "
        "'inadequate' judgement, for councils that moved to a trust or company, councils under a DfE direction "
        "that stayed in-house, and other councils judged inadequate; vertical ticks mark censored councils."
    )
    return _render(fig, slug, full_title, alt)
