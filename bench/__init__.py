"""Benchmarks: scripts that print ratios measured in one run (never run by the tests)."""
