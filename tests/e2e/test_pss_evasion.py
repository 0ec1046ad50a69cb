"""Pods made to slip past the Pod Security Standards' controls, run in a real containerd as a
kubelet starts them, and what the suite must say of each: the control they break fails, or its
verdict is an error (the suite could not see enough) — never a pass.

Each pod is the attacker's: its spec is the pod author's, its files and processes the
container's. Each attempt stays here as a regression test.
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import run_suite
from isoverify.collect.cri import api_pb2 as api

HELPERS = Path(__file__).with_name("helpers")
NAMESPACE = "pss-evasion"
SUITE_LABEL = "io.isoverify.suite=selftest"
APP = {"name": "app", "image": "busybox:latest", "command": ["sleep", "3600"]}
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}

# Run in a hostPID container: every process in its pod's cgroup but its own container's is the sandbox.
KILL_SANDBOX = """own=$(grep :pids: /proc/self/cgroup | cut -d: -f3); pod=${own%/*}
for file in /proc/[0-9]*/cgroup; do
    group=$(grep :pids: $file 2>/dev/null | cut -d: -f3); pid=${file#/proc/}
    case $group in "$pod"/*) [ "$group" = "$own" ] || kill -9 ${pid%/cgroup};; esac
done
exec sleep 3600"""


CONTAINER_PROFILE = {**APP, "securityContext": {**RESTRICTED_CONTAINER, "seccompProfile": {"type": "RuntimeDefault"}}}


def restricted(container: dict | None = None, *, pod_security: dict | None = None, **spec) -> dict:
    """A pod that meets restricted by its spec, with `spec` merged in."""
    return {"spec": {"securityContext": pod_security or RESTRICTED_POD,
                     "containers": [container or {**APP, "securityContext": RESTRICTED_CONTAINER}], **spec}}


def _mounting(path: str, at: str, **mount) -> dict:
    """Spec fields mounting the host's `path` at `at` by a hostPath volume."""
    return {"volumes": [{"name": "host", "hostPath": {"path": path}}],
            "volumeMounts": [{"name": "host", "mountPath": at, **mount}]}


def with_host_path(path: str, at: str, spec: dict | None = None, **mount) -> dict:
    fields = _mounting(path, at, **mount)
    container = {**APP, "volumeMounts": fields["volumeMounts"]}
    return {"spec": {**(spec or {}), "volumes": fields["volumes"], "containers": [container]}}


@pytest.fixture(scope="module")
def docker_volume():
    """A named volume of Docker's on the node, as another workload's data would be: labelled as
    the suite's, removed after."""
    name = "isoverify-evasion-data"
    subprocess.run(["docker", "volume", "create", "--label", SUITE_LABEL, name], check=True, capture_output=True)
    path = subprocess.run(["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", name], check=True,
                          capture_output=True, text=True).stdout.strip()
    yield path
    subprocess.run(["docker", "volume", "rm", "-f", name], capture_output=True)


@pytest.fixture(scope="module")
def pods(cri_runtime, docker_volume, tmp_path_factory):
    work = tmp_path_factory.mktemp("evasion")
    data = work / "data"  # a directory of the node's that is no system tree
    data.mkdir()
    allow_all = work / "allow-all.json"
    allow_all.write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    program = work / "root-thread"
    subprocess.run(["gcc", "-static", "-pthread", "-o", str(program), str(HELPERS / "root-thread.c")], check=True)
    waits_for_program = ["sh", "-c", "while [ ! -x /w/run ]; do sleep 0.1; done; exec /w/run"]
    pods = {
        # Localhost is allowed by the letter; a profile whose default is to allow confines nothing
        "allow-all": restricted(pod_security={**RESTRICTED_POD, "seccompProfile": {
            "type": "Localhost", "localhostProfile": str(allow_all)}}),
        # the profile named on the container only, as the letter allows: its sandbox runs unfiltered,
        # out of its reach — or within it, where the pod shares its processes (it can trace the sandbox)
        "container-profile": restricted(CONTAINER_PROFILE, pod_security={"runAsNonRoot": True, "runAsUser": 1000}),
        "shared-sandbox": restricted(CONTAINER_PROFILE, pod_security={"runAsNonRoot": True, "runAsUser": 1000},
                                     shareProcessNamespace=True),
        # another workload's Docker named volume, mounted by a hostPath into an otherwise restricted pod
        "docker-volume": restricted({**APP, "securityContext": RESTRICTED_CONTAINER,
                                     **{"volumeMounts": _mounting(docker_volume, "/data")["volumeMounts"]}},
                                    volumes=_mounting(docker_volume, "/data")["volumes"]),
        # the node's masked /sys/firmware, where a hostNetwork pod's runtime mounts sysfs
        "sysfs-at-sys": with_host_path("/sys/firmware", "/sys", {"hostNetwork": True}, readOnly=True),
        # the node's /dev/shm by a hostPath, where the pod shares the node's IPC namespace
        "shm-with-ipc": with_host_path("/dev/shm", "/host-shm", {"hostIPC": True}),
        # and without it: nothing for `ipc` to judge, so it is the hostPath control's alone
        "shm-alone": with_host_path("/dev/shm", "/host-shm"),
        # a hostPath covered by an emptyDir mounted at the same place: hidden from the container, not
        # from the kernel's mount table
        "hidden": {"spec": {"volumes": [{"name": "host", "hostPath": {"path": str(data)}},
                                        {"name": "cover", "emptyDir": {}}],
                            "containers": [{**APP, "volumeMounts": [{"name": "host", "mountPath": "/data"},
                                                                    {"name": "cover", "mountPath": "/data"}]}]}},
        # the node's sysfs at /sys, read-only, in a pod on its own network namespace
        "sysfs-alone": with_host_path("/sys", "/sys", readOnly=True),
        # a container running more processes than the suite reads of one, beside a root one
        "noisy": {"spec": {"securityContext": {"runAsUser": 1000}, "containers": [
            {**APP, "name": "noisy", "command": ["sh", "-c", "for i in $(seq 600); do sleep 3600 & done; wait"]},
            {**APP, "securityContext": {"runAsUser": 0}}]}},
        # a hostPID pod whose container kills its own pod's sandbox (found by its pod's cgroup), as it
        # could when it sees the verifier start: its containers run on, in a sandbox no longer ready
        "sandbox-killer": {"spec": {"hostPID": True, "containers": [{**APP, "command": ["sh", "-c", KILL_SANDBOX]}]}},
        # a regular container, root with SYS_ADMIN and the node's / mounted, that does its work and
        # exits 0 before the next container is created: as an init container would
        "early-exit": restricted(volumes=_mounting("/", "/host")["volumes"], containers=[
            {**APP, "name": "early", "command": ["true"], "volumeMounts": _mounting("/", "/host")["volumeMounts"],
             "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "capabilities": {"add": ["SYS_ADMIN"]}}},
            {**APP, "securityContext": RESTRICTED_CONTAINER}]),
        # a root process starting others all the while (no reading of it settles), its main one
        # turned nobody (the sandbox runs as 1000: it is judged with every container)
        "churn": {"spec": {"securityContext": {"runAsUser": 1000}, "containers": [{
            **APP, "securityContext": {"runAsUser": 0},
            "command": ["sh", "-c", "while :; do /bin/true; done & "
                                    "exec su -s /bin/sh nobody -c 'exec sleep 3600'"]}]}},
        # a main thread turned non-root, another thread of its process still root
        # (the pod's sandbox runs as 1000 too: it is judged with every container, and would fail first)
        "root-thread": {"spec": {"securityContext": {"runAsUser": 1000}, "volumes": [{"name": "w", "emptyDir": {}}],
                                 "containers": [{**APP, "command": waits_for_program,
                                                 "securityContext": {"runAsUser": 0},
                                                 "volumeMounts": [{"name": "w", "mountPath": "/w"}]}]}},
        # an init container declared root, unconfined and with SYS_ADMIN, gone before the suite looks
        "init-root": restricted(initContainers=[{
            "name": "init", "image": "busybox:latest", "command": ["true"],
            "securityContext": {"runAsNonRoot": False, "runAsUser": 0, "seccompProfile": {"type": "Unconfined"},
                                "capabilities": {"add": ["SYS_ADMIN"]}}}]),
    }
    started = {name: cri_runtime.run_pod({"metadata": {"name": name, "namespace": NAMESPACE}, **pod})
               for name, pod in pods.items()}
    volume = cri_runtime.pods_dir / started["root-thread"].uid / "volumes" / "kubernetes.io~empty-dir" / "w"
    shutil.copy(program, volume / "run.tmp")
    (volume / "run.tmp").rename(volume / "run")  # whole, or not there
    time.sleep(1)  # its shell's next look finds it and execs it
    with cri_runtime.client() as client:
        request = api.PodSandboxStatusRequest(pod_sandbox_id=started["sandbox-killer"].sandbox_id)
        assert client.call("PodSandboxStatus", request).status.state == api.SANDBOX_NOTREADY
        request = api.ContainerStatusRequest(container_id=started["sandbox-killer"].container_ids["app"])
        assert client.call("ContainerStatus", request).status.state == api.CONTAINER_RUNNING
    return started


@pytest.fixture(scope="module")
def suite(cri_runtime, pods, tmp_path_factory):
    return run_suite(tmp_path_factory.mktemp("pss-evasion"), "--iso-profile=pss-restricted",
                     f"--iso-container=cri://*?socket={cri_runtime.socket}&namespace={NAMESPACE}", timeout=900)


def records(suite, pods, key: str, container: str = "app") -> dict[str, dict]:
    running = pods[key]
    target = (f"cri://{NAMESPACE}/{running.name}/{container} "
              f"(pod {running.uid}, {running.container_ids[container][:12]})")
    found = {r["property"]: r for r in suite.results if r["target"] == target}
    assert found, (target, suite.output[-3000:])
    return found


def says(found: dict[str, dict], prop: str) -> tuple[str, str]:
    return found[prop]["verdict"], found[prop]["summary"]


def test_a_localhost_profile_that_allows_everything_meets_the_letter_and_seccomp_says_so(suite, pods):
    """The standard allows any Localhost profile: its control follows the letter, and the
    `seccomp` property, judged on what the filter lets through, names the hole."""
    found = records(suite, pods, "allow-all")
    verdict, summary = says(found, "pss-seccomp-restricted")
    assert verdict == "pass" and "Localhost" in summary, summary
    verdict, summary = says(found, "seccomp")
    assert verdict in ("fail", "advisory") and "lets every call a default profile refuses through" in summary, summary


def test_a_host_path_to_a_docker_named_volume_is_a_host_path(suite, pods):
    """A pod has no engine's named volumes: one of Docker's, mounted into it, is another
    workload's data reached by a hostPath."""
    found = records(suite, pods, "docker-volume")
    for prop in ("pss-host-path", "pss-volume-types"):
        verdict, summary = says(found, prop)
        assert verdict == "fail", (prop, summary)


def test_a_host_path_of_sysfs_at_sys_in_a_host_network_pod_is_a_host_path(suite, pods):
    """The runtime's own sysfs of a hostNetwork pod is the whole of it (root /): the node's
    /sys/firmware, which the runtime masks, bound over /sys is a hostPath."""
    verdict, summary = says(records(suite, pods, "sysfs-at-sys"), "pss-host-path")
    assert verdict == "fail", summary


def test_a_host_path_of_dev_shm_is_a_host_path_even_with_host_ipc(suite, pods):
    verdict, summary = says(records(suite, pods, "shm-with-ipc"), "pss-host-path")
    assert verdict == "fail", summary
    assert "/host-shm" in summary


def test_a_host_path_of_dev_shm_without_host_ipc_is_a_host_path(suite, pods):
    verdict, summary = says(records(suite, pods, "shm-alone"), "pss-host-path")
    assert verdict == "fail" and "/dev/shm" in summary, summary


def test_a_host_path_of_sys_without_host_network_is_a_host_path(suite, pods):
    """Read-only sysfs at /sys is left to `net` only where the pod shares the node's network."""
    verdict, summary = says(records(suite, pods, "sysfs-alone"), "pss-host-path")
    assert verdict == "fail", summary


def test_a_container_with_more_processes_than_are_read_does_not_silence_its_neighbour(suite, pods):
    """Too many processes to read make its own per-process verdicts errors, and no other's."""
    verdict, summary = says(records(suite, pods, "noisy", container="noisy"), "nonroot")
    assert verdict == "error" and "not examined" in summary, summary
    verdict, summary = says(records(suite, pods, "noisy"), "nonroot")
    assert verdict == "fail", summary


def test_a_pod_whose_processes_never_settle_is_not_passed_on_a_sample(suite, pods):
    """Processes that start and exit all the while do not hide the root one starting them: its
    verdict fails, or is an error where the suite read only a sample of them — never a pass."""
    verdict, summary = says(records(suite, pods, "churn"), "nonroot")
    assert verdict in ("error", "fail"), summary


def test_a_root_thread_behind_a_non_root_main_thread_is_judged(suite, pods):
    """Each thread has credentials of its own: the main one's uid 1000 does not speak for the
    thread left root."""
    verdict, summary = says(records(suite, pods, "root-thread"), "nonroot")
    assert verdict == "fail" and "thread" in summary, summary


def test_an_init_container_declared_unconfined_and_privileged_fails(suite, pods):
    """PSS judges init containers as the others: what the runtime still holds of one that ran
    (its added capabilities, its seccomp profile) breaks the pod."""
    found = records(suite, pods, "init-root", container="init")
    for prop in ("pss-caps-restricted", "pss-seccomp-restricted", "nonroot"):
        verdict, summary = says(found, prop)
        assert verdict == "fail", (prop, summary)


def test_a_host_path_hidden_beneath_another_volume_is_a_host_path(suite, pods):
    verdict, summary = says(records(suite, pods, "hidden"), "pss-host-path")
    assert verdict == "fail", summary


def test_a_pod_that_kills_its_own_sandbox_is_still_judged(suite, pods):
    """Its container still runs, with the node's PIDs: it must be judged (hostPID fails), or be an
    error — not left out of the run, which then passes without it."""
    container_id = pods["sandbox-killer"].container_ids["app"]
    found = {r["property"]: r for r in suite.results if container_id[:12] in r["target"]}
    assert found.get("pid", {}).get("verdict") in ("fail", "error"), sorted({r["target"] for r in suite.results})


def test_a_regular_container_that_exits_first_is_not_let_off_as_an_init_container(suite, pods):
    """Root, SYS_ADMIN and the node's / mounted, gone before the suite looks: the runtime still
    holds what it was declared and mounted, and the pod must not pass restricted."""
    early, app = records(suite, pods, "early-exit", container="early"), records(suite, pods, "early-exit")
    assert not [prop for prop, r in app.items() if r["enforced"] and r["verdict"] != "pass"]  # the app is compliant
    for prop in ("pss-host-path", "pss-caps-restricted", "nonroot"):
        verdict, summary = says(early, prop)
        assert verdict == "fail", (prop, summary)


def test_an_unfiltered_sandbox_counts_where_its_containers_share_its_processes(suite, pods):
    """A profile on the container alone meets the letter, and the sandbox the kubelet leaves
    unfiltered is out of the container's reach; sharing the pod's processes, the container can
    trace the sandbox and run unfiltered as it."""
    verdict, summary = says(records(suite, pods, "container-profile"), "pss-seccomp-restricted")
    assert verdict == "pass", summary
    verdict, summary = says(records(suite, pods, "shared-sandbox"), "pss-seccomp-restricted")
    assert verdict == "fail" and summary.startswith("the pod's sandbox (process "), summary
