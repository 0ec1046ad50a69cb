"""`isoverify merge`'s front end: what it refuses, in one line naming the file, and its exit code."""

import json

import pytest

from isoverify import merge

RUN = {"schema": "isoverify.results", "version": 1, "started": "2026-12-04T10:00:00+00:00", "profile": "baseline",
       "hosts": [{"host": "node://", "hostname": "n1"}],
       "results": [{"target": "docker://a", "property": "pid", "verdict": "fail"}]}


@pytest.mark.parametrize("content, words", [
    ("not json", "not JSON (line 1)"),
    ("[]", "not isoverify results"),
    (json.dumps({**RUN, "version": 2}), "results of version 2; this isoverify reads version 1"),
    (json.dumps({key: value for key, value in RUN.items() if key != "hosts"}), "lack 'hosts'"),
    (json.dumps({**RUN, "started": "yesterday"}), "is not an ISO 8601 time with a zone"),
])
def test_a_file_that_is_no_runs_results_is_refused_naming_it(tmp_path, capsys, content, words):
    given = tmp_path / "n1.json"
    given.write_text(content)
    assert merge.main([str(given)]) == merge.EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"isoverify merge: {given}: ") and words in line


@pytest.mark.parametrize("argv, words", [
    (["missing.json"], "missing.json: no such file or directory"),
    ([], "the following arguments are required: RESULTS"),
    (["--max-age=soon", "."], "--max-age 'soon'"),
])
def test_bad_arguments_are_one_line(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "n1.json").write_text(json.dumps(RUN))
    assert merge.main(argv) == merge.EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert words in line


def test_runs_of_different_profiles_are_not_merged(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps(RUN))
    (tmp_path / "b.json").write_text(json.dumps({**RUN, "profile": "hardened"}))
    assert merge.main([str(tmp_path)]) == merge.EXIT_USAGE
    assert "different profiles (baseline, hardened)" in capsys.readouterr().err


@pytest.mark.parametrize("verdicts, code", [(["pass", "advisory", "waived"], 0), (["pass", "error"], 6),
                                            (["error", "fail"], 1)])
def test_the_exit_code_is_a_runs(verdicts, code):
    assert merge.exit_code([{"verdict": verdict} for verdict in verdicts]) == code
