"""Reaching hosts and containers, and reading what their kernels show."""
