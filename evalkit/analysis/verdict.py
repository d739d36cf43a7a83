"""The plan's decision rule applied as written: an answer per primary outcome, in words.

For each primary analysis, in this order: no interval → "the data cannot tell"; pre-trends that fail the
joint pre-trend test, or another analysis of the same outcome disagreeing in sign → "the data cannot
tell", whatever the primary interval; otherwise "estimated effect" when the primary interval excludes
zero and "no detectable effect" when it includes it. The primary interval is the analysis's default
interval (few treated councils: randomisation inference, see analysis.intervals); the report quotes
that same interval wherever it summarises the analysis. Each verdict names the outcome in words, says
how many treated councils contribute, and, when a power analysis ran, the minimum detectable effect.
"""

from __future__ import annotations

import math
from typing import Any

from evalkit import columns, methods
from evalkit.analysis.intervals import SIZE_KINDS, default_row
from evalkit.analysis.pretrend import RMS_KEY, pretrend_result

HEADLINE = ("simple", "coef", "att", "pooled", "average")  # results of estimators outside the registry
RULE = (
    "The primary interval is each analysis's default interval: with few treated councils, the "
    "randomisation-inference interval (adoption dates permuted across councils), else the analytic one; "
    "the same interval is quoted in every summary. The data cannot tell when the pre-treatment estimates "
    "fail the joint pre-trend test (p-value below the plan's alpha) or any other analysis of the same "
    "outcome disagrees in sign, whatever the primary interval. Otherwise an effect is reported when the "
    "primary interval excludes zero, and 'no detectable effect' when it includes zero."
)

RULE_EVIDENCE = (
    "The primary interval is each analysis's default interval (with few treated councils, randomisation "
    "inference); the p-value a verdict uses is adjusted for the plan's family of primary outcomes (Romano-Wolf "
    "stepdown over the same permuted adoption dates for every outcome; Holm beside it). The data cannot tell when "
    "the permutation pre-trend test fails at the plan's alpha or another analysis of the same outcome that votes "
    "(not one marked for comparison only) disagrees in sign. Otherwise an effect is reported when the adjusted "
    "p-value is below alpha and the primary interval excludes zero; 'negligible' when the plan gives a smallest "
    "effect of interest and the interval lies inside plus or minus it; else 'no detectable effect', with the "
    "effects the interval rules out."
)

# What `evalkit methods` prints under every method: the evidence the verdicts carry (plans with a family).
EVIDENCE_NOTES = """Evidence beside every verdict (plans with [inference].family; README "The evidence rule"):
  pre-trends   the permutation pre-trend test decides (the analytic Wald test is a diagnostic only);
               its power: the smallest linear pre-trend it detects 80% of the time (Roth 2022);
               equivalence: the smallest max and mean pre-move bounds rejected (Dette & Schumann 2024);
               [inference].equivalence_rms = true adds the RMS test (subsamples of councils)
               (CLI: --equivalence-rms)
  multiplicity [inference].family = [labels]: Romano-Wolf stepdown on the same permuted adoption dates
               for every outcome (Holm beside it, statsmodels); verdicts use the adjusted p;
               with the size-keeping intervals, [inference].shared_size_draws = true shares their
               draws too (else Holm)
               (CLI: --outcome a,b,c is a family; its size-keeping draws are always shared)
  bounds       every null says which effects the interval rules out; smallest_effect = X on a primary
               gives 'negligible' when the interval lies inside +/-X (two one-sided tests)
  exaggeration every detected effect: Gelman & Carlin's exaggeration ratio at the design's MDE
               ([power]), and a warning when the estimate is at or below the MDE
  voting       vote = false on an analysis: shown for comparison only, never changes a verdict
  sensitivity  sensitivity = {..., target = "average", covariance = "permutation"}: Rambachan-Roth for
               the average effect with the event study's permutation covariance
               (CLI: --sensitivity-target average --sensitivity-covariance permutation);
               also_first = true adds the first-year breakdown beside it, labelled (CLI: --also-first)
"""


