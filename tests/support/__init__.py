"""Helpers shared by the tests and the benchmarks: loopback servers, stand-ins, fixtures."""
