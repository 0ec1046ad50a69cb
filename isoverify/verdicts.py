"""The words of a verdict, defined once: every report, the JSON and the gate use these."""

PASS, FAIL, ADVISORY, WAIVED, ERROR = "pass", "fail", "advisory", "waived", "error"
VERDICTS = (PASS, FAIL, ADVISORY, WAIVED, ERROR)  # in the order reports show them