def outcome_words(outcome: str, title: str | None = None) -> tuple[str, str]:
    """(outcome in words, unit phrase) from the column catalogue; unknown columns fall back to the analysis title."""
    if columns.known(outcome):
        col = columns.get(outcome)
        return col.label, col.unit_phrase
    if title and ":" in title:
        return title.split(":", 1)[0].strip(), "in the outcome's units"
    return outcome.replace("_", " "), "in the outcome's units"


def headline_name(results: dict[str, Any]) -> str | None:
    """The estimate a verdict states: the method's registered headline (methods.Method.headline); for
    results of an estimator the registry does not know, the first summary row there is."""
    rows = {e["name"]: e for e in results["estimates"]}
    key = methods.key_of_result(str(results.get("method", "")))
    names = (methods.METHODS[key].headline,) if key in methods.METHODS else HEADLINE
    return next((n for n in names if n and n in rows and rows[n]["estimate"] is not None), None)


def headline(results: dict[str, Any]) -> dict[str, Any] | None:
    """The summary estimate of an analysis, with its default interval: the one row every summary quotes."""
    name = headline_name(results)
    return None if name is None else default_row(results["estimates"], name)


def interval_kind(row: dict[str, Any]) -> str:
    kind = row.get("interval")
    if kind:
        return str(kind)
    return "randomisation" if str(row.get("name", "")).endswith(":randomisation") else "analytic"


def interval_words(row: dict[str, Any]) -> str:
    kind = interval_kind(row).replace("randomization", "randomisation")
    words = {
        "wild": "wild cluster bootstrap",
        "studentized": "studentised randomisation",
        "ferman_pinto": "size-rescaled (Ferman-Pinto) randomisation",
        "hagemann": "Hagemann rearrangement (one council)",
    }
    return words.get(kind, kind) + " interval"


def contributing(results: dict[str, Any]) -> tuple[int | None, int | None]:
    """(treated councils in the estimate, treated councils in the sample) from the analysis's accounting."""
    acc = (results.get("diagnostics") or {}).get("treated_units")
    if isinstance(acc, list) and acc:
        return sum(1 for a in acc if a.get("included")), len(acc)
    n = ((results.get("inference") or {}).get("default_interval") or {}).get("n_treated_units")
    return (int(n), int(n)) if n is not None else (None, None)


def fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"


def mde_sentence(power: dict[str, Any] | None, unit: str) -> str:
    if not power or power.get("mde_increase") is None:
        return ""
    up, down = power["mde_increase"], power.get("mde_decrease")
    level = f"{100 * power.get('power', 0.8):.0f}%"
    if down is None or abs(abs(down) - up) <= 0.1 * up:
        size = fmt(up if down is None else (up + abs(down)) / 2)
        return f" Effects smaller than about {size} {unit} could not have been detected ({level} power)."
    return (
        f" Increases smaller than about {fmt(up)} or decreases smaller than about {fmt(abs(down))} {unit} "
        f"could not have been detected ({level} power)."
    )


def size_sentence(power: dict[str, Any] | None, kind: str) -> str:
    """How often the verdict's own interval rejected a true zero on placebo draws of this panel
    (`evalkit power` with [power] intervals); empty when that calibration was not run."""
    cal = (power or {}).get("calibration") or {}
    designs = cal.get("designs") or {}
    kind = kind.replace("randomisation", "randomization")
    parts = []
    for design, words in (
        ("exchangeable", "placebo draws"),
        ("size_matched", "placebo draws matched to the treated councils' sizes"),
    ):
        c = (designs.get(design) or {}).get(kind)
        if c and c.get("draws") and c.get("size") is not None:
            parts.append(f"{100 * c['size']:.1f}% of {c['draws']} {words}")
    if not parts:
        return ""
    return " On this panel this interval rejected a true zero in " + " and in ".join(parts) + "."


