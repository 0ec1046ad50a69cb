"""Lets `pytest` in a checkout use the plugin even where the package is not installed."""

from importlib.metadata import entry_points

if not any(ep.name == "isoverify" for ep in entry_points(group="pytest11")):
    pytest_plugins = ["isoverify.plugin"]
