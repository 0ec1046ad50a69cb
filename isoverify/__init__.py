"""isoverify: proves, property by property, that a container is isolated from its host.

What a check of your own uses, besides the `iso_host` and `iso_container` fixtures:
`Fact` (a reading of your own for the probe) and the controls a property evidences.

PYTEST_DONT_REWRITE: nothing here asserts; the `isoverify` command imports this package
before pytest starts, and pytest would otherwise warn that it cannot rewrite it.
"""

from isoverify.collect.facts import Fact
from isoverify.judge.checks.base import CIS, NIST, PSS, Control
from isoverify.model import Reading

__version__ = "0.1.0"
__all__ = ["CIS", "NIST", "PSS", "Control", "Fact", "Reading", "__version__"]