def pretrend_size_sentence(
    power: dict[str, Any] | None, kind: str, alpha: float, results: dict[str, Any] | None = None
) -> str:
    """How often the verdict's pre-trend test rejected on placebo draws of this panel, where there is no
    pre-trend by construction (`evalkit power` with [power] pretrend), and a plain caution where that is more
    than alpha beyond Monte Carlo error (two binomial s.e.): its p is then a diagnostic, not evidence. Empty
    when that calibration was not run."""
    designs = ((power or {}).get("calibration") or {}).get("designs") or {}
    kind = kind.replace("randomisation", "randomization")
    parts, over = [], False
    for design, words in (
        ("exchangeable", "placebo draws"),
        ("size_matched", "placebo draws matched to the treated councils' sizes"),
    ):
        c = ((designs.get(design) or {}).get(kind) or {}).get("pretrend") or {}
        if c.get("draws") and c.get("size") is not None:
            parts.append(f"{100 * c['size']:.1f}% of {c['draws']} {words}")
            over |= c["size"] > alpha + 2 * math.sqrt(alpha * (1 - alpha) / c["draws"])
    if not parts:
        return ""
    text = " On this panel this pre-trend test rejected where there was no pre-trend in " + " and in ".join(parts) + "."
    drawn = ((results or {}).get("inference") or {}).get(kind) or {}
    if drawn.get("joint") and "pretrend_draws" not in drawn:
        text += (
            " (Measured with each placebo draw's own permutations: this test reads the family's shared adoption "
            "dates, which the calibration does not reproduce.)"
        )
    if over:
        text += (
            f" That is more than the {100 * alpha:g}% a valid test rejects, beyond Monte Carlo error: on this panel "
            "its p is a diagnostic, not evidence."
        )
    return text


def votes(analysis: dict[str, Any]) -> bool:
    """An analysis counts in its outcome's verdict unless the plan marks it `vote = false` (comparison only)."""
    return analysis.get("vote") is not False and not analysis.get("subgroup")


def ruled_out_sentence(lo: float, hi: float, unit: str, level: str) -> str:
    """Which effects the interval rules out, in words (a null is not 'no effect')."""
    if lo <= 0 <= hi:
        return (
            f" The data rule out (at {level}) increases larger than {fmt(hi)} and decreases larger than "
            f"{fmt(abs(lo))} {unit}."
        )
    side = f"increases larger than {fmt(hi)}" if hi > 0 else f"decreases larger than {fmt(abs(lo))}"
    return f" The data rule out (at {level}) {side} {unit}."


def negligible(lo: float, hi: float, smallest: float | None) -> bool:
    """Two one-sided tests: the interval lies strictly inside (-smallest, smallest)."""
    return smallest is not None and -smallest < lo and hi < smallest


def exaggeration_sentence(estimate: float, mde: dict[str, Any] | None, unit: str, alpha: float) -> tuple[str, dict]:
    """Gelman & Carlin's exaggeration ratio of a detected effect at the design's MDE, and a plain warning when
    the estimate is at or below the MDE (the winner's curse: a significant estimate then overstates)."""
    if not mde or mde.get("mde_increase") is None:
        return "", {}
    from evalkit.estimators.inference.design_analysis import exaggeration_at

    size = mde["mde_increase"] if estimate > 0 or mde.get("mde_decrease") is None else abs(mde["mde_decrease"])
    d = exaggeration_at(estimate, size, alpha=alpha, power=float(mde.get("power") or 0.8))
    text = (
        f" Design check (Gelman & Carlin 2014): with this design's minimum detectable effect of {fmt(size)} {unit}, "
        f"if the true effect were as large as the estimate it would be detected {100 * d['power_if_true_is_estimate']:.0f}% "
        f"of the time and a detected estimate would overstate it {d['exaggeration_if_true_is_estimate']:.2f}-fold on "
        f"average; if it were half as large, {d['exaggeration_if_true_is_half']:.1f}-fold."
    )
    if d["at_or_below_mde"]:
        text += (
            " Warning: the estimate is at or below the minimum detectable effect, so it is likely to exaggerate "
            "the true effect; read it as an upper-end guess, not a measurement."
        )
    return text, d


