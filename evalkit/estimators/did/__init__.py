"""Difference-in-differences estimators (Callaway–Sant'Anna, TWFE, Sun–Abraham, imputation) and their fast point paths."""
