"""The CI gate: exit codes, waivers, the JSON schema and the CI templates."""

import datetime
import json

import jsonschema
import pytest
import yaml

from conftest import REPO
from isoverify.plugin import EXIT_UNOBSERVABLE
from isoverify.report import SCHEMA

NEXT_YEAR = datetime.date.today() + datetime.timedelta(days=365)
LAST_YEAR = datetime.date.today() - datetime.timedelta(days=365)


def test_exit_code_zero_when_every_enforced_property_holds(suite):
    assert suite("-k", "pid and not limit").exit_code == 0


def test_exit_code_one_on_a_violation(canary, suite):
    container = canary(pid_mode="host")
    assert suite(f"--iso-container=docker://{container.name}", "-k", "pid and not limit").exit_code == 1


def test_exit_code_for_an_unobservable_target(suite):
    run = suite("--iso-container=docker://isoverify-selftest-nowhere", "-k", "pid and not limit")
    assert run.exit_code == EXIT_UNOBSERVABLE


def test_exit_code_for_a_usage_error(suite):
    assert suite("--iso-host=gopher://x").exit_code == 4


def test_zero_selected_properties_is_never_green(suite):
    run = suite("-k", "no-such-property")
    assert run.exit_code == 5  # pytest's "no tests collected/selected"
    assert run.results == []


def test_results_follow_the_documented_schema(suite):
    run = suite("-k", "pid or caps")
    document = json.loads((run.reports / "isolation.json").read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    [host] = document["hosts"]
    assert host["host"] == "local://" and host["kernel"] and host["engine"].startswith("docker ")


def waiver_toml(property_id: str, target: str, expires: datetime.date) -> str:
    return (f'[[waiver]]\nproperty = "{property_id}"\ntarget = "{target}"\n'
            f'reason = "needs it for the selftest"\nowner = "selftests@example.com"\nexpires = {expires}\n')


@pytest.fixture
def ptrace(canary):
    return canary(cap_add=["SYS_PTRACE"])


def test_waived_failure_is_waived_never_pass(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", "docker://isoverify-selftest-*", NEXT_YEAR))
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 0, run.output
    [record] = run.results
    assert record["verdict"] == "waived"
    assert record["waiver"]["reason"] == "needs it for the selftest" and not record["waiver"]["expired"]


def test_yaml_waivers_work_the_same(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(f"waivers:\n  - property: caps\n    target: docker://{ptrace.name}\n"
                       f"    reason: yaml\n    owner: me\n    expires: {NEXT_YEAR}\n")
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert [r["verdict"] for r in run.results] == ["waived"]


def test_expired_waiver_waives_nothing_and_says_so(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", f"docker://{ptrace.name}", LAST_YEAR))
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 1
    [record] = run.results
    assert record["verdict"] == "fail" and record["waiver"]["expired"]
    assert f"waiver expired on {LAST_YEAR}" in record["summary"]


def test_waiver_matching_nothing_is_reported(suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("pid", "docker://no-such-*", NEXT_YEAR))
    run = suite(f"--iso-waivers={waivers}", "-k", "pid and not limit")
    assert run.exit_code == 0
    document = json.loads((run.reports / "isolation.json").read_text())
    assert [w["line"] for w in document["unmatched_waivers"]] == [1]
    assert "matched nothing" in run.output


@pytest.mark.parametrize("name, text, words", [
    ("syntax.toml", '[[waiver]]\nproperty = "caps\n', "line 2"),
    ("missing.toml", '[[waiver]]\nproperty = "caps"\ntarget = "*"\nreason = "r"\nexpires = 2030-01-01\n',
     "missing.toml:1: missing owner"),
    ("unknown.toml", waiver_toml("caps", "*", NEXT_YEAR) + waiver_toml("no-such", "*", NEXT_YEAR),
     "unknown.toml:7: no property 'no-such'"),
    ("date.yaml", "waivers:\n  - property: caps\n    target: '*'\n    reason: r\n    owner: o\n    expires: soon\n",
     "date.yaml:2: expires 'soon' is not a date"),
    ("syntax.yaml", "waivers:\n  - property: [caps\n", "syntax.yaml:3"),
])
def test_malformed_waiver_file_is_a_usage_error_naming_the_line(suite, tmp_path, name, text, words):
    waivers = tmp_path / name
    waivers.write_text(text)
    run = suite(f"--iso-waivers={waivers}")
    assert run.exit_code == 4
    assert words in run.output, run.output
    assert "Traceback" not in run.output


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
