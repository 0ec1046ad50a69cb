"""What a verdict says when not all of a container could be read."""

from dataclasses import replace

from isoverify.collect.targets import ContainerTarget, HostTarget
from isoverify.judge.catalogue import BY_ID
from isoverify.judge.verdict import judge
from isoverify.judge.words import ERROR
from isoverify.model import ContainerFacts, HostFacts, Reading

HOST = HostFacts(HostTarget("local://"), {"cap_last_cap": Reading("cap_last_cap", "40", 0, 40)})
CHURN = "1 of its processes or threads started or were replaced, or exited (43), each of the 3 times it was read"


def filtered(filters: Reading) -> ContainerFacts:
    target = ContainerTarget(HostTarget("local://"), "docker", "web", "docker://web")
    status = {"Seccomp": "2", "Tgid": "42", "Name": "sh"}
    return ContainerFacts(target, {"locate": Reading("locate", "42", 0, 42), "status": Reading("status", "", 0, status),
                                   "filters": filters}, None, "")


def test_a_reading_missed_while_its_processes_changed_says_so():
    """A process gone before its filters were read is an error, and the churn that caused it
    is named beside it: it is read again, and a loop of forks cannot pass as a broken reading."""
    gone = Reading("filters", "", 0, {"42": "unreadable: No such file or directory"})
    verdict = judge(BY_ID["seccomp"], "docker://web", True, HOST, filtered(replace(gone, partial=CHURN)))
    assert verdict.status == ERROR
    assert verdict.summary.startswith("could not read the seccomp filters of ") and CHURN in verdict.summary
    alone = judge(BY_ID["seccomp"], "docker://web", True, HOST, filtered(gone))
    assert alone.status == ERROR and "started or were replaced" not in alone.summary
