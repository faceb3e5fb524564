"""Benchmarks (not tests): run ``python -m bench.run`` from the repository root."""
