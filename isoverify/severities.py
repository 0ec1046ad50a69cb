"""The words of a severity, defined once: how much a failure of a property exposes the host.

Reports show them beside every failure and sort what to fix by them, most severe first.
"""

HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITIES = (HIGH, MEDIUM, LOW, INFO)  # most severe first
