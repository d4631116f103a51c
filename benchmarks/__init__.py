"""Reproducible speed measurements (see benchmarks/README.md)."""
