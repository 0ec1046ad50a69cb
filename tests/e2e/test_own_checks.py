"""Checks of the user's own, written with the `iso_container` and `iso_host` fixtures and the
`iso_property` marker: judged, gated, waived and reported like the catalogue's, and run
inside a container only as confined as the container is."""

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import testinfra

from conftest import LABEL_ARG
from isoverify import user_checks as own
from isoverify.collect.targets import HostTarget
from isoverify.plugin import EXIT_UNOBSERVABLE


def run_checks(directory: Path, source: str, *args: str, conftest: str = "") -> tuple[int, str, list[dict]]:
    """pytest on one test file of the user's own (and its conftest), outside this repo."""
    (directory / "test_own.py").write_text(textwrap.dedent(source))
    (directory / "conftest.py").write_text(textwrap.dedent(conftest))
    report = directory / "own.json"
    report.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--iso-json={report}",
                           LABEL_ARG, *args, str(directory / "test_own.py")],
                          cwd=directory, capture_output=True, text=True, timeout=180)
    results = json.loads(report.read_text())["results"] if report.exists() else []
    return done.returncode, done.stdout + done.stderr, results


FAILING_BY_PROFILE = """
    import pytest

    @pytest.mark.iso_property("strict-thing", "A thing only the hardened profile asks for", profile="hardened")
    def test_strict(iso_container):
        assert iso_container.run("true").rc == 1, "it holds nothing back"

    @pytest.mark.iso_property("noted-thing", "A thing worth seeing, never enforced", advisory=True)
    def test_noted(iso_container):
        assert False, "never holds"
"""


def test_a_property_is_enforced_from_its_profile_up(tmp_path):
    code, output, results = run_checks(tmp_path, FAILING_BY_PROFILE)
    assert code == 0, output
    assert {r["property"]: r["verdict"] for r in results} == {"strict-thing": "advisory", "noted-thing": "advisory"}
    assert "isoverify: 0 pass, 0 fail, 2 advisory" in output
    code, output, results = run_checks(tmp_path, FAILING_BY_PROFILE, "--iso-profile=hardened")
    assert code == 1, output
    assert {r["property"]: r["verdict"] for r in results} == {"strict-thing": "fail", "noted-thing": "advisory"}
    strict = next(r for r in results if r["property"] == "strict-thing")
    assert strict["summary"].startswith("it holds nothing back")
    [command] = strict["evidence"]["container"]
    assert command["label"] == "$ true  (inside, through the engine's exec)"
    assert command["text"] == "(exit status 0)"


IN_PLAIN_WORDS = """
    import pytest

    @pytest.mark.iso_property("passwd-not-world-readable", "Nobody else reads /etc/passwd", controls=["CIS 5.7"])
    def test_mode(iso_container):
        assert not iso_container.file("/etc/passwd").mode & 0o004

    @pytest.mark.iso_property("says-hello", "It answers")
    def test_says(iso_container):
        said = iso_container.run("echo hello; exit 3")
        assert said.rc == 0, f"expected exit status 0, found {said}"

    @pytest.mark.iso_property("exits-zero", "It exits 0")
    def test_exits(iso_container):
        assert iso_container.run("echo bye; exit 3").rc == 0
"""
# pytest's rewrite of an assertion, and the representation of an object: never a summary
NOT_PLAIN = re.compile(r"\bwhere\b|object at 0x|CommandResult|<file |\+\s+where|^assert ", re.MULTILINE)


