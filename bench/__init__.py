"""Benchmarks (not tests): scripts that print tables. See docs/performance.md."""
