"""Numeric primitives shared by the estimators: the normal distribution, logit, simplex QP."""
