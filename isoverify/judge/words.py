"""The words of a verdict and of a severity, defined once: every report, the JSON and the
gate use these."""

PASS, FAIL, ADVISORY, WAIVED, ERROR = "pass", "fail", "advisory", "waived", "error"
VERDICTS = (PASS, FAIL, ADVISORY, WAIVED, ERROR)  # in the order reports show them
# Where several verdicts make one (a control evidenced by several properties), the worst decides.
WORST_FIRST = (FAIL, ERROR, WAIVED, ADVISORY, PASS)
NOT_RUN = "not run"  # a test of the user's own that was skipped: it has no verdict


def worst(verdicts) -> str:
    return min(verdicts, key=WORST_FIRST.index)


def of_outcome(outcome: str, when: str, expected_failure: bool) -> str:
    """A test of the user's own, without a property record, in the same words: an expected
    failure is not enforced (advisory), a failure outside the test's call is an error."""
    if outcome == "failed":
        return FAIL if when == "call" else ERROR
    if outcome == "skipped":
        return ADVISORY if expected_failure else NOT_RUN
    return PASS


# How much a failure of a property exposes the host: reports show it beside every failure
# and sort what to fix by it, most severe first.
HIGH, MEDIUM, LOW, INFO = "high", "medium", "low", "info"
SEVERITIES = (HIGH, MEDIUM, LOW, INFO)  # most severe first
