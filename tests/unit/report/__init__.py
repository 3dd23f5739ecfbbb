"""Tests of tasks/report."""
