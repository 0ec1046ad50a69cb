"""The reports: the HTML page and its auditor's view, the JSON results, a run compared with
an earlier one, and OSCAL assessment results, all made from verdicts' records."""
