"""Tests of the benchmarks' pure helpers (no training)."""
