"""Simulator-driven benchmarks that print figures (`./dev bench NAME`)."""
