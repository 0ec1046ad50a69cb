"""The CI gate: exit codes, waivers and the JSON schema, on real runs (the CI templates:
tests/unit/test_ci_templates.py)."""

import datetime
import json
import secrets

import jsonschema
import pytest

from conftest import SESSION_LABEL
from isoverify.plugin import EXIT_UNOBSERVABLE
from isoverify.report.html import SCHEMA

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


def test_a_failing_test_of_ones_own_outranks_an_unobservable_target(suite, tmp_path):
    """Exit codes follow outcomes, not record kinds: any failing test makes the run exit 1."""
    own = tmp_path / "test_own.py"
    own.write_text("def test_own_check():\n    assert False, 'a check of my own fails'\n")
    run = suite("--iso-container=docker://isoverify-selftest-nowhere", "isoverify/catalogue", str(own),
                "-k", "pid and not limit or own_check")
    assert run.exit_code == 1, run.output
    assert [r["verdict"] for r in run.results] == ["error"]


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


def waiver_toml(property_id: str, expires: datetime.date = NEXT_YEAR, **selectors) -> str:
    """One [[waiver]] table: its selectors (and `accept`), then a reason, an owner and the expiry."""
    fields = "".join(f"{name} = {json.dumps(value)}\n" for name, value in selectors.items())
    return (f'[[waiver]]\nproperty = "{property_id}"\n{fields}'
            f'reason = "needs it for the selftest"\nowner = "selftests@example.com"\nexpires = {expires}\n')


@pytest.fixture
def ptrace(canary):
    return canary(cap_add=["SYS_PTRACE"])


