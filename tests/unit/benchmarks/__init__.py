"""Tests of the benchmark scripts' logic (not their timings)."""