def adjusted_p(analyses: list[dict[str, Any]], family: list[str], alpha: float) -> dict[str, dict[str, Any]]:
    """label -> {p, holm, romano_wolf (when the family shares its permutations), used, method, family_size}."""
    import numpy as np

    from evalkit.estimators.inference.multiplicity import holm, romano_wolf

    by = {a["label"]: a for a in analyses}
    members = [by[lab] for lab in family if lab in by]
    heads = [headline(a["results"]) for a in members]
    keep = [(a, h) for a, h in zip(members, heads) if h is not None and h.get("p_value") is not None]
    if len(keep) < 2:
        return {}
    p = np.array([float(h["p_value"]) for _, h in keep])
    out = {
        a["label"]: {"p": float(p[i]), "holm": float(v)}
        for i, ((a, _), v) in enumerate(zip(keep, holm(p, alpha=alpha)))
    }
    joint = [((a["results"].get("inference") or {}).get("randomisation") or {}) for a, _ in keep]
    digests = {(j.get("joint") or {}).get("assignments") for j in joint}
    draws = []
    for j, (_, h) in zip(joint, keep):
        d = j.get("draws") or {}
        name = str(h["name"]).removesuffix(":randomisation")
        if name in (d.get("names") or []):
            col = d["names"].index(name)
            draws.append([np.nan if row[col] is None else row[col] for row in d["values"]])
    sized = size_joint(keep)  # opt-in ([inference].shared_size_draws): the size-keeping kinds' shared draws
    if sized is not None:
        rw = romano_wolf(*sized)
        for i, (a, _) in enumerate(keep):
            out[a["label"]]["romano_wolf"] = float(rw[i])
        method = "Romano-Wolf stepdown on the joint size-keeping permutation distribution (shared assignments)"
    elif len(digests) == 1 and None not in digests and len(draws) == len(keep):
        null = np.array(draws, dtype=float).T
        sd = np.nanstd(null, axis=0, ddof=1)
        t_obs = np.array([float(h["estimate"]) for _, h in keep]) / sd
        rw = romano_wolf(t_obs, null / sd)
        for i, (a, _) in enumerate(keep):
            out[a["label"]]["romano_wolf"] = float(rw[i])
        method = "Romano-Wolf stepdown on the joint permutation distribution"
    else:
        method = "Holm (the family's analyses do not share their permuted assignments)"
    for v in out.values():
        v["method"] = method
        v["family_size"] = len(keep)
        v["used"] = v.get("romano_wolf", v["holm"])
    return out


def size_joint(keep: list[tuple[dict[str, Any], dict[str, Any]]]) -> tuple[Any, Any] | None:
    """(observed, null draws) of the family's headline statistics when every headline uses a size-keeping
    interval computed on one shared set of assignments (analysis.intervals SHARED_SIZE): studentised t at
    no effect, or the Ferman-Pinto rescaled estimate over its null spread. None otherwise."""
    import numpy as np

    obs, null, digests = [], [], set()
    for a, h in keep:
        kind = interval_kind(h)
        j = (((a["results"].get("inference") or {}).get(kind) or {}).get("joint")) if kind in SIZE_KINDS else None
        name = str(h["name"]).removesuffix(f":{kind}")
        if not j or name not in j.get("names", []):
            return None
        k = j["names"].index(name)
        col = np.array([np.nan if r[k] is None else r[k] for r in j["null"]], dtype=float)
        o = j["observed"][k]
        if o is None:
            return None
        scale = float(np.nanstd(col, ddof=1)) if kind == "ferman_pinto" else 1.0
        obs.append(o / scale)
        null.append(col / scale)
        digests.add(j["assignments"])
    return (np.array(obs), np.array(null).T) if len(digests) == 1 else None


