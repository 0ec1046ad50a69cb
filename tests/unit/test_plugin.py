"""The front end's own words: the command line a report records."""

from isoverify.plugin import command_as_typed


def test_the_command_is_recorded_as_it_was_typed():
    assert command_as_typed(["/venv/bin/isoverify", "--iso-container=docker://web"]) == \
        "isoverify --iso-container=docker://web"
    assert command_as_typed(["/usr/lib/python3/site-packages/isoverify/cli.py", "-k", "caps"]) == "isoverify -k caps"
    assert command_as_typed(["/venv/bin/pytest", "-k", "caps or pid"]) == "pytest -k 'caps or pid'"
    assert command_as_typed(["/venv/lib/python3.11/site-packages/pytest/__main__.py"]) == "pytest"
