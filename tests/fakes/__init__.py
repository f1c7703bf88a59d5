"""Fake provider services on loopback, shared by the whole suite and the benchmarks."""