def pretrend_evidence(res: dict[str, Any], alpha: float) -> dict[str, Any] | None:
    """From the kept permutation draws: the pre-trend test's power (smallest linear pre-trend detected 80% of
    the time) and the equivalence bounds (Dette & Schumann 2024) with the permutation covariance."""
    import numpy as np

    from evalkit.estimators.inference.pretrend_evidence import (
        equivalence_max,
        equivalence_mean,
        permutation_pretrend_power,
    )

    inf = res.get("inference") or {}
    d = (inf.get("randomisation") or {}).get("draws")
    covariance = "permutation (spread of the pre-period estimates over permuted adoption dates)"
    kind = (inf.get("default_interval") or {}).get("interval")
    opted_in = RMS_KEY in inf or "joint" in (inf.get(kind) or {})  # plans with the new keys only (v4: never)
    if not d and opted_in and kind in SIZE_KINDS and (inf.get(kind) or {}).get("pretrend_draws"):
        d = inf[kind]["pretrend_draws"]  # [inference] pretrend_draws = "own": the draws its pre-trend test used
        covariance = (
            f"permutation, from the {kind} pre-trend test's draws among the analysis's own councils "
            "(spread of the pre-period estimates over them)"
        )
    elif not d and opted_in and kind in SIZE_KINDS and (inf.get(kind) or {}).get("draws"):
        d = inf[kind]["draws"]  # the default interval's own draws: the same ones its pre-trend test uses
        covariance = f"permutation, from the {kind} interval's draws (spread of the pre-period estimates over them)"
    if not d:
        return None
    names = d["names"]
    idx = [i for i, n in enumerate(names) if n.startswith("dynamic:e=-")]
    if not idx:
        return None
    e = np.array([int(names[i].split("=")[1]) for i in idx])
    draws = np.array([[np.nan if row[i] is None else row[i] for i in idx] for row in d["values"]], dtype=float)
    rows = {r["name"]: r for r in res.get("estimates") or []}
    beta = np.array([rows[names[i]]["estimate"] if names[i] in rows else np.nan for i in idx], dtype=float)
    ok = np.isfinite(beta) & np.all(np.isfinite(draws), axis=0)
    universal = (res.get("options") or {}).get("base_period", "universal") == "universal"
    shape = (e + 1.0) if universal else np.ones(len(e))  # a linear trend in each coding of the pre-periods
    ok &= shape != 0
    # an event time that no permuted assignment moves (spread 0) has no equivalence bound: left out, as the
    # permutation pre-trend test leaves it out (seen on a placebo design of the England panel with own draws)
    with np.errstate(invalid="ignore"):
        spread = np.nan_to_num(np.std(draws, axis=0, ddof=1))
        ok &= spread > 1e-12 * np.nan_to_num(np.max(np.abs(draws), axis=0))  # above rounding of a constant
    if not ok.any():
        return None
    draws, beta, shape = draws[:, ok], beta[ok], shape[ok]
    vcov = np.cov(draws, rowvar=False, ddof=1).reshape(int(ok.sum()), int(ok.sum()))
    power = permutation_pretrend_power(draws, shape, alpha=alpha)
    rms = inf.get(RMS_KEY)  # only when the plan asks ([inference] equivalence_rms)
    return {
        "power_80_slope": None if power is None else power["slope"],
        "equivalence_max": equivalence_max(beta, vcov, alpha=alpha),
        "equivalence_mean": equivalence_mean(beta, vcov, alpha=alpha),
        **({"equivalence_rms": rms.get("threshold"), "rms": rms} if rms else {}),
        "event_times": [int(k) for k in e[ok]],
        "covariance": covariance,
    }


