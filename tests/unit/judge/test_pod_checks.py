"""A pod's container judged as a pod's (hand-made facts: the real pods are in
tests/e2e/test_cri_targets.py): PID 1 may be its pod's sandbox, never the node's; drift reads
the OCI runtime spec; a verdict names the pod's sandbox where it is the one that breaks it."""

from dataclasses import replace

from isoverify.collect.cri import PodContainer
from isoverify.collect.cri.client import declared_spec
from isoverify.collect.targets import CRI, ContainerTarget, HostTarget
from isoverify.judge.catalogue import BY_ID
from isoverify.judge.checks import lesson
from isoverify.judge.verdict import judge
from isoverify.judge.words import FAIL, PASS
from isoverify.model import ContainerFacts, HostFacts, HostProcess, Member, Reading

SANDBOX_PID, MAIN_PID = 4100, 4200
HOST_NS = {"pid": "pid:[4026531836]"}
HOST = HostFacts(HostTarget("local://"), {"ns": Reading("ns", "", 0, HOST_NS),
                                           "processes": Reading("processes", "200", 0, 200)})


def pod(**changes) -> PodContainer:
    made = PodContainer(
        runtime_name="containerd", runtime_version="1.7", sandbox_id="a" * 64, sandbox_pid=SANDBOX_PID,
        pod_uid="uid", pod_namespace="shop", pod_name="app", pod_labels={}, container_id="c" * 64,
        container_name="server", state="running", attempt=0, exit_code=0, created_at=1, finished_at=0, init=False,
        pid=MAIN_PID, spec=declared_spec({"process": {"capabilities": {"bounding": ["CAP_CHOWN"]}}}), labels={},
        annotations={})
    return replace(made, **changes)


def facts(pid_ns: str, nspid: str, pid1: int, container: PodContainer | None = None) -> ContainerFacts:
    container = container or pod()
    target = ContainerTarget(HostTarget("local://"), CRI, container.container_id, "cri://shop/app/server", container)
    inode = int(pid_ns.strip("pid:[]"))
    processes = [HostProcess(pid1, inode, 1, 65535, "pause"), HostProcess(MAIN_PID, inode, 7, 0, "sleep")]
    outside = {
        "locate": Reading("locate", str(MAIN_PID), 0, MAIN_PID),
        "ns": Reading("ns", "", 0, {"pid": pid_ns}),
        "status": Reading("status", "", 0, {"NSpid": nspid, "Tgid": str(MAIN_PID)}),
        "cmdline": Reading("cmdline", "sleep 3600", 0, "sleep 3600"),
        "visible": Reading("visible", "", 0, {"total": 2, "named": [(p.pid, p.name) for p in processes],
                                              "processes": processes}),
    }
    return ContainerFacts(target, outside, None, "read by the host", inside_by_host=True)


def test_the_pods_sandbox_as_pid_1_of_the_pods_own_namespace_passes():
    found = lesson.check_pid(HOST, facts("pid:[4026532999]", f"{MAIN_PID} 7", SANDBOX_PID))
    assert found.holds and f"its pod's sandbox (process {SANDBOX_PID})" in found.summary, found.summary


def test_another_process_as_pid_1_fails_even_in_a_pod():
    found = lesson.check_pid(HOST, facts("pid:[4026532999]", f"{MAIN_PID} 7", 4999))
    assert not found.holds and "nor is its pod's sandbox" in found.summary, found.summary


def test_the_nodes_pid_namespace_fails_whoever_is_pid_1():
    found = lesson.check_pid(HOST, facts(HOST_NS["pid"], f"{MAIN_PID}", 1))
    assert not found.holds and "shares the host's PID namespace" in found.summary, found.summary


def test_a_container_with_no_pod_keeps_the_lessons_reading():
    plain = facts("pid:[4026532999]", f"{MAIN_PID} 7", SANDBOX_PID)
    plain = replace(plain, target=replace(plain.target, engine="pid", pod=None))
    assert not lesson.check_pid(HOST, plain).holds


def test_a_verdict_names_the_pods_sandbox_when_it_breaks_a_property():
    """The sandbox is one of the processes judged, attributed to the pod, not to the container."""
    ctr = facts("pid:[4026532999]", "4200 1", SANDBOX_PID)
    member_status = {"Tgid": str(SANDBOX_PID), "Name": "pause", "NSpid": f"{SANDBOX_PID}"}
    sandbox = Reading("members", "", 0, [Member(str(SANDBOX_PID), member_status, {"pid": HOST_NS["pid"]}, "", [], "")])
    ctr = replace(ctr, outside={**ctr.outside, "members": sandbox})
    verdict = judge(BY_ID["pid"], "cri://shop/app/server", True, HOST, ctr)
    assert verdict.status == FAIL, verdict.summary
    assert verdict.summary.startswith(f"the pod's sandbox (process {SANDBOX_PID}, pause), not its main one"), \
        verdict.summary
    assert verdict.container[-1].label == "declared (the CRI runtime spec)"
    alone = replace(ctr, outside={**ctr.outside, "members": Reading("members", "", 0, [])})
    assert judge(BY_ID["pid"], "cri://shop/app/server", True, HOST, alone).status == PASS
