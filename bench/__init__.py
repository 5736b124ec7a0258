"""Benchmarks: scripts that print their figures (see bench/README.md). None of them is a timed unit test."""
