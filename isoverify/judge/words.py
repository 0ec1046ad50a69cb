"""The words of a verdict and of a severity, defined once: every report, the JSON and the
gate use these."""

PASS, FAIL, ADVISORY, WAIVED, ERROR = "pass", "fail", "advisory", "waived", "error"
VERDICTS = (PASS, FAIL, ADVISORY, WAIVED, ERROR)  # in the order reports show them
# Where several verdicts make one (a control evidenced by several properties), the worst decides.
WORST_FIRST = (FAIL, ERROR, WAIVED, ADVISORY, PASS)


def worst(verdicts) -> str:
    return min(verdicts, key=WORST_FIRST.index)


# How much a failure of a property exposes the host: reports show it beside every failure
# and sort what to fix by it, most severe first.
HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITIES = (HIGH, MEDIUM, LOW, INFO)  # most severe first
