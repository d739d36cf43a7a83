"""The command line's plain value conversion (evalkit.cli_coercion) and the plain method-option check
(evalkit.methods._plainly_valid) give what typer's and pydantic's would, value for value (issue #29).

Both exist only to keep pydantic out of a CS run's start-up; each answer they give must be the answer
of the converter they stand in for, and anything they decline must reach that converter.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path

import pytest
import typer
from typer._click.core import Context
from typer._coercion import build_runtime_param

from evalkit import methods
from evalkit.cli import app
from evalkit.cli_coercion import _plain_option, _PlainRuntimeParam


def _options() -> list:
    """Every option of every command whose settings the plain converter covers."""
    root = typer.main.get_command(app)
    found, todo = [], [root]
    while todo:
        command = todo.pop()
        found += [(command, p) for p in command.params if _plain_option(p)]
        todo += list(getattr(command, "commands", {}).values())
    return found


def _candidates(kind, tmp_path: Path) -> list:
    afile = tmp_path / "a.csv"
    afile.write_text("x\n", encoding="utf-8")
    words = ["", "cs", "CS", "never", "dr", " dr", "2025", "-", "none", "9"]
    numbers = ["0", "1", "-1", "7", "007", "+3", " 5", "1_000", "999", "100000", "100001", "1.5", "1e3", "-0"]
    decimals = ["0.05", "0.5", "1", "1.0", "2.5e-3", "1E2", "-0.0", ".5", "5.", "nan", "inf", "1e400", "0x10"]
    values = {
        str: [*words, "a b", "é"],
        int: [*numbers, 0, 5, 199, 20240101, -3, 100001],
        float: [*decimals, *numbers, 0.05, 1.5],
        bool: [True, False, "true", "1", "no"],
        Path: [str(afile), str(tmp_path), str(tmp_path / "missing.csv"), "", "-", afile, Path("reports")],
        list[str]: [(), ("a",), ("a", "b"), ["x"]],
    }
    if typing.get_origin(kind) is typing.Literal:
        return [*typing.get_args(kind), *words, "Never", "twfe "]
    return values[kind]


def _same(a, b) -> bool:
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN is NaN


def test_every_plain_answer_is_typers(tmp_path: Path) -> None:
    options = _options()
    kinds = {repr(p.type_descriptor.annotation) for _, p in options}
    assert {"<class 'int'>", "<class 'float'>", "<class 'str'>", "<class 'pathlib.Path'>"} <= kinds
    checked = declined = 0
    for command, param in options:
        descriptor = param.type_descriptor
        plain, theirs = _PlainRuntimeParam(descriptor), build_runtime_param(descriptor)
        ctx = Context(command)
        for value in _candidates(descriptor.annotation, tmp_path):
            try:
                expected = theirs.coerce(value, param=param, ctx=ctx)
            except Exception as exc:  # typer refuses: the plain converter must refuse alike
                with pytest.raises(type(exc)) as got:
                    plain.coerce(value, param=param, ctx=ctx)
                assert str(got.value) == str(exc)
                declined += 1
                continue
            ok, mine = plain._plain(value)
            if ok:
                assert _same(mine, expected), (command.name, param.name, value, mine, expected)
                checked += 1
            assert _same(plain.coerce(value, param=param, ctx=ctx), expected), (param.name, value)
    assert checked > 100 and declined > 20


def test_an_unreadable_existing_path_goes_to_typer(tmp_path: Path) -> None:
    if os.name != "posix" or os.geteuid() == 0:
        pytest.skip("root reads everything; file modes are POSIX")
    locked = tmp_path / "locked.csv"
    locked.write_text("x\n", encoding="utf-8")
    locked.chmod(0)
    command, param = next((c, p) for c, p in _options() if p.type_descriptor.annotation is Path)
    assert _PlainRuntimeParam(param.type_descriptor)._plain(str(locked))[0] is False


def _field_candidates() -> list:
    return [None, True, False, 0, 1, -1, 5, 999, 100_000, 100_001, 0.0, 0.05, 1.0, 0.5, float("nan"), float("inf")]


def test_plainly_valid_options_are_the_models_own() -> None:
    """For every method and field, a value the plain check accepts is accepted by the strict model and
    kept as it is; validate_options then builds the same options dataclass either way."""
    accepted = refused = 0
    for key in methods.METHODS:
        model = methods.options_model(key)
        cls = methods.get(key).options
        hints = typing.get_type_hints(cls, include_extras=True)
        for f in dataclasses.fields(cls):
            choices = [c for c in methods._choices(hints[f.name])]
            for value in [*_field_candidates(), *choices, "x", "Never", [1.0], ["a"]]:
                if not methods._plainly_valid(hints[f.name], value):
                    refused += 1
                    continue
                accepted += 1
                got = getattr(model.model_validate({f.name: value}), f.name)
                assert _same(got, value), (key, f.name, value, got)
                via_model = cls(
                    **{n: getattr(model.model_validate({f.name: value}), n) for n in methods.get(key).option_names()}
                )
                assert methods.validate_options(key, {f.name: value}) == via_model
    assert accepted > 50 and refused > 50


def test_a_value_the_check_declines_still_gets_the_models_message() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        methods.validate_options("cs", {"bootstrap": 100_001})
    with pytest.raises(ValidationError):
        methods.validate_options("cs", {"alpha": 1.0})
    with pytest.raises(ValidationError):
        methods.validate_options("cs", {"no_such_option": 1})
