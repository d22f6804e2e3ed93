"""Benchmarks: the cost of masking, and of a daily run at scale (docs/benchmarks.md)."""