def test_a_failed_check_says_why_in_plain_words(tmp_path):
    code, output, results = run_checks(tmp_path, IN_PLAIN_WORDS)
    assert code == 1, output
    said = {r["property"]: r for r in results}
    assert {p: r["verdict"] for p, r in said.items()} == dict.fromkeys(said, "fail")
    for record in results:
        assert not NOT_PLAIN.search(record["summary"]), record["summary"]
    assert said["passwd-not-world-readable"]["summary"] == (
        'its assertion failed: `assert not iso_container.file("/etc/passwd").mode & 0o004` (test_own.py:6)')
    assert said["passwd-not-world-readable"]["controls"] == ["CIS Docker Benchmark v1.6.0 5.7"]
    assert said["says-hello"]["summary"] == "expected exit status 0, found `echo hello; exit 3` (exit status 3): hello"
    assert said["exits-zero"]["summary"] == (
        'its assertion failed: `assert iso_container.run("echo bye; exit 3").rc == 0` (test_own.py:15)')
    [command] = said["exits-zero"]["evidence"]["container"]  # the command, and what it printed
    assert command["label"] == "$ echo bye; exit 3  (inside, through the engine's exec)"
    assert command["text"] == "bye\n(exit status 3)"
    [stat] = [c for c in said["passwd-not-world-readable"]["evidence"]["container"]
              if c["label"].startswith("$ stat") and "/etc/passwd" in c["label"]]
    assert stat["text"] == "644\n(exit status 0)"


def test_waivers_name_a_property_of_your_own_by_its_id(tmp_path, canary):
    """It names no findings, so only a waiver pinned to the container itself waives it."""
    source = """
        import pytest

        @pytest.mark.iso_property("known-gap", "A gap the team accepts", controls=["CIS 5.7", "NIST 4.4.3"])
        def test_gap(iso_container):
            assert False, "the gap"
    """
    container = canary()
    waivers = tmp_path / "waivers.toml"
    waivers.write_text(f'[[waiver]]\nproperty = "known-gap"\ncontainer = "{container.id}"\nreason = "accepted; SEC-1"\n'
                       'owner = "me"\nexpires = 2099-01-01\n')
    code, output, results = run_checks(tmp_path, source, f"--iso-waivers={waivers}", "-m", "cis_5_7",
                                       f"--iso-container=docker://{container.name}")
    assert code == 0, output
    [record] = results
    assert record["verdict"] == "waived" and record["waiver"]["reason"] == "accepted; SEC-1"
    assert record["controls"] == ["CIS Docker Benchmark v1.6.0 5.7", "NIST SP 800-190 4.4.3"]
    waivers.write_text('[[waiver]]\nproperty = "known-gap"\ntarget = "*"\nreason = "r"\nowner = "me"\n'
                       'expires = 2099-01-01\n')
    code, output, _ = run_checks(tmp_path, source, f"--iso-waivers={waivers}")
    assert code == 4 and "known-gap names no findings, so only a container pin can waive it" in output, output
    waivers.write_text(f'[[waiver]]\nproperty = "no-such-check"\ncontainer = "{container.id}"\nreason = "r"\n'
                       'owner = "me"\nexpires = 2099-01-01\n')
    code, output, _ = run_checks(tmp_path, source, f"--iso-waivers={waivers}")
    assert code == 4 and "no property 'no-such-check'" in output, output


@pytest.mark.parametrize("marker, said", [
    ('"Bad ID", "t"', "use lowercase letters"),
    ('"pid", "t"', "is the catalogue's own"),
    ('"x", "t", controls=["ISO 27001"]', "control 'ISO 27001'"),
    ('"x", "t", profile="strictest"', "profile 'strictest'"),
    ('"x"', "iso_property"),
])
def test_a_malformed_marker_is_a_usage_error(tmp_path, marker, said):
    source = f"""
        import pytest

        @pytest.mark.iso_property({marker})
        def test_it(iso_container):
            pass
    """
    code, output, _ = run_checks(tmp_path, source)
    assert code == 4 and said in output, output


def test_one_id_names_one_check(tmp_path):
    source = """
        import pytest

        @pytest.mark.iso_property("twice", "one")
        def test_one(iso_container):
            pass

        @pytest.mark.iso_property("twice", "other")
        def test_other(iso_container):
            pass
    """
    code, output, _ = run_checks(tmp_path, source)
    assert code == 4 and "another test's too" in output, output


