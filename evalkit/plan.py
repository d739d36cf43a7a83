"""Analysis plans: a TOML file, validated key by key, that can be locked before results are seen.

A plan names the panel, the sample, the inference settings and one or more analyses. `lock_plan`
records the plan's sha256 and parsed contents in `<plan stem>.lock.json` beside it; later runs
compare the plan with its lock (`check_against_lock`) and list every changed field.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.errors import EvalkitError, UsageError
from evalkit.io import atomic_write_text, dumps_json, sha256_file

METHODS: tuple[str, ...] = ("twfe", "cs", "sunab", "imputation", "synth", "sdid", "synth_staggered", "twfe_es")
DONORS: tuple[str, ...] = ("never_treated", "not_yet_treated", "inadequate_pre_period")
NAME_RE = re.compile(r"^[a-z0-9_-]+$")
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
TEMPLATE_PATH = Path(__file__).parent / "templates" / "plan_template.toml"

_SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "plan": ("name", "title", "question", "synthetic_demo"),
    "data": ("panel", "expected_sha256"),
    "sample": ("years", "treated", "exclude_units", "donors"),
    "inference": ("alpha", "seed", "bootstrap", "permutations"),
    "analysis": ("label", "title", "outcome", "method", "primary", "options", "sensitivity", "pretrend_test"),
    "report": ("limitations",),
}
_TOP_KEYS = ("plan", "data", "sample", "inference", "analysis", "report")
_REQUIRED_SECTIONS = ("plan", "data", "inference", "analysis")


# --------------------------------------------------------------------------- validation helpers


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


class _Checker:
    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, key: str, message: str, expected: str | None = None) -> EvalkitError:
        return EvalkitError(message, file=self.file, column=key, expected=expected)

    def table(self, value: Any, key: str, allowed: tuple[str, ...] | None = None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"is {_type_name(value)}", "a table")
        if allowed is not None:
            for k in value:
                if k not in allowed:
                    raise self.fail(_join(key, k), "unknown key", "one of " + ", ".join(allowed))
        return value

    def required(self, table: dict[str, Any], key: str, name: str, expected: str) -> Any:
        if name not in table:
            raise self.fail(_join(key, name), "missing required key", expected)
        return table[name]

    def string(self, value: Any, key: str, *, nonempty: bool = True) -> str:
        if not isinstance(value, str):
            raise self.fail(key, f"is {_type_name(value)}", "a string")
        if nonempty and not value.strip():
            raise self.fail(key, "is empty", "a non-empty string")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"is {_type_name(value)}", "true or false")
        return value

    def integer(self, value: Any, key: str, *, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"is {_type_name(value)}", "an integer")
        if minimum is not None and value < minimum:
            raise self.fail(key, f"is {value}", f"an integer >= {minimum}")
        return value

    def array(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"is {_type_name(value)}", "an array")
        return value

    def choice(self, value: Any, key: str, choices: tuple[str, ...], what: str) -> str:
        self.string(value, key)
        if value not in choices:
            raise self.fail(key, f"unknown {what} {value!r}", "one of " + ", ".join(choices))
        return value


def _join(prefix: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


def _plain_options(c: _Checker, value: Any, key: str) -> Any:
    """Options go to JSON (lock, results.json): strings, numbers, booleans, arrays and tables only."""
    if isinstance(value, dict):
        return {k: _plain_options(c, v, _join(key, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_options(c, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        raise c.fail(key, f"is {value}", "a finite number")
    if isinstance(value, (str, int, float, bool)):
        return value
    raise c.fail(key, f"is a {type(value).__name__}", "a string, number, boolean, array or table")


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise EvalkitError("plan file not found", file=path) from None
    except OSError as exc:
        raise EvalkitError(f"cannot read plan file: {exc.strerror}", file=path) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EvalkitError("plan file is not UTF-8 text", file=path, expected="a UTF-8 TOML file") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) or "syntax error"
        if m:
            detail += f" at column {m.group(2)}"
        raise EvalkitError(f"TOML syntax error: {detail}", file=path, row=line, expected="valid TOML") from None


def validate_plan(doc: dict[str, Any], file: str | Path = "<plan>") -> dict[str, Any]:
    """Check every key and type of a parsed plan; return a new dict with defaults filled in."""
    c = _Checker(Path(file))
    for k in doc:
        if k not in _TOP_KEYS:
            raise c.fail(k, "unknown section", "one of " + ", ".join(f"[{s}]" for s in _TOP_KEYS))
    for s in _REQUIRED_SECTIONS:
        if s not in doc:
            expected = "at least one [[analysis]] table" if s == "analysis" else f"a [{s}] table"
            raise c.fail(s, f"missing section [{s}]" if s != "analysis" else "missing [[analysis]]", expected)

    # [plan]
    p = c.table(doc["plan"], "plan", _SECTION_KEYS["plan"])
    name = c.string(c.required(p, "plan", "name", "a name of lowercase letters, digits, '-' or '_'"), "plan.name")
    if not NAME_RE.match(name):
        raise c.fail("plan.name", f"invalid name {name!r}", "lowercase letters, digits, '-' or '_' only")
    plan_out = {
        "name": name,
        "title": c.string(c.required(p, "plan", "title", "a string"), "plan.title"),
        "question": c.string(c.required(p, "plan", "question", "a string"), "plan.question"),
        "synthetic_demo": c.boolean(p.get("synthetic_demo", False), "plan.synthetic_demo"),
    }

    # [data]
    d = c.table(doc["data"], "data", _SECTION_KEYS["data"])
    panel = c.string(c.required(d, "data", "panel", "a path relative to the working directory"), "data.panel")
    if Path(panel).is_absolute():
        raise c.fail("data.panel", "is an absolute path", "a path relative to the working directory")
    hashes = c.table(d.get("expected_sha256", {}), "data.expected_sha256")
    hashes_out: dict[str, str] = {}
    for fname, digest in hashes.items():
        k = _join("data.expected_sha256", fname)
        c.string(digest, k)
        if not HEX64_RE.match(digest):
            raise c.fail(k, "is not a sha256 digest", "64 lowercase hexadecimal characters")
        hashes_out[fname] = digest
    data_out = {"panel": panel, "expected_sha256": hashes_out}

    # [sample]
    s = c.table(doc.get("sample", {}), "sample", _SECTION_KEYS["sample"])
    years: list[int] | None = None
    if "years" in s:
        ys = c.array(s["years"], "sample.years")
        if len(ys) != 2:
            raise c.fail("sample.years", f"has {len(ys)} elements", "[first, last]")
        years = [c.integer(y, f"sample.years[{i}]") for i, y in enumerate(ys)]
        if years[0] > years[1]:
            raise c.fail("sample.years", f"first year {years[0]} is after last year {years[1]}", "[first, last]")
    treated_raw = s.get("treated", "registry")
    treated: str | list[dict[str, Any]]
    if isinstance(treated_raw, str):
        if treated_raw != "registry":
            raise c.fail("sample.treated", f"unknown value {treated_raw!r}",
                         '"registry" or a list of {unit = "...", first_year = 2016}')
        treated = "registry"
    elif isinstance(treated_raw, list):
        treated = []
        seen_units: set[str] = set()
        for i, row in enumerate(treated_raw):
            k = f"sample.treated[{i}]"
            c.table(row, k, ("unit", "first_year"))
            unit = c.string(c.required(row, k, "unit", "a unit code"), f"{k}.unit")
            if unit in seen_units:
                raise c.fail(f"{k}.unit", f"duplicate unit {unit!r}", "each treated unit once")
            seen_units.add(unit)
            first = c.integer(c.required(row, k, "first_year", "an integer year"), f"{k}.first_year")
            treated.append({"unit": unit, "first_year": first})
    else:
        raise c.fail("sample.treated", f"is {_type_name(treated_raw)}",
                     '"registry" or a list of {unit = "...", first_year = 2016}')
    excl = c.array(s.get("exclude_units", []), "sample.exclude_units")
    excl_out = [c.string(u, f"sample.exclude_units[{i}]") for i, u in enumerate(excl)]
    donors = c.choice(s.get("donors", "never_treated"), "sample.donors", DONORS, "donor pool")
    sample_out = {"years": years, "treated": treated, "exclude_units": excl_out, "donors": donors}

    # [inference]
    inf = c.table(doc["inference"], "inference", _SECTION_KEYS["inference"])
    alpha = inf.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise c.fail("inference.alpha", f"is {alpha!r}", "a number between 0 and 1, e.g. 0.05")
    inference_out = {
        "alpha": float(alpha),
        "seed": c.integer(c.required(inf, "inference", "seed", "an integer seed"), "inference.seed", minimum=0),
        "bootstrap": c.integer(inf.get("bootstrap", 999), "inference.bootstrap", minimum=0),
        "permutations": c.integer(inf.get("permutations", 999), "inference.permutations", minimum=0),
    }

    # [[analysis]]
    analyses = doc["analysis"]
    if isinstance(analyses, dict):
        raise c.fail("analysis", "is a single table", "an array of tables written [[analysis]]")
    c.array(analyses, "analysis")
    if not analyses:
        raise c.fail("analysis", "is empty", "at least one [[analysis]] table")
    analyses_out = []
    labels: set[str] = set()
    for i, a in enumerate(analyses):
        k = f"analysis[{i}]"
        c.table(a, k, _SECTION_KEYS["analysis"])
        label = c.string(c.required(a, k, "label", "a unique label"), f"{k}.label")
        if not NAME_RE.match(label):
            raise c.fail(f"{k}.label", f"invalid label {label!r}", "lowercase letters, digits, '-' or '_' only")
        if label in labels:
            raise c.fail(f"{k}.label", f"duplicate label {label!r}", "a label used by one analysis only")
        labels.add(label)
        entry = {
            "label": label,
            "title": c.string(a.get("title", label), f"{k}.title"),
            "outcome": c.string(c.required(a, k, "outcome", "an outcome column name"), f"{k}.outcome"),
            "method": c.choice(c.required(a, k, "method", "one of " + ", ".join(METHODS)),
                               f"{k}.method", METHODS, "method"),
            "primary": c.boolean(a.get("primary", False), f"{k}.primary"),
            "options": _plain_options(c, c.table(a.get("options", {}), f"{k}.options"), f"{k}.options"),
        }
        entry.update(_event_study_checks(c, a, k, entry))
        analyses_out.append(entry)

    # [report]
    r = c.table(doc.get("report", {}), "report", _SECTION_KEYS["report"])
    lims = c.array(r.get("limitations", []), "report.limitations")
    report_out = {"limitations": [c.string(x, f"report.limitations[{i}]") for i, x in enumerate(lims)]}

    return {
        "plan": plan_out,
        "data": data_out,
        "sample": sample_out,
        "inference": inference_out,
        "analysis": analyses_out,
        "report": report_out,
    }


def _event_study_checks(c: _Checker, a: dict[str, Any], k: str, entry: dict[str, Any]) -> dict[str, Any]:
    """Optional `sensitivity = {method, mbar | m, target}` and `pretrend_test = true` of an analysis
    (issue #12); only keys that are present are returned, so older plans validate to the same dict."""
    from evalkit import sensitivity as sens

    out: dict[str, Any] = {}
    if "pretrend_test" in a:
        out["pretrend_test"] = c.boolean(a["pretrend_test"], f"{k}.pretrend_test")
    if "sensitivity" in a:
        spec = c.table(a["sensitivity"], f"{k}.sensitivity")
        try:
            out["sensitivity"] = sens.check_spec(spec)
        except ValueError as exc:
            raise c.fail(f"{k}.sensitivity", str(exc), "method = 'rm', mbar = [...] or method = 'sd', m = [...]; "
                         "target = 'first' | 'average'") from None
    if out.get("sensitivity") or out.get("pretrend_test"):
        try:
            sens.check_method(entry["method"], entry["options"], "sensitivity and pretrend_test")
        except UsageError as exc:
            raise c.fail(f"{k}.sensitivity" if "sensitivity" in out else f"{k}.pretrend_test", str(exc),
                         "method cs, sunab or twfe_es") from None
    return out


# --------------------------------------------------------------------------- public functions


def load_plan(path: str | Path) -> dict[str, Any]:
    """Read and validate a plan file; every section and optional key is present in the result."""
    path = Path(path)
    return validate_plan(_parse_toml(path), path)


def plan_sha256(path: str | Path) -> str:
    """sha256 of the plan file's bytes (comments and formatting included)."""
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise EvalkitError("plan file not found", file=path) from None


def init_plan(path: str | Path) -> Path:
    """Write the commented plan template to `path`; refuses to overwrite an existing file.

    When the file's stem is a valid plan name it becomes `plan.name`.
    """
    path = Path(path)
    if path.exists():
        raise EvalkitError("file already exists; not overwriting it", file=path,
                           expected="a path that does not exist yet")
    text = TEMPLATE_PATH.read_text(encoding="utf-8")
    stem = path.stem
    if NAME_RE.match(stem):
        text = text.replace('name = "my-evaluation"', f'name = "{stem}"', 1)
    atomic_write_text(path, text)
    return path


def lock_path(plan_path: str | Path) -> Path:
    """Where a plan's lock lives: `plans/demo.toml` -> `plans/demo.lock.json`."""
    plan_path = Path(plan_path)
    return plan_path.with_name(plan_path.stem + ".lock.json")


def lock_plan(path: str | Path, *, force: bool = False) -> Path:
    """Validate the plan and record its hash and contents in the lock file; return the lock's path.

    Locking an unchanged plan again returns the existing lock untouched. Locking a changed plan
    over an existing lock is refused unless `force` (the old lock is the pre-registration).
    """
    path = Path(path)
    plan = load_plan(path)
    digest = plan_sha256(path)
    target = lock_path(path)
    if target.exists():
        old = read_lock(target)
        if old is not None and old.get("sha256") == digest:
            return target
        if not force:
            raise EvalkitError("plan is already locked with a different hash; the existing lock is kept",
                               file=target, expected="an unchanged plan, or delete the lock file to re-lock")
    record = {
        "plan_file": path.name if path.is_absolute() else path.as_posix(),
        "sha256": digest,
        "locked_at": datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "evalkit_version": __version__,
        "plan": plan,
    }
    atomic_write_text(target, dumps_json(record))
    return target


_LOCK_KEYS = ("plan_file", "sha256", "locked_at", "evalkit_version", "plan")


def read_lock(path: str | Path) -> dict[str, Any] | None:
    """Read a lock file, given its path or the plan's path. None when the plan has no lock."""
    path = Path(path)
    target = path if path.name.endswith(".lock.json") else lock_path(path)
    if not target.exists():
        if target == path:
            raise EvalkitError("lock file not found", file=target)
        return None
    try:
        record = json.loads(target.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        row = getattr(exc, "lineno", None)
        raise EvalkitError("lock file is not valid JSON", file=target, row=row, expected="a file written by `plan lock`") from None
    if not isinstance(record, dict):
        raise EvalkitError("lock file is not a JSON object", file=target, expected="a file written by `plan lock`")
    for k in _LOCK_KEYS:
        if k not in record:
            raise EvalkitError("lock file lacks a key", file=target, column=k, expected="a file written by `plan lock`")
    if not isinstance(record["plan"], dict):
        raise EvalkitError("lock file's plan is not an object", file=target, column="plan", expected="the parsed plan")
    return record


_ABSENT = object()


def _diff(locked: Any, current: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(locked, dict) and isinstance(current, dict):
        for k in sorted(set(locked) | set(current)):
            _diff(locked.get(k, _ABSENT), current.get(k, _ABSENT), _join(path, str(k)), out)
        return
    if (isinstance(locked, list) and isinstance(current, list)
            and any(isinstance(x, dict) for x in locked + current)):
        for i in range(max(len(locked), len(current))):
            a = locked[i] if i < len(locked) else _ABSENT
            b = current[i] if i < len(current) else _ABSENT
            _diff(a, b, f"{path}[{i}]", out)
        return
    if locked is _ABSENT and current is _ABSENT:
        return
    same = type(locked) is type(current) and locked == current
    if not same:
        change = "added" if locked is _ABSENT else "removed" if current is _ABSENT else "changed"
        out.append({
            "field": path,
            "change": change,
            "locked": None if locked is _ABSENT else locked,
            "current": None if current is _ABSENT else current,
        })


def _natural_key(field: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", field) if t]


def deviations(locked_plan: dict[str, Any], current_plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-by-field differences between two parsed plans, sorted by dotted path.

    Each item: {"field": "analysis[0].options.control", "change": "changed"|"added"|"removed",
    "locked": ..., "current": ...} (absent values are None). Tables and arrays of tables are
    compared key by key; other arrays as whole values.
    """
    out: list[dict[str, Any]] = []
    _diff(locked_plan, current_plan, "", out)
    return sorted(out, key=lambda d: _natural_key(d["field"]))


def check_against_lock(plan_path: str | Path, allow_deviations: bool) -> list[dict[str, Any]]:
    """Compare a plan with its lock.

    Returns [] when there is no lock or the plan's bytes are unchanged. When the hash differs it
    raises EvalkitError unless `allow_deviations`, in which case it returns the deviations (a
    single "plan_sha256" entry when only comments or formatting changed).
    """
    plan_path = Path(plan_path)
    lock = read_lock(plan_path)
    if lock is None:
        return []
    current_hash = plan_sha256(plan_path)
    if current_hash == lock["sha256"]:
        return []
    current = load_plan(plan_path)
    devs = deviations(lock["plan"], current)
    if not devs:
        devs = [{"field": "plan_sha256", "change": "changed", "locked": lock["sha256"], "current": current_hash}]
    if not allow_deviations:
        fields = [d["field"] for d in devs]
        shown = ", ".join(fields[:3]) + (f" and {len(fields) - 3} more" if len(fields) > 3 else "")
        raise EvalkitError(
            f"plan changed since it was locked ({len(fields)} field(s): {shown}); "
            "rerun with --allow-deviations to run it and list the deviations",
            file=plan_path,
        )
    return devs


def check_inputs(plan: dict[str, Any], root: str | Path = ".") -> None:
    """Check the files named in `data.expected_sha256` (relative to `root`) before running."""
    root = Path(root)
    for rel, digest in sorted(plan["data"]["expected_sha256"].items()):
        target = root / rel
        if not target.exists():
            raise EvalkitError("input file named in data.expected_sha256 not found", file=rel)
        actual = sha256_file(target)
        if actual != digest:
            raise EvalkitError(f"sha256 is {actual}", file=rel, column=_join("data.expected_sha256", rel),
                               expected=digest)


__all__ = [
    "METHODS", "DONORS", "load_plan", "validate_plan", "plan_sha256", "init_plan", "lock_path",
    "lock_plan", "read_lock", "deviations", "check_against_lock", "check_inputs",
]
