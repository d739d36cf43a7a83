"""The council-year panel: registry of delivery models, outcomes, treatment timing, comparators."""