def test_a_check_that_cannot_decide_is_an_error_and_a_failing_test_outranks_it(tmp_path):
    undecided = """
        import pytest

        @pytest.mark.iso_property("undecided", "A check whose tool is missing")
        def test_undecided(iso_container):
            raise RuntimeError("no tool")
    """
    code, output, results = run_checks(tmp_path, undecided)
    assert code == EXIT_UNOBSERVABLE, output
    [record] = results
    assert record["verdict"] == "error" and "RuntimeError: no tool" in record["summary"]
    code, output, _ = run_checks(tmp_path, textwrap.dedent(undecided) + "\n\ndef test_plain():\n    assert False\n")
    assert code == 1, output


def test_commands_run_inside_confined_as_the_container_is(tmp_path, canary):
    """A command through iso_container is the container's: its capabilities, seccomp mode,
    no_new_privs, cgroup and namespaces, never the verifier's."""
    confined = canary(cap_drop=["ALL"], security_opt=["no-new-privileges"], user="1000:1000")
    source = """
        import pytest

        @pytest.mark.iso_property("confined", "Commands run confined")
        def test_confined(iso_container):
            main = iso_container.facts.outside["status"].value
            seen = dict(line.split(":", 1) for line in iso_container.check_output("cat /proc/self/status").splitlines())
            for field in ("CapEff", "CapBnd", "CapPrm", "Seccomp", "NoNewPrivs"):
                assert seen[field].strip() == main[field], field
            assert seen["Uid"].split()[0] == "1000"
            assert iso_container.check_output("cat /proc/self/cgroup") == \\
                iso_container.facts.outside["cgroup"].output.strip()
            assert iso_container.check_output("readlink /proc/self/ns/pid") == \\
                iso_container.facts.outside["ns"].value["pid"]
    """
    code, output, results = run_checks(tmp_path, source, f"--iso-container=docker://{confined.name}")
    assert code == 0 and [r["verdict"] for r in results] == ["pass"], output


def test_a_command_that_is_not_ascii_is_the_only_one_run(tmp_path):
    """testinfra asks a target for its encoding (python3, run in the container) before a
    command that is not ASCII: the fixtures speak UTF-8, so the check's command is the one
    run and the one shown."""
    source = """
        import pytest

        @pytest.mark.iso_property("greets", "Greets in French")
        def test_greets(iso_container):
            assert iso_container.check_output("echo 'd\u00e9j\u00e0 vu'") == "d\u00e9j\u00e0 vu"
    """
    code, output, results = run_checks(tmp_path, source)
    assert code == 0, output
    assert [e["label"] for e in results[0]["evidence"]["container"]] == \
        ["$ echo 'd\u00e9j\u00e0 vu'  (inside, through the engine's exec)"]


def test_a_bare_process_runs_no_commands_and_an_answer_cut_short_is_no_answer(tmp_path, canary, handmade):
    """A check's command that floods or hangs gets no answer to judge by (an error), and one
    that fails on its own is the container's answer, whatever it prints."""
    source = """
        import pytest

        @pytest.mark.iso_property("flood", "Output is bounded")
        def test_flood(iso_container):
            assert "END" not in iso_container.run("yes | head -c 1100000; echo END").stdout

        @pytest.mark.iso_property("hang", "A hang ends")
        def test_hang(iso_container):
            assert iso_container.run("sleep 60").rc != 0

        @pytest.mark.iso_property("refused", "A refusal is the command's")
        def test_refused(iso_container):
            said = iso_container.run("printf 'Error response from daemon: no\\n\\033]0;title\\a' >&2; exit 3")
            assert said.rc == 3 and said.stderr.startswith("Error response from daemon") and "\\033" not in said.stderr
    """
    code, output, results = run_checks(tmp_path, source, "--iso-timeout=3", f"--iso-container=docker://{canary().name}",
                                       "--iso-container=pid://"
                                       f"{handmade('--pid', '--mount', '--net', '--uts', '--ipc')}")
    assert code == EXIT_UNOBSERVABLE, output
    found = {(r["property"], r["target"].split(":")[0]): r for r in results}
    assert found["flood", "docker"]["verdict"] == "error" and "more than" in found["flood", "docker"]["summary"]
    assert found["hang", "docker"]["verdict"] == "error" and "did not finish" in found["hang", "docker"]["summary"]
    assert found["refused", "docker"]["verdict"] == "pass", found["refused", "docker"]
    assert all(found[prop, "pid"]["verdict"] == "error" and "bare process" in found[prop, "pid"]["summary"]
               and "would be the host's view" in found[prop, "pid"]["summary"] for prop in ("flood", "hang", "refused"))