def pretrend_sentence(ev: dict[str, Any] | None, unit: str) -> str:
    if not ev:
        return ""
    power = (
        f" The pre-trend test would detect a linear pre-trend of {fmt(ev['power_80_slope'])} {unit} a year 80% of "
        "the time (Roth 2022); smaller ones could pass unseen."
        if ev.get("power_80_slope")
        else ""
    )
    mean = (
        f"their mean smaller than {fmt(ev['equivalence_mean'])}"
        if ev["equivalence_mean"] > 0
        else "their mean within any positive bound (its estimate is near zero relative to its spread)"
    )
    bounds = f"{fmt(ev['equivalence_max'])} and {mean}"
    if "rms" in ev:  # the third test, when the plan asks for it
        bounds = f"{fmt(ev['equivalence_max'])}, {mean} and {rms_words(ev['rms'])}"
    return power + (
        f" Equivalence (Dette & Schumann 2024): the data show every pre-move coefficient is smaller than "
        f"{bounds} {unit} (the smallest bounds the tests reject)."
    )


def rms_words(rms: dict[str, Any]) -> str:
    """The RMS test's bound in words, or why there is none. Its coefficients are the placebo effects against
    the last pre-move year over the event times every subsample has, which the words name."""
    if rms.get("threshold") is None:
        return f"no root-mean-square bound ({rms.get('refused', 'not computed')})"
    e = rms.get("event_times") or []
    what = "the root mean square of the placebo effects against the last pre-move year" + (
        f" (event times {min(e)} to {max(e)})" if e else ""
    )
    if rms["threshold"] <= 0:
        return f"{what} within any positive bound"
    return f"{what} smaller than {fmt(rms['threshold'])}"


def conclude(
    analyses: list[dict[str, Any]],
    *,
    alpha: float = 0.05,
    power: dict[str, dict[str, Any]] | None = None,
    family: list[str] | None = None,
) -> list[dict[str, Any]]:
    """One conclusion per primary analysis. `power` maps an analysis label to its MDE (from `evalkit power`);
    `family` (the plan's [inference].family) switches on the evidence rule (RULE_EVIDENCE)."""
    out = []
    adjusted = adjusted_p(analyses, family, alpha) if family else {}
    for primary in (a for a in analyses if a.get("primary")):
        res = primary["results"]
        outcome = res["outcome"]
        words, unit = outcome_words(outcome, primary.get("title"))
        n_in, n_all = contributing(res)
        councils = f"{n_in} of {n_all} treated councils have data for this outcome." if n_in is not None else ""
        head = headline(res)
        base = {
            "label": primary["label"],
            "title": primary.get("title", primary["label"]),
            "outcome": outcome,
            "outcome_words": words,
            "councils_contributing": n_in,
            "councils_treated": n_all,
        }
        mde = (power or {}).get(primary["label"])
        if mde:
            base["mde"] = {k: mde.get(k) for k in ("mde_increase", "mde_decrease", "power", "draws")}
        if head is None or head.get("ci_low") is None or head.get("ci_high") is None:
            out.append(
                {
                    **base,
                    "verdict": "the data cannot tell",
                    "text": f"the primary analysis produced no interval for {words}. {councils}".strip(),
                }
            )
            continue
        others = [
            (a.get("title") or a["label"], headline(a["results"]))
            for a in analyses
            if a is not primary and a["results"]["outcome"] == outcome and votes(a)
        ]
        others = [(label, h) for label, h in others if h is not None and h.get("estimate") is not None]
        sign = 1 if head["estimate"] > 0 else -1
        disagree = [label for label, h in others if h["estimate"] * sign < 0]
        pre = pretrend_result(res)
        pre_fails = pre is not None and pre["p_value"] < alpha
        excludes_zero = head["ci_low"] > 0 or head["ci_high"] < 0
        adj = adjusted.get(primary["label"])
        survives = adj is None or adj["used"] < alpha
        if pre_fails or disagree:
            verdict = "the data cannot tell"
        elif excludes_zero and survives:
            verdict = "estimated effect"
        elif negligible(head["ci_low"], head["ci_high"], primary.get("smallest_effect")):
            verdict = "negligible"
        else:
            verdict = "no detectable effect"
        level = f"{100 * (1 - alpha):.0f}%"
        pre_text = (
            "no pre-trend test was possible"
            if pre is None
            else f"pre-trend test p = {pre['p_value']:.3f} ({'fails' if pre_fails else 'passes'} at {alpha:g})"
        )
        if family and pre is not None and str(pre.get("test", "")).startswith("permutation"):
            pre_text = "permutation " + pre_text  # the evidence rule names the test the verdict used
        text = (
            f"Effect on {words}: {head['estimate']:.3f} {unit} ({level} {interval_words(head)} "
            f"{head['ci_low']:.3f} to {head['ci_high']:.3f}); "
            f"{len(others) - len(disagree)} of {len(others)} other analyses agree in sign"
            + (f" (disagree: {'; '.join(disagree)})" if disagree else "")
            + f"; {pre_text}. {councils}"
            + mde_sentence(mde, unit)
            + size_sentence(mde, interval_kind(head))
            + (pretrend_size_sentence(mde, interval_kind(head), alpha, res) if pre is not None else "")
        )
        extra: dict[str, Any] = {}
        comparison = [
            a.get("title") or a["label"]
            for a in analyses
            if a is not primary and a["results"]["outcome"] == outcome and a.get("vote") is False
        ]
        if comparison:
            text += f" Shown for comparison only, not counted: {'; '.join(comparison)}."
            extra["comparison_only"] = comparison
        if family:  # the evidence rule's sentences (plans that declare a family)
            evidence = _evidence_text(primary, head, verdict, adj, mde, unit, level, alpha, extra)
            text += evidence
            extra["evidence_text"] = evidence.strip()
        out.append(
            {
                **base,
                "verdict": verdict,
                "text": text.strip(),
                "estimate": head["estimate"],
                "ci_low": head["ci_low"],
                "ci_high": head["ci_high"],
                "interval": interval_kind(head),
                "pretrend": pre,
                "disagree": disagree,
                **extra,
            }
        )
    return out


