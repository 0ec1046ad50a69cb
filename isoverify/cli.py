"""`isoverify [PYTEST ARGS] [PATH...]`: the catalogue anywhere, as `pytest` runs it in a checkout.

Reports go to reports/ of the current directory; test files or directories given as
arguments join the same run and the same reports (checks of your own, see the README);
every other argument is pytest's or the plugin's. The exit code is the run's.
"""

import sys
from pathlib import Path

import pytest

from isoverify import catalogue

DEFAULTS = (
    "--html=reports/isolation.html", "--self-contained-html", "--junitxml=reports/isolation.xml",
    "--iso-json=reports/isolation.json", "-p", "no:cacheprovider", "--tb=short",
    "-o", "junit_family=xunit2", "-o", "junit_suite_name=isoverify",
)


def main(argv: list[str] | None = None) -> int:
    """Run the catalogue, with the caller's arguments after the defaults (the last word wins)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return int(pytest.main([f"--rootdir={Path.cwd()}", *DEFAULTS, str(Path(catalogue.__file__).parent), *args]))


if __name__ == "__main__":
    sys.exit(main())