def test_a_stopped_container_is_an_error_never_a_pass(tmp_path, canary):
    container = canary()
    source = f"""
        import subprocess
        import pytest

        @pytest.mark.iso_property("absent-tool", "A tool is absent")
        def test_absent(iso_container):
            subprocess.run(["docker", "stop", "-t", "0", "{container.name}"], check=True)
            assert iso_container.run("command -v gdb").rc != 0
    """
    code, output, results = run_checks(tmp_path, source, f"--iso-container=docker://{container.name}")
    assert code == EXIT_UNOBSERVABLE, output
    [record] = results
    assert record["verdict"] == "error" and "could not run" in record["summary"]


FACT_CONFTEST = """
    from isoverify import Fact

    class Threads(Fact):
        label = "Threads in /proc/$pid/status"

        def __init__(self):
            super().__init__("awk '/^Threads:/ { print $2 }' /proc/$pid/status")

        def parse(self, text):
            return int(text)

    def pytest_isoverify_container_facts(config):
        return {"threads": Threads()}
"""


def test_a_fact_of_your_own_joins_the_one_probe(tmp_path, canary):
    source = """
        import pytest

        @pytest.mark.iso_property("one-thread", "Its main process has one thread")
        def test_threads(iso_host, iso_container):
            assert iso_container.fact("threads") == 1
            assert iso_host.facts["kernel"].value == iso_host.check_output("uname -r")
    """
    first, second = canary(), canary()
    code, output, results = run_checks(tmp_path, source,
                                       *(f"--iso-container=docker://{c.name}" for c in (first, second)),
                                       conftest=FACT_CONFTEST)
    assert code == 0 and [r["verdict"] for r in results] == ["pass", "pass"], output
    [reading] = [e for e in results[0]["evidence"]["container"] if "Threads" in e["label"]]
    assert reading["label"] == f"Threads in /proc/{reading['label'].split('/')[2]}/status   (on the host)"
    assert [e["label"] for e in results[0]["evidence"]["host"]] == ["$ uname -r"]
    document = json.loads((tmp_path / "own.json").read_text())
    assert document["hosts"][0]["round_trips"] == 1 + 2, "one probe, then each check's own uname -r"


def test_one_container_costs_only_its_own_checks(tmp_path, canary, docker_client):
    """A parser of your own that breaks on one container's name, and a stopped container
    named first, make errors of that container's checks only: the host's check and the
    other containers' verdicts stand."""
    conftest = """
        from isoverify import Fact

        class Fragile(Fact):
            def __init__(self):
                super().__init__("cat /proc/$pid/comm")

            def parse(self, text):
                return text.split("-")[1]  # IndexError on a name without "-"

        def pytest_isoverify_container_facts(config):
            return {"fragile": Fragile()}
    """
    source = """
        import pytest

        @pytest.mark.iso_property("host-answers", "The host answers")
        def test_host(iso_host):
            assert iso_host.run("true").rc == 0

        @pytest.mark.iso_property("fragile-fact", "A fragile fact")
        def test_fragile(iso_container):
            assert iso_container.fact("fragile")
    """
    stopped, plain, dashed = canary(), canary(), canary(tty=False, command=[
        "sh", "-c", "printf '#!/bin/sh\\nsleep 1d\\n' >/a-b && chmod +x /a-b && exec /a-b"])
    stopped.stop(timeout=0)
    code, output, results = run_checks(tmp_path, source, *(f"--iso-container=docker://{c.name}"
                                                             for c in (stopped, plain, dashed)), conftest=conftest)
    assert code == EXIT_UNOBSERVABLE, output
    found = {(r["property"], r["target"]): r["verdict"] for r in results}
    assert found["host-answers", "local://"] == "pass"
    assert found["fragile-fact", f"docker://{dashed.name}"] == "pass"
    assert found["fragile-fact", f"docker://{plain.name}"] == "error"
    assert found["fragile-fact", f"docker://{stopped.name}"] == "error"


