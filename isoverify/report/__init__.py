"""The reports: the auditor's page, the JSON results, a run compared with an earlier one, and
OSCAL assessment results, all made from verdicts' records."""
