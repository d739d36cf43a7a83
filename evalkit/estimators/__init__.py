"""Estimators on a plain long panel (unit, time, outcome, first-treated period, covariates).

They know nothing of Ofsted or councils, so they can be checked on mpdta and Prop 99.
"""
