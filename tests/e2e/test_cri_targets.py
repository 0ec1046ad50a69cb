"""cri://* run as users run it, against pods of a real containerd started as a kubelet starts
them: every pod container found by the runtime's IDs, read from the node's kernel, judged as
a pod's (its sandbox is the pod's, namespaces its pod shares are not the node's)."""

import time

import pytest

from conftest import run_suite
from isoverify.plugin import EXIT_UNOBSERVABLE

USAGE_ERROR = 4  # pytest's own

NAMESPACE = "targets"  # the rig's runtime may run other modules' pods: only these are selected

PODS = {
    "plain": "spec: {containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "host-pid": "spec: {hostPID: true, containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "host-net": "spec: {hostNetwork: true, containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "shared": """spec:
  shareProcessNamespace: true
  containers:
  - {name: app, image: busybox:latest, command: [sleep, '3600']}
  - {name: helper, image: busybox:latest, command: [sleep, '3600']}""",
    "init": """spec:
  initContainers:
  - {name: migrate, image: busybox:latest, command: [sh, -c, 'exit 0']}
  containers:
  - {name: app, image: busybox:latest, command: [sleep, '3600']}""",
    "admin": """spec:
  containers:
  - name: app
    image: busybox:latest
    command: [sleep, '3600']
    securityContext: {capabilities: {add: [SYS_ADMIN]}}""",
    # the same container confined, its pod's sandbox not (a kubelet confines it for the pod's own profile)
    "confined": """spec:
  containers:
  - name: app
    image: busybox:latest
    command: [sleep, '3600']
    securityContext: {seccompProfile: {type: RuntimeDefault}}""",
    "pod-confined": """spec:
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers:
  - {name: app, image: busybox:latest, command: [sleep, '3600']}""",
    # a regular container that ran to its end with 0 is no init container: it must run
    "done": "spec: {containers: [{name: app, image: busybox:latest, command: [sh, -c, 'exit 0']}]}",
}


@pytest.fixture(scope="module")
def pods(cri_runtime):
    started = cri_runtime.run_pods(PODS, NAMESPACE)
    time.sleep(1)  # the container of `done` has ended
    return started


@pytest.fixture(scope="module")
def suite(cri_runtime, pods, tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("cri"), f"--iso-container=cri://*?socket={cri_runtime.socket}"
                     f"&namespace={NAMESPACE}", timeout=600)


def label(pods, pod: str, container: str = "app") -> str:
    running = pods[pod]
    return f"cri://{NAMESPACE}/{pod}/{container} (pod {running.uid}, {running.container_ids[container][:12]})"


def test_every_pod_container_is_a_target_named_by_pod_and_ids(pods, suite):
    expected = {label(pods, pod, container) for pod, running in pods.items() for container in running.container_ids}
    assert {r["target"] for r in suite.results} == expected, suite.output[-3000:]


def test_a_default_pod_is_judged_as_a_pod(pods, suite):
    plain = label(pods, "plain")
    verdicts = suite.verdicts(plain)
    for prop in ("pid", "net", "uts", "ipc", "mntns", "host-mounts", "drift"):
        assert verdicts[prop] == "pass", (prop, _summary(suite, plain, prop))


def test_host_pid_fails_pid_and_nothing_else_newly(pods, suite):
    plain, host_pid = label(pods, "plain"), label(pods, "host-pid")
    assert suite.verdicts(host_pid)["pid"] == "fail"
    assert "shares the host's PID namespace" in _summary(suite, host_pid, "pid")
    assert suite.broken(host_pid) - suite.broken(plain) == {"pid"}, _summaries(suite, host_pid)


def test_host_network_fails_net(pods, suite):
    plain, host_net = label(pods, "plain"), label(pods, "host-net")
    assert suite.verdicts(host_net)["net"] == "fail", _summary(suite, host_net, "net")
    # the runtime gives a hostNetwork pod the node's UTS namespace too, and a sysfs mounted in the node's
    # network namespace: the host's sysfs, which host-mounts names
    assert suite.broken(host_net) - suite.broken(plain) == {"net", "uts", "host-mounts"}, _summaries(suite, host_net)
    assert "/sys at /sys" in _summary(suite, host_net, "host-mounts")


def test_a_shared_pid_namespace_is_the_pods_not_a_failure(pods, suite):
    for container in ("app", "helper"):
        target = label(pods, "shared", container)
        assert suite.verdicts(target)["pid"] == "pass", _summary(suite, target, "pid")
        assert "PID 1 is its pod's sandbox" in _summary(suite, target, "pid")


def test_the_pods_sandbox_is_judged_and_named_as_the_pods(cri_runtime, pods, suite):
    confined, pod_confined = label(pods, "confined"), label(pods, "pod-confined")
    assert suite.verdicts(pod_confined)["seccomp"] == "pass", _summary(suite, pod_confined, "seccomp")
    assert suite.verdicts(confined)["seccomp"] == "fail"
    with cri_runtime.client() as client:
        found = client.pod_containers()
    sandbox_pid = next(c.sandbox_pid for c in found if c.sandbox_id == pods["confined"].sandbox_id)
    assert _summary(suite, confined, "seccomp").startswith(f"the pod's sandbox (process {sandbox_pid}, "), \
        _summary(suite, confined, "seccomp")


def test_an_init_container_that_ran_is_reported_from_its_spec(pods, suite):
    migrate = label(pods, "init", "migrate")
    records = [r for r in suite.results if r["target"] == migrate]
    assert records and {r["verdict"] for r in records} == {"advisory"}
    for record in records:
        assert "init container that ran to completion" in record["summary"]
        assert any(e["label"] == "declared (the CRI runtime spec)" for e in record["evidence"]["container"])
    assert suite.verdicts(label(pods, "init"))["pid"] == "pass"


def test_an_added_capability_fails_caps(pods, suite):
    admin = label(pods, "admin")
    assert suite.verdicts(admin)["caps"] == "fail", _summary(suite, admin, "caps")
    assert "SYS_ADMIN" in _summary(suite, admin, "caps")
    assert "beyond containerd's default" in _summary(suite, admin, "caps")  # its runtime's, by the runtime's name
    assert suite.verdicts(admin)["drift"] == "pass", "the kernel shows the capability the spec asked for"


def test_a_regular_container_that_exited_is_an_error_never_a_pass(pods, suite):
    done = label(pods, "done")
    verdicts = suite.verdicts(done)
    assert verdicts and set(verdicts.values()) == {"error"}, verdicts
    assert "not running" in _summary(suite, done, "pid")


def _summary(suite, target: str, prop: str) -> str:
    return next(r["summary"] for r in suite.results if r["target"] == target and r["property"] == prop)


def _summaries(suite, target: str) -> dict[str, str]:
    return {r["property"]: r["summary"] for r in suite.results if r["target"] == target and r["verdict"] != "pass"}


def test_no_runtime_at_the_socket_ends_the_run_in_one_line(tmp_path):
    run = run_suite(tmp_path, f"--iso-container=cri://*?socket={tmp_path}/none.sock")
    assert run.exit_code == EXIT_UNOBSERVABLE and not run.results, run.output
    said = [line for line in run.output.splitlines() if "no CRI runtime socket" in line]
    assert len(said) == 1 and "?socket=PATH" in said[0] and "Traceback" not in run.output, run.output


def test_cri_through_a_host_that_cannot_forward_is_a_usage_error(tmp_path):
    run = run_suite(tmp_path, "--iso-host=paramiko://node1", "--iso-container=cri://*")
    assert run.exit_code == USAGE_ERROR, run.output
    assert "cri:// through paramiko://node1 needs the node's CRI socket forwarded" in run.output
