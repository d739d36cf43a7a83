"""Calling a registered estimator: its options typed and checked once, covariates refused where unused.

Every caller (a plan's analysis, the CLI's --panel mode, power draws, the multiverse, the permutation
loop's point statistic) goes through `call_estimator`, so the options recorded are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evalkit import methods
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.results import Results


def resolve(method: str) -> Callable[..., Results]:
    """The estimator function of a registered method (see evalkit.methods)."""
    return methods.get(method).function()


def typed_options(method: str, options: dict[str, Any], inference: dict[str, Any]) -> methods.Options:
    """The method's options dataclass from the plan's options and the [inference] settings it takes."""
    try:
        return methods.validate_options(method, methods.with_inference(method, options, inference))
    except Exception as exc:
        from pydantic import ValidationError  # imported only when a value failed: it costs a tenth of a second

        if not isinstance(exc, ValidationError):
            raise
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            takes = ", ".join(n for n in methods.get(method).option_names() if n not in methods.SAMPLE_OPTIONS)
            raise UsageError(
                f"method {method!r} has no option {where!r}; it takes {takes} (see `evalkit methods {method}`)"
            ) from None
        raise UsageError(f"method {method!r}, option {where}: {e['msg']}") from None


def check_covariates(method: str, panel: LongPanel) -> None:
    """Covariates given to a method that does not use them are refused, never dropped (methods.Method.covariates)."""
    if panel.covariates and not methods.get(method).covariates:
        raise UsageError(
            f"method {method!r} does not use covariates; drop --covariates or use "
            f"{', '.join(k for k, m in methods.METHODS.items() if m.covariates)}"
        )


def check_switch_off(method: str, panel: LongPanel) -> None:
    """A panel whose treatment switches off is refused by a method that would treat it as absorbing."""
    off = [] if methods.get(method).switch_off else panel.switch_off_units()
    if off:
        shown = ", ".join(off[:10]) + (f" and {len(off) - 10} more" if len(off) > 10 else "")
        able = ", ".join(k for k, m in methods.METHODS.items() if m.switch_off)
        raise EvalkitError(
            f"treatment switches off for unit(s) {shown}; method {method!r} assumes treatment, once on, stays on "
            f"(use {able}, or give the first-treated period for intention to treat)",
            column="treated",
        )


def check_panel_method(method: str) -> None:
    """Only methods of kind "panel" run on a long panel; the others need what a plan's data folder holds."""
    m = methods.get(method)
    if m.kind != "panel":
        raise UsageError(
            f"method {method!r} does not run on a long panel: it reads the Ofsted judgement histories beside a "
            "council panel, so it runs only from a plan (`evalkit estimate --plan ...`)"
        )


def call_estimator(method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any]) -> Results:
    """Run one registered method. The options recorded are every typed option (defaults included),
    with what the estimator resolved itself (e.g. the donor pool it used) taking precedence."""
    check_panel_method(method)
    check_covariates(method, panel)
    check_switch_off(method, panel)
    opts = typed_options(method, options, inference)
    kwargs = methods.estimator_kwargs(opts)
    result = resolve(method)(panel, **kwargs)
    result.options = {**methods.recorded(opts), **result.options}
    return result
