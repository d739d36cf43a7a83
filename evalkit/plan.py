"""Analysis plans: a TOML file, validated key by key, that can be locked before results are seen.

A plan names the panel, the sample, the inference settings and one or more analyses. `lock_plan`
records the plan's sha256 and parsed contents in `<plan stem>.lock.json` beside it; later runs
compare the plan with its lock (`check_against_lock`) and list every changed field.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evalkit import __version__
from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_text, dumps_json, sha256_bytes, sha256_file
from evalkit.methods import DONOR_RULES, METHOD_KEYS

METHODS: tuple[str, ...] = METHOD_KEYS
DONORS: tuple[str, ...] = DONOR_RULES
NAME_RE = re.compile(r"^[a-z0-9_-]+$")
TEMPLATE_PATH = Path(__file__).parent / "templates" / "plan_template.toml"


def _join(prefix: str, key: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_-]+", key):
        return f"{prefix}.{key}" if prefix else key
    return f"{prefix}[{json.dumps(key, ensure_ascii=False)}]"


PLAN_MAX_BYTES = 4 << 20  # the England plans are under 20 KB; a plan is text a person writes
PLAN_MAX_DEPTH = 16  # tables and arrays inside each other; the deepest real plan nests 4


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of parsed TOML, stopping once past `limit` (so it never recurses far)."""
    if limit < 0 or not isinstance(value, (dict, list)):
        return 0
    items = value.values() if isinstance(value, dict) else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def _read(path: Path) -> bytes:
    from evalkit.io import regular_file

    if not path.exists() and not path.is_symlink():
        raise EvalkitError("plan file not found", file=path)
    regular_file(path, max_bytes=PLAN_MAX_BYTES)  # /dev/zero or a FIFO would never end
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise EvalkitError("plan file not found", file=path) from None
    except OSError as exc:
        raise EvalkitError(f"cannot read plan file: {exc.strerror}", file=path) from None


def _parse_toml(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    raw = _read(path) if raw is None else raw
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EvalkitError("plan file is not UTF-8 text", file=path, expected="a UTF-8 TOML file") from None
    try:
        doc = tomllib.loads(text)
    except RecursionError:
        raise EvalkitError(
            "plan nests arrays or tables too deeply", file=path, expected=f"at most {PLAN_MAX_DEPTH} levels"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        detail = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg) or "syntax error"
        if m:
            detail += f" at column {m.group(2)}"
        raise EvalkitError(f"TOML syntax error: {detail}", file=path, row=line, expected="valid TOML") from None
    if _depth(doc, PLAN_MAX_DEPTH) > PLAN_MAX_DEPTH:
        raise EvalkitError(
            "plan nests arrays or tables too deeply", file=path, expected=f"at most {PLAN_MAX_DEPTH} levels"
        )
    return doc


def validate_plan(doc: dict[str, Any], file: str | Path = "<plan>") -> dict[str, Any]:
    """Check every key and type of a parsed plan, options included (evalkit.plan_schema); return a new
    dict with defaults filled in."""
    from evalkit import plan_schema

    return plan_schema.validate(doc, file)


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
        raise EvalkitError(
            "file already exists; not overwriting it", file=path, expected="a path that does not exist yet"
        )
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
            raise EvalkitError(
                "plan is already locked with a different hash; the existing lock is kept",
                file=target,
                expected="an unchanged plan, or delete the lock file to re-lock",
            )
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
        raise EvalkitError(
            "lock file is not valid JSON", file=target, row=row, expected="a file written by `plan lock`"
        ) from None
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
    if isinstance(locked, list) and isinstance(current, list) and any(isinstance(x, dict) for x in locked + current):
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
        out.append(
            {
                "field": path,
                "change": change,
                "locked": None if locked is _ABSENT else locked,
                "current": None if current is _ABSENT else current,
            }
        )


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
    return _deviations_from_lock(lock, load_plan(plan_path), current_hash, plan_path, allow_deviations)


def _deviations_from_lock(
    lock: dict[str, Any], current: dict[str, Any], current_hash: str, plan_path: Path, allow_deviations: bool
) -> list[dict[str, Any]]:
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


@dataclass(frozen=True)
class LoadedPlan:
    """A plan read once: the validated plan, its sha256, its lock (summary) and deviations from it.

    `estimate`, `report` and `verify` all take this one value instead of re-reading the file.
    """

    plan: dict[str, Any]
    sha256: str | None
    lock: dict[str, Any] | None
    deviations: list[dict[str, Any]]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.plan["plan"]["name"]

    @classmethod
    def from_results(cls, doc: dict[str, Any]) -> LoadedPlan:
        """The plan a results.json recorded (for `verify`, which reruns it)."""
        return cls(
            plan=doc["plan"],
            sha256=doc.get("plan_sha256"),
            lock=doc.get("lock"),
            deviations=doc.get("deviations") or [],
        )


LOCK_SUMMARY = ("sha256", "locked_at", "evalkit_version")


def open_plan(path: str | Path, *, allow_deviations: bool = False) -> LoadedPlan:
    """Read, hash and validate a plan file once, and compare it with its lock (see check_against_lock)."""
    path = Path(path)
    raw = _read(path)
    plan = validate_plan(_parse_toml(path, raw), path)
    digest = sha256_bytes(raw)
    lock = read_lock(path)
    devs: list[dict[str, Any]] = []
    if lock is not None and lock["sha256"] != digest:
        devs = _deviations_from_lock(lock, plan, digest, path, allow_deviations)
    summary = {k: lock[k] for k in LOCK_SUMMARY if k in lock} if lock else None
    return LoadedPlan(plan=plan, sha256=digest, lock=summary, deviations=devs, path=path)


PACKAGED_PREFIX = "evalkit:"


def plan_reference(path: Path) -> str:
    """How results.json names its plan file: relative as typed, or `evalkit:plans/<name>` when packaged.

    Never a machine path: an absolute path outside the package is recorded by name only (then
    `verify --plan` must say where it is)."""
    from importlib import resources

    path = Path(path)
    package = Path(str(resources.files("evalkit"))).resolve()
    try:
        return PACKAGED_PREFIX + path.resolve().relative_to(package).as_posix()
    except ValueError:
        return path.name if path.is_absolute() else path.as_posix()


def resolve_reference(ref: str) -> Path:
    from importlib import resources

    if ref.startswith(PACKAGED_PREFIX):
        return Path(str(resources.files("evalkit"))) / ref[len(PACKAGED_PREFIX) :]
    return Path(ref)


def check_inputs(plan: dict[str, Any], root: str | Path = ".") -> None:
    """Check the files named in `data.expected_sha256` (relative to `root`) before running."""
    root = Path(root)
    for rel, digest in sorted(plan["data"]["expected_sha256"].items()):
        target = root / rel
        if not target.exists():
            raise EvalkitError("input file named in data.expected_sha256 not found", file=rel)
        from evalkit.io import checked_sha256

        actual = checked_sha256(target)  # never hashes a device or pipe (/dev/zero would never end)
        if actual != digest:
            raise EvalkitError(
                f"sha256 is {actual}", file=rel, column=_join("data.expected_sha256", rel), expected=digest
            )


__all__ = [
    "METHODS",
    "DONORS",
    "load_plan",
    "validate_plan",
    "plan_sha256",
    "init_plan",
    "lock_path",
    "lock_plan",
    "read_lock",
    "deviations",
    "check_against_lock",
    "check_inputs",
    "LoadedPlan",
    "open_plan",
    "plan_reference",
    "resolve_reference",
]
