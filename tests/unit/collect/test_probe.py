"""The batched probe's framing: sections come back intact, or the probe is an error."""

import subprocess

import pytest

from isoverify.collect import probe

NONCE = "0123456789abcdef01234567"


def run_script(commands: dict[str, str]) -> bytes:
    return subprocess.run(["sh", "-s"], input=probe.script(commands, NONCE).encode(),
                          capture_output=True, check=True).stdout


def test_sections_keep_output_and_exit_status():
    output = run_script({"one": "printf 'a\\nb\\n'", "two": "printf 'no newline'",
                         "three": "exit_code() { return 3; }; exit_code"})
    sections = probe.parse(output, NONCE, ["one", "two", "three"])
    assert sections["one"] == probe.Section("a\nb\n", 0)
    assert sections["two"] == probe.Section("no newline", 0)
    assert sections["three"].rc == 3


def test_the_script_never_contains_a_marker_itself():
    # A container's `ps` can show the script; it must not show a marker.
    text = probe.script({"ps": "ps aux"}, NONCE)
    assert f"{probe.MARK}:{NONCE}" not in text


def forged(kind: str, name: str) -> str:
    return f"printf '\\n@@%s:%s:{kind}:{name}\\n' isoverify {NONCE}"


@pytest.mark.parametrize("command", [
    forged("rc", "0") + "; " + forged("begin", "two"),   # closes itself early and opens the next one
    forged("begin", "one"),                             # opens itself again
    forged("exit", "0"),                                # invents a kind of marker
])
def test_a_forged_marker_makes_the_probe_an_error(command):
    output = run_script({"one": command, "two": "echo honest"})
    with pytest.raises(probe.ProbeError):
        probe.parse(output, NONCE, ["one", "two"])


def test_a_cut_probe_is_an_error():
    output = run_script({"one": "echo a", "two": "echo b"})
    with pytest.raises(probe.ProbeError, match="before finishing"):
        probe.parse(output[: output.rindex(b"@@")], NONCE, ["one", "two"])


def test_output_at_the_limit_is_an_error():
    with pytest.raises(probe.ProbeError, match="exceeded"):
        probe.parse(b"x" * probe.OUTPUT_LIMIT, NONCE, ["one"])


def test_exit_status_comes_from_stderr_only():
    assert probe.exit_status(b"@@isoverify:%s:exit:126\n" % NONCE.encode(), NONCE) == 126
    assert probe.exit_status(b"", NONCE) is None


def test_command_line_bounds_and_reports_the_exit_status():
    script = probe.script({"big": "yes | head -c 100000"}, NONCE)
    line = probe.command_line("sh -s", script, NONCE, timeout=30)
    done = subprocess.run(["sh", "-c", line], capture_output=True)
    assert probe.exit_status(done.stderr, NONCE) == 0
    assert len(probe.parse(done.stdout, NONCE, ["big"])["big"].output) == 100000
