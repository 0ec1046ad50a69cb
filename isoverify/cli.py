"""`isoverify [OPTIONS] [PATH...]`: the catalogue anywhere, as `pytest` runs it in a checkout.

Reports go to reports/ of the current directory; test files or directories given as
arguments join the same run and the same reports (checks of your own, see the README);
every other argument is pytest's or the plugin's. The exit code is the run's.
`--help` is isoverify's own usage; pytest's, with every option, is `--help-pytest`.
`isoverify merge` makes one fleet's reports of many runs' results (isoverify/merge.py).
"""

import sys
import textwrap
from pathlib import Path

import pytest

DEFAULTS = (
    "--iso-report=reports/isolation.html", "--html=reports/test-log.html", "--self-contained-html",
    "--junitxml=reports/isolation.xml",
    "--iso-json=reports/isolation.json", "-p", "no:cacheprovider", "--tb=short",
    "-o", "junit_family=xunit2", "-o", "junit_suite_name=isoverify",
)

# The plugin's options as the help groups them; every one is in exactly one group.
OPTION_GROUPS = {
    "What to verify": ("--iso-host", "--iso-container", "--iso-image", "--iso-label", "--iso-inside",
                       "--iso-timeout"),
    "How to judge": ("--iso-profile", "--iso-waivers", "--iso-baseline"),
    "Reports": ("--iso-report", "--iso-json", "--iso-oscal", "--iso-policy-report", "--iso-sarif", "--iso-run"),
}

USAGE = """\
usage: isoverify [OPTIONS] [PATH...]
       isoverify merge [--nodes=NAME,...] [--max-age=AGE] [--run=ID] RESULTS...   (see isoverify merge --help)

Proves, property by property, that each container is isolated from its host: its own
root, PID, network, UTS, IPC, mount and user namespaces, no capability or device beyond
the runtime's default, a seccomp filter, no host mount or engine socket, limits set,
judged from what the kernel shows on the host. PATHs are test files or directories of
checks of your own, judged in the same run (see the README, "Writing your own checks").
"""

EXAMPLES = """\
Examples:
  isoverify                                         a busybox container it starts and removes
  isoverify --iso-container=docker://web            a container you run
  isoverify --iso-container='docker://*' -n auto    every running container, in parallel
  isoverify --iso-host=ssh://root@web1 --iso-container=docker://api
  isoverify --iso-profile=hardened --iso-waivers=waivers.toml examples/
  isoverify -k 'caps or seccomp'                    some properties only (-m cis_5_16: by control)
"""

TAIL = """\
Reports (in ./reports, each overridable):
  isolation.html    for the auditor: score, by control, what to fix, the evidence (--iso-report=PATH)
  isolation.json    every verdict for machines (--iso-json=PATH)
  isolation.xml     JUnit, for CI dashboards (--junitxml=PATH)
  test-log.html     pytest-html's log of the test run, for developers (--html=PATH)
  OSCAL             assessment results, when asked for (--iso-oscal=PATH)
  Policy Reports    Kubernetes wgpolicyk8s.io/v1alpha2 (YAML), when asked for (--iso-policy-report=PATH)
  SARIF             2.1.0, for code scanning dashboards, when asked for (--iso-sarif=PATH)

Exit codes:
  0  every enforced property holds on every container (advisories and waived failures do not count)
  1  an enforced property fails on some container
  2  interrupted (Ctrl-C, SIGTERM); the container it started is removed first
  4  usage error: an option, URL, profile or waiver file it cannot use (one line names the fix)
  5  no property was selected
  6  something could not be observed and nothing failed (one line names the fix)

pytest's own options (-k, -m, -n, -x, -v, --html, ...) work too: see isoverify --help-pytest.
"""


class _Declared:
    """Stands in for pytest's parser to learn the plugin's options as it declares them."""

    def __init__(self):
        self.options: dict[str, dict] = {}

    def getgroup(self, *_args):
        return self

    def addoption(self, name: str, **attributes):
        self.options[name] = attributes


def plugin_options() -> dict[str, dict]:
    """The plugin's options, with their help and defaults, as `pytest_addoption` declares them."""
    from isoverify import plugin  # not before pytest starts: it marks the plugins' modules for rewriting first

    declared = _Declared()
    plugin.pytest_addoption(declared)
    return declared.options


def _option_lines(name: str, attributes: dict) -> list[str]:
    if "choices" in attributes:
        value = "{" + ",".join(attributes["choices"]) + "}"
    else:
        value = attributes.get("metavar", "")
    words = textwrap.wrap(attributes["help"], 66)
    head = f"  {name}={value}" if value else f"  {name}"
    if len(head) > 24:
        return [head, *(" " * 26 + w for w in words)]
    return [head.ljust(26) + words[0], *(" " * 26 + w for w in words[1:])]


def usage() -> str:
    """isoverify's own help: what it verifies, its options by purpose, examples, exit codes."""
    options = plugin_options()
    sections = [USAGE]
    for title, names in OPTION_GROUPS.items():
        lines = [line for name in names for line in _option_lines(name, options[name])]
        sections.append("\n".join([f"{title}:", *lines]) + "\n")
    sections.append("\n".join(["Help:", "  --help                  this help",
                               "  --help-pytest           pytest's help, with every option it takes"]) + "\n")
    return "\n".join([*sections, EXAMPLES, TAIL])


def main(argv: list[str] | None = None) -> int:
    """Run the catalogue, with the caller's arguments after the defaults (the last word wins)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["merge"]:
        from isoverify import merge  # a merge runs no test: pytest is not started
        return merge.main(args[1:])
    if "--help-pytest" in args:
        args = [("--help" if arg == "--help-pytest" else arg) for arg in args]
    elif {"-h", "--help"} & set(args):
        sys.stdout.write(usage())
        return 0
    return int(pytest.main([f"--rootdir={Path.cwd()}", *DEFAULTS, str(Path(__file__).parent / "catalogue"),
                            *args]))


if __name__ == "__main__":
    sys.exit(main())
