"""The CI templates users copy run the suite and keep its reports."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
REPORTS = {"reports/isolation.html", "reports/isolation.xml", "reports/isolation.json"}


def test_github_actions_template_runs_the_suite_and_keeps_the_reports():
    workflow = yaml.safe_load((REPO / "ci/github-actions.yml").read_text())
    steps = workflow["jobs"]["isoverify"]["steps"]
    assert any("ci/verify.sh" in step.get("run", "") for step in steps)
    upload = next(step for step in steps if step.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == REPORTS
    assert not any(step.get("continue-on-error") for step in steps)  # a violation fails the job


def test_gitlab_template_runs_the_suite_and_keeps_the_reports():
    job = yaml.safe_load((REPO / "ci/gitlab-ci.yml").read_text())["isolation"]
    assert any("ci/verify.sh" in line for line in job["script"])
    assert job["artifacts"]["when"] == "always"
    assert set(job["artifacts"]["paths"]) == REPORTS
    assert job["artifacts"]["reports"]["junit"] == "reports/isolation.xml"
    assert not job.get("allow_failure")
