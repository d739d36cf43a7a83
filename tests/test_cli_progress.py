"""Progress you can see (issue #13): `counter` shows one line per named inner loop (permutations,
placebo draws) under the analysis bar when stderr is a terminal, and installs nothing otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from evalkit import cli, parallel


def _run_loops() -> None:
    for name, total in (("permutations", 5), ("placebo draws (y)", 3)):
        hook = parallel.tracked(name, total)
        for done in range(1, total + 1):
            if hook:
                hook(done)


def test_inner_loops_get_their_own_lines_on_a_terminal(monkeypatch) -> None:
    buffer = io.StringIO()
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(cli, "_console", lambda stderr: Console(file=buffer, force_terminal=True, width=120))
    monkeypatch.setitem(cli.STATE, "quiet", False)
    with cli.counter("estimate", "analyses") as (start, advance):
        start(2)
        advance(0, "cla_cs_never")
        assert parallel._hooks, "no hook installed while the bar is shown"
        _run_loops()
        advance(1, "spend_real_cs_never")
    assert not parallel._hooks  # removed with the bar
    text = buffer.getvalue()
    assert "estimate" in text and "permutations" in text and "placebo draws" in text


def test_no_hook_and_no_output_when_not_a_terminal(monkeypatch, capsys) -> None:
    monkeypatch.setattr(cli.sys.stderr, "isatty", lambda: False, raising=False)
    with cli.counter("estimate", "analyses") as (start, advance):
        start(1)
        assert not parallel._hooks
        _run_loops()
    assert capsys.readouterr().err == ""
