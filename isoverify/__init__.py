"""isoverify: proves, property by property, that a container is isolated from its host.

What a check of your own uses, besides the `iso_host` and `iso_container` fixtures:
`Fact` (a reading of your own for the probe) and the controls a property evidences.
"""

from .facts import Fact, Reading
from .properties.base import CIS, NIST, PSS, Control

__version__ = "0.1.0"
__all__ = ["CIS", "NIST", "PSS", "Control", "Fact", "Reading", "__version__"]
