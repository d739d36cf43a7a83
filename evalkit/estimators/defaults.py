"""One default level and one seed policy for every estimator.

Every interval is a (1 - DEFAULT_ALPHA) interval unless the plan or caller says otherwise, and every
estimator that draws random numbers takes `seed`, defaulting to DEFAULT_SEED (plans pass
`[inference].seed`), so a run with no seed given is still reproducible and records the seed it used.
"""

DEFAULT_ALPHA = 0.05
DEFAULT_SEED = 20240101