def test_waived_failure_is_waived_never_pass(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", target="docker://isoverify-selftest-*", accept=["SYS_PTRACE"]))
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 0, run.output
    [record] = run.results
    assert record["verdict"] == "waived"
    assert record["waiver"]["reason"] == "needs it for the selftest" and not record["waiver"]["expired"]


def test_yaml_waivers_work_the_same(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(f"waivers:\n  - property: caps\n    target: docker://{ptrace.name}\n"
                       f"    accept: [SYS_PTRACE]\n    reason: yaml\n    owner: me\n    expires: {NEXT_YEAR}\n")
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert [r["verdict"] for r in run.results] == ["waived"]


def test_expired_waiver_waives_nothing_and_says_so(ptrace, suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", LAST_YEAR, target=f"docker://{ptrace.name}", accept=["SYS_PTRACE"]))
    run = suite(f"--iso-container=docker://{ptrace.name}", f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 1
    [record] = run.results
    assert record["verdict"] == "fail" and record["waiver"]["expired"]
    assert f"waiver expired on {LAST_YEAR}" in record["summary"]


def test_waiver_matching_nothing_is_reported_by_its_selectors(suite, tmp_path):
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", target="docker://no-such-*", accept=["NET_ADMIN"])
                       + waiver_toml("caps", container="0" * 12)
                       + waiver_toml("caps", label=SESSION_LABEL, accept=["NET_ADMIN"]))  # the managed one's
    run = suite(f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 0
    assert [w["line"] for w in run.document()["unmatched_waivers"]] == [1, 8]
    assert "waiver at line 1 (caps on target docker://no-such-*) matched nothing" in run.output
    assert "waiver at line 8 (caps on container 000000000000) matched nothing" in run.output


@pytest.mark.parametrize("name, text, words", [
    ("syntax.toml", '[[waiver]]\nproperty = "caps\n', "syntax.toml:2:"),
    ("missing.toml", '[[waiver]]\nproperty = "caps"\ntarget = "*"\nreason = "r"\nexpires = 2030-01-01\n',
     "missing.toml:1: missing owner"),
    ("unknown.toml", waiver_toml("caps", container="0" * 12) + waiver_toml("no-such", container="0" * 12),
     "unknown.toml:7: no property 'no-such'"),
    ("date.yaml", "waivers:\n  - property: caps\n    container: '000000000000'\n    reason: r\n    owner: o\n"
                  "    expires: soon\n",
     "date.yaml:2: expires 'soon' is not a date"),
    ("syntax.yaml", "waivers:\n  - property: [caps\n", "syntax.yaml:3"),
    ("twice.yaml", "waivers:\n  - property: caps\n    target: 'docker://vpn-1'\n    target: '*'\n",
     "twice.yaml:4: 'target' is given twice"),
    ("list.yaml", "waivers:\n  - property: [caps]\n    target: '*'\n    reason: r\n    owner: o\n"
     "    expires: 2030-01-01\n", "list.yaml:2: property must be a non-empty string"),
    ("twice.toml", waiver_toml("caps", target="*") + 'owner = "someone else"\n', "twice.toml:7:"),
    ("pinned.toml", waiver_toml("caps", container="vpn-1"), "pinned.toml:1: container 'vpn-1' is not a container ID"),
    ("shared.toml", waiver_toml("caps", target="*"), "shared.toml:1: a waiver pinned to target * covers every"),
])
def test_malformed_waiver_file_is_a_usage_error_naming_the_line(suite, tmp_path, name, text, words):
    waivers = tmp_path / name
    waivers.write_text(text)
    run = suite(f"--iso-waivers={waivers}")
    assert run.exit_code == 4
    assert words in run.output, run.output
    assert "Traceback" not in run.output


def test_a_waiver_pinned_to_a_container_waives_no_other_of_the_same_name_or_glob(canary, suite, tmp_path):
    pinned, other = canary(cap_add=["SYS_PTRACE"]), canary(cap_add=["SYS_PTRACE"])
    other.rename(f"{pinned.name}-evil")
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", container=pinned.id[:12], target=f"docker://{pinned.name}*"))
    run = suite(f"--iso-container=docker://{pinned.name}", f"--iso-container=docker://{pinned.name}-evil",
                f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 1, run.output
    assert run.verdicts(f"docker://{pinned.name}") == {"caps": "waived"}
    assert run.verdicts(f"docker://{pinned.name}-evil") == {"caps": "fail"}


def test_a_waiver_pinned_to_an_image_waives_the_containers_running_it(canary, suite, tmp_path, shell_less_image):
    busybox, other = canary(cap_add=["SYS_PTRACE"]), canary(image=shell_less_image, cap_add=["SYS_PTRACE"])
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", image=busybox.attrs["Image"], accept=["SYS_PTRACE"]))
    run = suite(f"--iso-container=docker://{busybox.name}", f"--iso-container=docker://{other.name}",
                f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 1, run.output
    assert run.verdicts(f"docker://{busybox.name}") == {"caps": "waived"}
    assert run.verdicts(f"docker://{other.name}") == {"caps": "fail"}


def test_accept_waives_the_findings_it_names_and_no_more(canary, suite, tmp_path):
    label = {"io.isoverify.selftest.waiver": "tunnel"}
    net = canary(cap_add=["NET_ADMIN"], labels=label)
    more = canary(cap_add=["NET_ADMIN", "SYS_ADMIN"], labels=label)
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(waiver_toml("caps", label="io.isoverify.selftest.waiver=tunnel", accept=["NET_ADMIN"]))
    run = suite(f"--iso-container=docker://{net.name}", f"--iso-container=docker://{more.name}",
                f"--iso-waivers={waivers}", "-k", "caps")
    assert run.exit_code == 1, run.output
    waived, failed = (next(r for r in run.results if r["target"] == f"docker://{c.name}") for c in (net, more))
    assert waived["verdict"] == "waived" and waived["findings"] == ["NET_ADMIN"]
    assert failed["verdict"] == "fail" and failed["findings"] == ["NET_ADMIN", "SYS_ADMIN"]
    assert "(waiver at line 1 accepts NET_ADMIN only; not accepted: SYS_ADMIN)" in failed["summary"]
    jsonschema.validate(run.document(), json.loads(SCHEMA.read_text()))


def test_a_pinned_waiver_for_the_vpn_does_not_waive_a_container_named_like_it(canary, suite, tmp_path):
    """The attack: a waiver for `vpn-*` waived a container someone named vpn-evil."""
    tag = secrets.token_hex(4)
    tunnel = canary(cap_add=["NET_ADMIN"])
    evil = canary(cap_add=["NET_ADMIN", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE"], security_opt=["seccomp=unconfined"])
    tunnel.rename(f"isoverify-selftest-vpn-{tag}-tunnel")
    evil.rename(f"isoverify-selftest-vpn-{tag}-evil")
    targets = [f"--iso-container=docker://isoverify-selftest-vpn-{tag}-{name}" for name in ("tunnel", "evil")]
    by_name = tmp_path / "by-name.toml"
    by_name.write_text(waiver_toml("caps", target=f"docker://isoverify-selftest-vpn-{tag}-*", accept=["NET_ADMIN"]))
    named = suite(*targets, f"--iso-waivers={by_name}", "-k", "caps")  # a glob matches both: only NET_ADMIN waived
    assert named.exit_code == 1, named.output
    assert named.verdicts(f"docker://isoverify-selftest-vpn-{tag}-tunnel") == {"caps": "waived"}
    assert named.verdicts(f"docker://isoverify-selftest-vpn-{tag}-evil") == {"caps": "fail"}
    pinned = tmp_path / "pinned.toml"
    pinned.write_text(waiver_toml("caps", container=tunnel.id, accept=["NET_ADMIN"])
                      + waiver_toml("seccomp", container=tunnel.id))
    run = suite(*targets, f"--iso-waivers={pinned}", "-k", "caps or seccomp")
    assert run.exit_code == 1, run.output
    assert run.verdicts(f"docker://isoverify-selftest-vpn-{tag}-tunnel") == {"caps": "waived", "seccomp": "pass"}
    assert run.verdicts(f"docker://isoverify-selftest-vpn-{tag}-evil") == {"caps": "fail", "seccomp": "fail"}
    assert run.document()["unmatched_waivers"] == []


