"""`isoverify --help` is isoverify's own usage; pytest's whole help is behind --help-pytest."""

import configparser
import subprocess
import sys
from pathlib import Path

from isoverify import cli


def isoverify(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "isoverify.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_help_leads_with_isoverify_usage_options_examples_and_exit_codes(tmp_path):
    shown = isoverify("--help", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stderr == ""
    text = shown.stdout
    assert text.startswith("usage: isoverify [OPTIONS] [PATH...]\n")
    for heading in [*cli.OPTION_GROUPS, "Examples:", "Reports (in ./reports", "Exit codes:"]:
        assert heading in text
    for option in cli.plugin_options():
        assert f"  {option}=" in text
    for code in range(7):
        assert (f"  {code}  " in text) == (code != 3)
    assert "isolation.html" in text and "--help-pytest" in text
    assert "file_or_dir" not in text and "--cov" not in text and "-rootdir" not in text  # none of pytest's own
    assert len(text.splitlines()) < 80
    assert not list(tmp_path.iterdir()), "help runs nothing and writes no report"


def test_every_option_of_the_plugin_is_in_one_group_of_the_help():
    grouped = [name for names in cli.OPTION_GROUPS.values() for name in names]
    assert sorted(grouped) == sorted(cli.plugin_options())


def test_help_pytest_is_pytests_help_with_the_plugins_group(tmp_path):
    shown = isoverify("--help-pytest", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "positional arguments:" in shown.stdout and "container isolation (isoverify):" in shown.stdout
    assert "--iso-container=URL" in shown.stdout


def test_the_command_writes_the_reports_where_pytest_in_a_checkout_does():
    """The auditor's page, the developers' log, JUnit and the JSON: the same paths either way."""
    ini = configparser.ConfigParser()
    ini.read(Path(__file__).resolve().parents[2] / "pytest.ini")
    in_checkout = ini["pytest"]["addopts"].split()
    written_by = ("--iso-report", "--html", "--junitxml", "--iso-json")
    reports = [arg for arg in cli.DEFAULTS if arg.split("=")[0] in written_by]
    assert reports == ["--iso-report=reports/isolation.html", "--html=reports/test-log.html",
                       "--junitxml=reports/isolation.xml", "--iso-json=reports/isolation.json"]
    assert all(arg in in_checkout for arg in reports)
