"""Rambachan–Roth sensitivity of event-study estimates to departures from parallel trends."""