WHOSE_VIEW_CONFTEST = """
    from isoverify import Fact

    class Hostname(Fact):
        label = "its /etc/hostname, read through /proc/$root_pid/root"

        def __init__(self):
            super().__init__('container_file "$root_pid" /etc/hostname')

    def pytest_isoverify_container_facts(config):
        return {"hostname": Hostname(),  # named like the suite's own fact: the user's is the one read
                "hostname_by_cat": Fact("cat /proc/$root_pid/root/etc/hostname"),
                "host_hostname": Fact("cat /etc/hostname", "the host's /etc/hostname", reads_host=True)}
"""


def evidence_sides(report: Path) -> tuple[str, str]:
    """The host's and the container's evidence of the one verdict on the auditor's page, from
    the data its script shows them from when that verdict's row is opened."""
    blob = re.search(r'<script type="application/json" id="iso-data">(.*?)</script>', report.read_text(), re.S)[1]
    [detail] = json.loads(blob).values()
    return tuple("\n".join(f"{e['label']}\n{e['text']}" for e in detail["evidence"][side])
                 for side in ("host", "container"))


def test_a_fact_that_names_none_of_the_containers_processes_is_a_usage_error(tmp_path):
    """Its shell is the host's: `cat /etc/hostname` there would read the host's file."""
    conftest = """
        from isoverify import Fact

        def pytest_isoverify_container_facts(config):
            return {"hostname": Fact("cat /etc/hostname")}
    """
    source = """
        import pytest

        @pytest.mark.iso_property("named", "It has a name")
        def test_named(iso_container):
            assert iso_container.fact("hostname")
    """
    code, output, results = run_checks(tmp_path, source, conftest=conftest)
    assert code == 4 and results == [], output
    [line] = [line for line in output.splitlines() if line.startswith("ERROR")]
    assert "Traceback" not in output
    assert line.startswith("ERROR: pytest_isoverify_container_facts: fact 'hostname' (`cat /etc/hostname`)"), line
    assert "reads_host=True" in line and 'container_file "$root_pid" /etc/hostname' in line


def test_a_fact_of_the_hosts_own_view_is_shown_as_the_hosts(tmp_path, canary):
    """The container's file through $root_pid is the container's answer, under its column;
    a fact declared as reading the host is the host's, under the host's column, never the
    container's: in the JSON record and on the auditor's page alike."""
    container = canary(hostname="isoverify-inner")
    source = """
        import pytest

        @pytest.mark.iso_property("named-apart", "It is named apart from its host")
        def test_named_apart(iso_container):
            assert iso_container.fact("hostname") == iso_container.fact("hostname_by_cat") == "isoverify-inner"
            assert iso_container.fact("host_hostname") != iso_container.fact("hostname")
    """
    report = tmp_path / "own.html"
    code, output, results = run_checks(tmp_path, source, f"--iso-container=docker://{container.name}",
                                       f"--iso-report={report}", conftest=WHOSE_VIEW_CONFTEST)
    assert code == 0, output
    [record] = results
    host_name = Path("/etc/hostname").read_text().strip()
    [host_side] = record["evidence"]["host"]
    assert host_side == {"label": "the host's /etc/hostname   (the host's own view, read for "
                                  f"docker://{container.name}: not the container's)",
                         "text": f"{host_name}\n(exit status 0)"}
    container_side = record["evidence"]["container"]
    assert [e["label"].split("/proc/")[0] for e in container_side] == [
        "its /etc/hostname, read through ", "cat ", "its /etc/hostname, read through "]
    assert all(e["label"].endswith("   (on the host)") and e["text"] == "isoverify-inner\n(exit status 0)"
               for e in container_side)
    host_side, container_side = evidence_sides(report)
    assert "the host's own view, read for" in host_side and f"{host_name}\n(exit status 0)" in host_side
    assert "own view" not in container_side
    assert container_side.count("(exit status 0)") == container_side.count("isoverify-inner\n(exit status 0)") == 3


