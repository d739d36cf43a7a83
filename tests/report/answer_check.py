"""Every number in a report's summary sections must come from the answers stored in its results.json.

The summary sections are the first screen (before the first `## ` heading, less the title and the
question), the answer that leads the captions of the answering analyses' figures, "The bottom line", "What about my council?", "The answer", "Does demand drive cost?" and
"Differences between models". Each number printed there (after `−`/`-` normalisation) must be one of the
numbers the answers hold, formatted as the renderer formats them (2 or 3 significant figures), or a
number written inside a text field of the answers (labels such as "per 10,000", council names, reasons),
of the run's multiplicity method, or of a synthetic control's stored reason for refusing a council's
placebo p-value.
And each question's first-screen row must carry its own estimate and interval.

Run on a report folder: `python -m tests.report.answer_check reports/england-adm-v3` (exit 1 with the
numbers that do not match).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from evalkit.answers import amount, interval_text, sig

SUMMARY_HEADINGS = (
    "The bottom line",
    "What about my council?",
    "The answer",
    "Does demand drive cost?",
    "Differences between models",
)
NUMBER = re.compile(r"[−-]?£?\d[\d,]*(?:\.\d+)?")


def _norm(token: str) -> str:
    return token.replace("-", "−").replace("£", "").rstrip(".,") if token else token


def summary_text(markdown: str) -> str:
    """The summary sections of report.md, without the title and question lines."""
    parts = re.split(r"^## ", markdown, flags=re.M)
    first = "\n".join(
        line for line in parts[0].splitlines() if not line.startswith("# ") and not line.startswith("**Question:**")
    )
    keep = [first]
    for line in markdown.splitlines():  # figure captions of the answering analyses lead with the answer
        if line.startswith("![Answer: ") and "). " in line:
            keep.append(line[: line.index("). ") + 2])
    for part in parts[1:]:
        heading = part.splitlines()[0].split(" {#")[0].strip()
        if heading in SUMMARY_HEADINGS:
            keep.append(part)
    return "\n".join(keep)


def _scaled(v: Any, k: float) -> Any:
    """Every number of `v` times k (the answer's display scale), for evidence the answers store unscaled."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v) * k
    if isinstance(v, dict):
        return {key: x if key == "event_times" else _scaled(x, k) for key, x in v.items()}
    return [_scaled(x, k) for x in v] if isinstance(v, list) else v


def allowed_numbers(doc: dict[str, Any]) -> set[str]:
    """Every number the answers hold, as the renderer would print it, and every number in their text."""
    out: set[str] = {"95", "90", "99"}  # interval levels

    def walk(v: Any, key: str = "") -> None:
        if isinstance(v, bool) or v is None:
            return
        if isinstance(v, (int, float)):
            for d in (2, 3):
                out.add(_norm(sig(float(v), d)))
                if key in ("decrease", "decreases_below"):  # "decreases below about 68": a size, its direction in words
                    out.add(_norm(sig(abs(float(v)), d)))
            if float(v).is_integer():
                out.add(_norm(f"{int(v)}"))
                out.add(_norm(f"{int(v):,}"))
            return
        if isinstance(v, str):
            out.update(_norm(t) for t in NUMBER.findall(v))
            return
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, k)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(doc.get("answers") or {})
    for q in (doc.get("answers") or {}).get("questions") or []:  # pre-trend evidence is stored unscaled
        k = float(q.get("scale") or 1.0)
        if q.get("pretrend") and k != 1.0:
            walk(_scaled(q["pretrend"], k))
    walk(doc.get("decision_rule") or "")
    for c in doc.get("conclusions") or []:  # the multiplicity method the run used, named after the rule
        walk((c.get("multiplicity") or {}).get("method") or "")
    for a in doc.get("analyses") or []:  # why a council has no placebo p-value ("What about my council?")
        walk(((a.get("results") or {}).get("diagnostics") or {}).get("placebo_refused") or {})
    return out


def problems(report_dir: Path) -> list[str]:
    """The numbers of the summary sections that the answers do not hold, and question rows that lack
    their own estimate or interval."""
    doc = json.loads((report_dir / "results.json").read_text(encoding="utf-8"))
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    answers = doc.get("answers") or {}
    if not answers.get("questions"):
        return ["results.json holds no answers"]
    allowed = allowed_numbers(doc)
    text = summary_text(md)
    bad = [f"{tok!r} is not a number of the answers" for tok in NUMBER.findall(text) if _norm(tok) not in allowed]
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for a in answers["questions"]:
        words = a["outcome_words"][:1].upper() + a["outcome_words"][1:]
        mine = [r for r in rows if r.startswith(f"| {words} |")]
        if not mine:
            bad.append(f"no first-screen row for {a['label']}")
            continue
        if a.get("estimate") is not None and amount(a["estimate"], a.get("unit") or "") not in mine[0]:
            bad.append(f"the first-screen row of {a['label']} lacks its estimate {amount(a['estimate'], a['unit'])}")
        if a.get("ci_low") is not None and interval_text(a) not in mine[0]:
            bad.append(f"the first-screen row of {a['label']} lacks its interval {interval_text(a)}")
    return bad


if __name__ == "__main__":
    found = problems(Path(sys.argv[1]))
    for line in found:
        print(line)
    print(f"{len(found)} problem(s)")
    sys.exit(1 if found else 0)
