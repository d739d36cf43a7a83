"""Command-line values converted without pydantic when the conversion is plain (issue #29).

typer (0.29) converts every option's value through a pydantic TypeAdapter it builds on first use, even
for an option left at its default of None; importing pydantic (via typer._adapters) alone is about 0.2
CPU s, as much as the CS estimate it starts. `PlainTyper`'s groups and commands give each plain
option a runtime converter that handles the plain cases itself, with typer's own rules: a missing
value, a str, a Path (typer's existence and readability checks included), an integer or a decimal
number within the option's bounds, a Literal choice spelled exactly. Anything else (a bad value and
its error message, a list, a clamp, a parser) goes to the converter typer would have built, so every
value and every message is typer's. `tests/test_cli_coercion.py` compares the two on each option type.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import typer.core

try:
    from typer._coercion import RuntimeParam, build_runtime_param
except ImportError:  # pragma: no cover - a typer without these internals: every value goes its own way
    RuntimeParam, build_runtime_param = object, None  # type: ignore[assignment,misc]

# Spellings whose value Python and pydantic read alike: no leading zeros, underscores, spaces or signs
# other than one minus, so anything unusual is left to typer's converter and its messages.
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,30})?(?:[eE][+-]?[0-9]{1,3})?")


class _PlainRuntimeParam(RuntimeParam):
    """typer's RuntimeParam for one option: plain values here, the rest through typer's own converter."""

    def __init__(self, descriptor: Any) -> None:
        object.__setattr__(self, "parameter_info", descriptor.parameter_info)
        object.__setattr__(self, "annotation", descriptor.annotation)
        object.__setattr__(self, "_descriptor", descriptor)
        object.__setattr__(self, "_typer", None)

    def _fallback(self) -> RuntimeParam:
        if self._typer is None:
            object.__setattr__(self, "_typer", build_runtime_param(self._descriptor))
        return self._typer

    def _plain(self, value: Any) -> tuple[bool, Any]:
        kind, info = self.annotation, self.parameter_info
        if kind == list[str]:
            listed = type(value) in (tuple, list) and all(type(item) is str for item in value)
            return listed, list(value) if listed else None
        if kind is int or kind is float:
            if type(value) is kind:  # a default: typer's converter returns it as it is, bounds checked
                number = value
            elif type(value) is str and (_INT if kind is int else _DECIMAL).fullmatch(value):
                number = kind(value)
            else:
                return False, None
            inside = (info.min is None or number >= info.min) and (info.max is None or number <= info.max)
            return inside, number
        if kind is Path:
            if type(value) is str and value:
                path = Path(value)
            elif isinstance(value, Path):  # a default, taken as it is
                path = value
            else:
                return False, None
            try:
                os.stat(path)
            except OSError:
                return True, path
            except ValueError:  # an embedded NUL: typer's converter says what it says
                return False, None
            return os.access(path, os.R_OK), path
        if type(value) is not str:
            return False, None
        if kind is str:
            return True, value
        if get_origin(kind) is Literal:
            choices = get_args(kind)
            return (value in choices), value
        return False, None

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        if ctx is None or ctx.token_normalize_func is None:
            plain, result = self._plain(value)
            if plain:
                return result
        return self._fallback()._coerce_value(value, param=param, ctx=ctx)


def _plain_option(param: Any) -> bool:
    """An option whose settings are typer's defaults for its type, so that `_plain` covers its rules."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None or not hasattr(param, "_runtime_param") or descriptor.file_annotation is not None:
        return False
    info, kind = descriptor.parameter_info, descriptor.annotation
    if info.parser is not None or info.clamp:
        return False
    if kind == list[str]:
        return param.multiple and param.nargs == 1
    if param.multiple or param.nargs != 1:
        return False
    if kind is Path:
        return (
            info.file_okay
            and info.dir_okay
            and info.readable
            and not (info.exists or info.writable or info.resolve_path or info.allow_dash or info.path_type)
        )
    if get_origin(kind) is Literal:
        return info.case_sensitive and all(type(choice) is str for choice in get_args(kind))
    return kind in (str, int, float, bool)


def _seed(params: Any) -> None:
    if build_runtime_param is None:
        return
    for param in params:
        if _plain_option(param) and param._runtime_param is None:
            param._runtime_param = _PlainRuntimeParam(param.type_descriptor)


class _PlainCoercion:
    """Seeds a command's options (its own and the --help option click adds) before typer parses them."""

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any) -> Any:
        _seed(self.params)
        return super().make_context(info_name, args, parent=parent, **extra)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None:
            _seed([option])
        return option


class PlainCoercionGroup(_PlainCoercion, typer.core.TyperGroup):
    """typer's group whose options take plain values without pydantic (see the module docstring)."""


class PlainCoercionCommand(_PlainCoercion, typer.core.TyperCommand):
    """typer's command whose options take plain values without pydantic (see the module docstring)."""


class PlainTyper(typer.Typer):
    """typer.Typer whose groups and commands are the ones above unless a command names its own class."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=PlainCoercionGroup, **kwargs)

    def command(self, *args: Any, cls: Any = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or PlainCoercionCommand, **kwargs)
