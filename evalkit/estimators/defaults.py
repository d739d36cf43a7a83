"""One default level and one seed policy for every estimator.

Every interval is a (1 - DEFAULT_ALPHA) interval unless the plan or caller says otherwise, and every
estimator that draws random numbers takes `seed`, defaulting to DEFAULT_SEED (plans pass
`[inference].seed`), so a run with no seed given is still reproducible and records the seed it used.
"""

DEFAULT_ALPHA = 0.05
DEFAULT_SEED = 20240101

# Below this many treated units analytic intervals under-cover and `evalkit estimate` leads with a
# size-keeping interval (benchmarks/COVERAGE.md, threshold table; policy in evalkit.analysis.intervals).
FEW_TREATED = 40
