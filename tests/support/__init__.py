"""Helpers the test suites share (tests/e2e, tests/fuzz, tests/clients): no fixtures, only plain functions."""
