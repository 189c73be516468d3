"""Benchmarks: scripts printing figures and a ratio against a baseline run alongside."""
