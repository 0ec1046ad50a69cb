"""The CRI client against a real containerd, with pods started as a kubelet starts them."""

import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from isoverify.collect.cri import CriClient, CriError

DEFAULT_POD = """
metadata: {name: web, namespace: shop}
spec:
  containers:
  - {name: nginx, image: busybox:latest, command: [sleep, "3600"]}
"""

HOST_PID_POD = """
metadata: {name: node-agent, namespace: monitoring, labels: {app: agent}}
spec:
  hostPID: true
  securityContext: {runAsUser: 1000, runAsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
  volumes:
  - {name: host-etc, hostPath: {path: /etc}}
  containers:
  - name: agent
    image: busybox:latest
    command: [sleep, "3600"]
    volumeMounts: [{name: host-etc, mountPath: /host/etc, readOnly: true}]
    securityContext:
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
"""

INIT_POD = """
metadata: {name: app, namespace: shop}
spec:
  shareProcessNamespace: true
  initContainers:
  - {name: migrate, image: busybox:latest, command: [sh, -c, "exit 0"]}
  containers:
  - {name: server, image: busybox:latest, command: [sleep, "3600"]}
  - {name: logger, image: busybox:latest, command: [sleep, "3600"]}
"""


@pytest.fixture(scope="module")
def pods(cri_runtime):
    """The three pods, started once; the session removes them."""
    return {pod.name: pod for pod in map(cri_runtime.run_pod, (DEFAULT_POD, HOST_PID_POD, INIT_POD))}


@pytest.fixture(scope="module")
def listed(cri_runtime, pods):
    with cri_runtime.client() as client:
        return {found.container_id: found for found in client.pod_containers()}


def _cgroup(pid: int) -> str:
    return Path(f"/proc/{pid}/cgroup").read_text()


def test_every_container_is_found_with_its_pod(pods, listed):
    expected = {(pod.namespace, pod.name, name, container_id)
                for pod in pods.values() for name, container_id in pod.container_ids.items()}
    found = {(c.pod_namespace, c.pod_name, c.container_name, c.container_id)
             for c in listed.values() if c.sandbox_id in {pod.sandbox_id for pod in pods.values()}}
    assert found == expected
    for pod in pods.values():
        for container_id in pod.container_ids.values():
            container = listed[container_id]
            assert (container.pod_uid, container.sandbox_id) == (pod.uid, pod.sandbox_id)
            assert container.runtime_name == "containerd" and container.runtime_version
            assert container.shown == f"{pod.namespace}/{pod.name}/{container.container_name}"


def test_main_and_sandbox_pids_are_in_their_own_cgroups(pods, listed):
    for pod in pods.values():
        for name, container_id in pod.container_ids.items():
            container = listed[container_id]
            assert container.sandbox_pid > 0 and pod.sandbox_id in _cgroup(container.sandbox_pid)
            if name == "migrate":
                continue
            assert container.state == "running" and container.pid > 0, container
            assert container_id in _cgroup(container.pid), f"{container.shown}: PID {container.pid}"


def test_init_container_is_shown_exited_and_identified(pods, listed):
    by_name = {listed[cid].container_name: listed[cid] for cid in pods["app"].container_ids.values()}
    assert (by_name["migrate"].state, by_name["migrate"].exit_code, by_name["migrate"].pid) == ("exited", 0, 0)
    assert by_name["migrate"].init
    assert not by_name["server"].init and not by_name["logger"].init
    assert not any(listed[cid].init for pod in ("web", "node-agent") for cid in pods[pod].container_ids.values())


def test_declared_spec_is_what_each_pod_asked(pods, cri_runtime, listed):
    web = listed[pods["web"].container_ids["nginx"]].spec
    assert web.seccomp is None, "with no profile asked, CRI runs the container unconfined"
    assert "CAP_SYS_ADMIN" not in web.capabilities["bounding"] and "CAP_CHOWN" in web.capabilities["bounding"]
    assert web.namespaces["pid"] == "" and web.namespaces["network"].startswith("/")
    assert (web.uid, web.no_new_privileges) == (0, False)

    agent = listed[pods["node-agent"].container_ids["agent"]]
    spec = agent.spec
    assert spec.capabilities["bounding"] == {"CAP_NET_BIND_SERVICE"}
    assert spec.seccomp["defaultAction"] == "SCMP_ACT_ERRNO" and spec.seccomp["syscall_rules"] > 0
    # hostPID: the container joins its sandbox's PID namespace, which is the node's (the tests' own)
    assert spec.namespaces["pid"] == f"/proc/{agent.sandbox_pid}/ns/pid"
    assert os.readlink(f"/proc/{agent.pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
    assert (spec.uid, spec.gid, spec.no_new_privileges) == (1000, 1000, True)
    assert any(m["destination"] == "/host/etc" and m["source"] == "/etc" and "ro" in m["options"]
               for m in spec.mounts)
    status = Path(f"/proc/{agent.pid}/status").read_text()
    assert "\nSeccomp:\t2\n" in status and "\nNoNewPrivs:\t1\n" in status

    server = listed[pods["app"].container_ids["server"]]
    assert server.spec.namespaces["pid"] == f"/proc/{server.sandbox_pid}/ns/pid", "shareProcessNamespace"
    assert os.readlink(f"/proc/{server.pid}/ns/pid") == os.readlink(f"/proc/{server.sandbox_pid}/ns/pid")


def test_a_socket_that_is_not_cri_is_one_line(tmp_path):
    path = str(tmp_path / "plain.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()

    def answer_garbage():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.sendall(b"220 not a gRPC server\r\n")
            connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    try:
        with CriClient(path, call_seconds=3) as client, pytest.raises(CriError) as error:
            client.pod_containers()
    finally:
        server.close()
    assert "\n" not in str(error.value) and path in str(error.value) and "?socket=" in str(error.value)


def test_a_runtime_that_hangs_is_a_deadline_not_a_hang(cri_runtime, pods):
    os.kill(cri_runtime.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with CriClient(cri_runtime.socket, call_seconds=1.5) as client, pytest.raises(CriError) as error:
            client.pod_containers()
        took = time.monotonic() - started
    finally:
        os.kill(cri_runtime.pid, signal.SIGCONT)
    assert took < 5, f"took {took:.1f} s"
    assert "did not answer Version within 1.5 s" in str(error.value) and "\n" not in str(error.value)
    with cri_runtime.client() as client:
        assert client.pod_containers(), "the runtime answers again once it runs"


def test_more_containers_than_the_bound_is_one_line(cri_runtime, pods):
    with cri_runtime.client() as client, pytest.raises(CriError) as error:
        client.pod_containers(max_containers=2)
    assert "more than the 2 read in one run" in str(error.value) and "?namespace=" in str(error.value)


def test_the_bound_counts_only_the_pods_selected(cri_runtime, pods):
    """Other pods on the node, however many, never make a selection that is within it fail."""
    with cri_runtime.client() as client:
        found = client.pod_containers(lambda namespace, name, labels: namespace == "monitoring", max_containers=1)
    assert [(c.pod_namespace, c.pod_name) for c in found] == [("monitoring", "node-agent")]
