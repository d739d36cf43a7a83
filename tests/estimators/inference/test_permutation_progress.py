"""The permutation loop of randomisation inference reports its progress to an installed hook
(parallel.reporting), and to nobody when none is installed."""

from __future__ import annotations

from evalkit import parallel
from evalkit.analysis import intervals as ft
from evalkit.estimators.did.simulate import simulate_staggered


def test_permutations_report_n_of_total():
    panel = simulate_staggered(40, 8, {4: 3, 6: 3}, effect=1.0, seed=2)
    stat = ft._point_statistic("cs", {"control": "never", "est_method": "reg"}, {"alpha": 0.05, "seed": 1})
    seen: list[tuple[str, int, int]] = []
    with parallel.reporting(lambda label, done, total: seen.append((label, done, total))):
        rows, _ = ft.randomisation_rows(panel, stat, ["simple"], n_perm=19, seed=3, alpha=0.05)
    assert rows and seen[0] == ("permutations", 0, 19) and seen[-1] == ("permutations", 19, 19)
    assert [d for _, d, _ in seen] == list(range(20))
    seen.clear()
    again, _ = ft.randomisation_rows(panel, stat, ["simple"], n_perm=19, seed=3, alpha=0.05)
    assert seen == [] and again == rows  # no hook: silent, same numbers
