"""Whether two report files say the same thing when their bytes differ.

Why bytes can differ between machines: numpy and OpenBLAS choose their arithmetic kernels at run
time from the processor (AVX-512, AVX2, NEON; Apple's Accelerate on macOS), and a different kernel
may round a sum or a product differently in the last bit. On one machine (`evalkit verify` run where
the report was made, or the demo under Python 3.11, 3.12 and 3.13) every file is byte-identical;
across processors results.json, results.parquet, report.md, report.html and the figures may not be
(forcing OpenBLAS's Haswell kernel on an AVX-512 machine changes last digits of the demo's results).
So when the bytes differ, `evalkit verify` compares meaning instead:

* JSON and Parquet: the same structure, keys, strings and integers, and every float equal within
  `REL_TOL` relative (or `ABS_TOL` absolute, for values that are zero up to rounding).
* Markdown, HTML and SVG: the same text once numbers are set aside, and every number equal to the
  precision shown (one unit in its last printed digit) or within `REL_TOL`; whole numbers exactly.
  matplotlib's SVG ids are hashes of the drawing, so they are renamed in order of appearance first.

A quantity that is itself rounding noise (a ratio over a pre-period fit error of 1e-12, say)
differs beyond these tolerances and is reported as a difference: as it should be.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

REL_TOL = 1e-9
ABS_TOL = 1e-12
_NUMBER = re.compile(r"(?<![\w.#])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")
_ID = re.compile(r'\bid="([^"]+)"')


def floats_close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def json_same_meaning(a: Any, b: Any) -> bool:
    """Equal structure and values, floats within tolerance (ints, strings, bools and None exactly)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_same_meaning(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_same_meaning(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if (
            isinstance(a, bool)
            or isinstance(b, bool)
            or not isinstance(a, int | float)
            or not isinstance(b, int | float)
        ):
            return False
        return floats_close(float(a), float(b))
    return type(a) is type(b) and a == b


def _last_digit_unit(token: str) -> float:
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_same_meaning(x: str, y: str) -> bool:
    if x == y:
        return True
    if not all(any(c in t for c in ".eE") for t in (x, y)):  # whole numbers (counts, years, codes): exactly
        return False
    a, b = float(x), float(y)
    return abs(a - b) <= min(_last_digit_unit(x), _last_digit_unit(y)) * (1 + 1e-9) or floats_close(a, b)


def _canonical_ids(text: str) -> str:
    """Rename every id="..." (and its references) to its rank of first appearance."""
    order = {ident: n for n, ident in enumerate(dict.fromkeys(_ID.findall(text)))}
    if not order:
        return text
    pattern = "|".join(re.escape(i) for i in sorted(order, key=len, reverse=True))
    return re.sub(rf"(?<![\w-])(?:{pattern})(?![\w-])", lambda m: f"\x00id{order[m.group(0)]}\x00", text)


def text_same_meaning(a: str, b: str, *, svg_ids: bool = False) -> bool:
    """Same words and markup; numbers equal to the precision they are printed with."""
    if svg_ids:
        a, b = _canonical_ids(a), _canonical_ids(b)
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    return all(numbers_same_meaning(x, y) for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)))


def parquet_same_meaning(a: Path, b: Path) -> bool:
    import polars as pl
    from polars.testing import assert_frame_equal

    try:
        assert_frame_equal(pl.read_parquet(a), pl.read_parquet(b), check_exact=False, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    except AssertionError:
        return False
    return True


def same_meaning(name: str, a: Path, b: Path) -> bool:
    """Whether files `a` and `b` (named `name`) say the same thing; False when unsure."""
    try:
        if name.endswith(".parquet"):
            return parquet_same_meaning(a, b)
        ta, tb = a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")
        if name.endswith(".json"):
            return json_same_meaning(json.loads(ta), json.loads(tb))
        if name.endswith((".md", ".html", ".svg")):
            return text_same_meaning(ta, tb, svg_ids=name.endswith((".svg", ".html")))
    except (ValueError, OSError, UnicodeDecodeError):
        return False
    return False


__all__ = ["ABS_TOL", "REL_TOL", "same_meaning", "json_same_meaning", "text_same_meaning", "numbers_same_meaning"]