def test_a_containers_file_is_read_through_no_link_and_no_node(tmp_path, canary):
    """container_file refuses what the container planted to lead the host's root elsewhere:
    a link to the host's file, a directory that is a link, a device node, a FIFO; and reads
    nothing only root may read."""
    planting = ("ln -s /etc/hostname /to-host && mkdir /d && ln -s /etc /d/up && mknod /zero c 1 5 && mkfifo /fifo "
                "&& echo kept >/priv && chmod 600 /priv && echo plain >/plain && exec sleep 1d")
    container = canary(tty=False, command=["sh", "-c", planting])
    paths = {"link": "/to-host", "linked_directory": "/d/up/hostname", "node": "/zero", "fifo": "/fifo",
             "private": "/priv", "plain": "/plain"}
    conftest = "from isoverify import Fact\n\ndef pytest_isoverify_container_facts(config):\n    return {" + \
        ", ".join(f'"{name}": Fact(\'container_file "$root_pid" {path}\')' for name, path in paths.items()) + "}\n"
    source = """
        import pytest

        @pytest.mark.iso_property("planted", "What it planted is not read")
        def test_planted(iso_container):
            said = {name: iso_container.facts.outside["own." + name] for name in
                    ("link", "linked_directory", "node", "fifo", "private", "plain")}
            assert said["plain"].value == "plain"
            assert [name for name, reading in said.items() if reading.readable] == ["plain"]
            assert "/to-host is not a regular file" in said["link"].output
            assert "/d/up is a link or no directory: not followed" in said["linked_directory"].output
            assert "/zero is not a regular file" in said["node"].output
            assert "/fifo is not a regular file" in said["fifo"].output
            assert "/priv: Permission denied" in said["private"].output
    """
    code, output, results = run_checks(tmp_path, source, f"--iso-container=docker://{container.name}",
                                       conftest=conftest)
    assert code == 0 and [r["verdict"] for r in results] == ["pass"], output


def test_testinfras_host_is_named_as_the_machine_running_the_suite(tmp_path):
    """testinfra's `host` in a property of your own: each command through it is shown as
    that machine's, and the summary says the test used it; a test of testinfra's own keeps
    its `host` as it was."""
    source = """
        import pytest

        @pytest.mark.iso_property("with-host", "Uses testinfra's host")
        def test_with_host(iso_container, host):
            assert host.check_output("echo from-host") == "from-host"
            assert iso_container.check_output("echo from-container") == "from-container"

        def test_plain_testinfra(host):
            assert "run" not in vars(host) and host.run("true").rc == 0
    """
    code, output, results = run_checks(tmp_path, source)
    assert code == 0 and "2 passed" in output, output
    [record] = results
    machine = "testinfra's `host`: the machine running the suite, here also the host under test"
    assert record["summary"] == f"its test passed (it used {machine})"
    assert record["evidence"]["host"] == [{"label": f"$ echo from-host  ({machine})",
                                           "text": "from-host\n(exit status 0)"}]
    assert [e["label"] for e in record["evidence"]["container"]] == \
        ["$ echo from-container  (inside, through the engine's exec)"]


def test_testinfras_host_beside_a_remote_host_under_test_is_not_it():
    local = testinfra.get_host("local://")
    assert own.machine(local, HostTarget("ssh://root@192.0.2.1")) == \
        "the machine running the suite, not the host under test"
    assert own.machine(local, HostTarget("local://")) == "the machine running the suite, here also the host under test"
    assert own.machine(testinfra.get_host("paramiko://root@192.0.2.1"), HostTarget("local://")) == \
        "paramiko://192.0.2.1 (testinfra's --hosts), not the run's host under test"
