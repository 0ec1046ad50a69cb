"""What the terminal says of properties that could not be judged: one line per target and reason."""

from isoverify.plugin import not_judged_lines


def test_properties_left_unjudged_for_one_reason_are_one_line_per_target():
    records = [{"target": target, "property": prop, "verdict": verdict, "summary": summary}
               for target, prop, verdict, summary in [
                   ("docker://nope", "root", "error", "container nope does not exist"),
                   ("docker://nope", "pid", "error", "container nope does not exist"),
                   ("docker://web", "pid", "pass", "its own PID namespace"),
                   ("docker://web", "lsm", "error", "no LSM label could be read"),
                   ("docker://nope", "net", "error", "container nope does not exist")]]
    assert not_judged_lines(records) == ["docker://nope: container nope does not exist (3 properties not judged)",
                                         "docker://web: no LSM label could be read"]