def _evidence_text(
    primary: dict[str, Any],
    head: dict[str, Any],
    verdict: str,
    adj: dict[str, Any] | None,
    mde: dict[str, Any] | None,
    unit: str,
    level: str,
    alpha: float,
    extra: dict[str, Any],
) -> str:
    """Adjusted p, bounded effects, TOST, exaggeration and pre-trend evidence, in words (fills `extra`)."""
    text = ""
    if adj:
        extra["multiplicity"] = adj
        rw = f"Romano-Wolf {adj['romano_wolf']:.3f}, " if "romano_wolf" in adj else ""
        text += (
            f" p = {adj['p']:.3f} before and {adj['used']:.3f} after adjusting for the {adj['family_size']} primary "
            f"outcomes ({rw}Holm {adj['holm']:.3f})."
        )
        excludes_zero = head["ci_low"] > 0 or head["ci_high"] < 0
        if excludes_zero and adj["used"] >= alpha and verdict != "the data cannot tell":
            text += " The interval excludes zero, but not after adjusting for the number of outcomes tested."
    smallest = primary.get("smallest_effect")
    if smallest is not None:
        extra["smallest_effect"] = smallest
        inside = negligible(head["ci_low"], head["ci_high"], smallest)
        text += f" Smallest effect of interest ±{fmt(smallest)} {unit}: the interval " + (
            f"lies inside it: negligible (two one-sided tests, each at {100 * alpha / 2:g}%)."
            if inside
            else "does not lie inside it."
        )
    if verdict in ("no detectable effect", "negligible"):
        text += ruled_out_sentence(head["ci_low"], head["ci_high"], unit, level)
    if head["ci_low"] > 0 or head["ci_high"] < 0:  # detected before adjustment: the winner's curse applies
        words, design = exaggeration_sentence(head["estimate"], mde, unit, alpha)
        text += words
        if design:
            extra["design_analysis"] = design
    ev = pretrend_evidence(primary["results"], alpha)
    if ev:
        extra["pretrend_evidence"] = ev
        text += pretrend_sentence(ev, unit)
    return text
