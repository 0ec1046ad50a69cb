"""cri://* through an ssh host: the node's CRI socket forwarded over ssh, the pods judged from the
node's kernel as a run on the node judges them, and the forward gone after the run, however it ended."""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import run_suite
from isoverify.plugin import EXIT_UNOBSERVABLE

NAMESPACE = "remote"  # only this module's pods are selected from the shared runtime

PODS = {
    "plain": "spec: {containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
    "host-pid": "spec: {hostPID: true, containers: [{name: app, image: busybox:latest, command: [sleep, '3600']}]}",
}


@pytest.fixture(scope="module")
def pods(cri_runtime):
    return cri_runtime.run_pods(PODS, NAMESPACE)


def remote_url(remote_host) -> str:
    return f"--iso-host=ssh://{remote_host.alias}?ssh_config={remote_host.ssh_config}"


@pytest.fixture
def temporary():
    """The suite's own temporary directory, where the forward's lives: short, as ssh's socket paths must be."""
    directory = Path(tempfile.mkdtemp(prefix="iso-"))
    yield directory
    shutil.rmtree(directory)


def run_through(remote_host, directory: Path, temporary: Path, runtime_socket: str):
    """The suite through the ssh host, the node's runtime at `runtime_socket`."""
    return run_suite(directory, remote_url(remote_host), f"--iso-container=cri://*?socket={runtime_socket}"
                     f"&namespace={NAMESPACE}", env={"TMPDIR": str(temporary)}, timeout=600)


def forwards_of(temporary: Path) -> list[str]:
    """Processes whose command line names the run's temporary directory: its ssh forward, while it lives."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                command = Path(entry.path, "cmdline").read_bytes()
            except OSError:
                continue
            if str(temporary).encode() in command:
                found.append(command.replace(b"\0", b" ").decode("utf-8", "replace"))
    return found


def label(pods, pod: str) -> str:
    running = pods[pod]
    return f"cri://{NAMESPACE}/{pod}/app (pod {running.uid}, {running.container_ids['app'][:12]})"


def test_pods_through_ssh_are_judged_as_on_the_node(remote_host, cri_runtime, pods, tmp_path, temporary):
    (tmp_path / "local").mkdir()
    local = run_suite(tmp_path / "local", f"--iso-container=cri://*?socket={cri_runtime.socket}"
                      f"&namespace={NAMESPACE}", timeout=600)
    remote = run_through(remote_host, tmp_path, temporary, cri_runtime.socket)
    assert remote.exit_code == local.exit_code == 1, remote.output[-3000:]
    for pod in PODS:
        assert remote.verdicts(label(pods, pod)), (pod, remote.output[-3000:])
        assert remote.verdicts(label(pods, pod)) == local.verdicts(label(pods, pod)), pod
    assert remote.broken(label(pods, "host-pid")) - remote.broken(label(pods, "plain")) == {"pid"}
    [host] = remote.document()["hosts"]
    assert host["host"] == f"ssh://{remote_host.alias}"
    assert not forwards_of(temporary) and not list(temporary.glob("isoverify-*"))


def test_a_socket_missing_on_the_node_ends_the_run_in_one_line(remote_host, tmp_path, temporary):
    run = run_through(remote_host, tmp_path, temporary, "/run/isoverify-selftest-none.sock")
    assert run.exit_code == EXIT_UNOBSERVABLE and not run.results, run.output
    said = [line for line in run.output.splitlines() if "no CRI runtime socket" in line]
    assert len(said) == 1 and f"on ssh://{remote_host.alias}" in said[0] and "Traceback" not in run.output, \
        run.output
    assert not forwards_of(temporary) and not list(temporary.glob("isoverify-*"))


def test_a_forwarded_socket_that_is_no_cri_runtime_leaves_nothing_behind(remote_host, tmp_path, temporary):
    # Docker's engine socket: a real unix socket on the node, forwarded, that speaks no gRPC
    run = run_through(remote_host, tmp_path, temporary, "/var/run/docker.sock")
    assert run.exit_code == EXIT_UNOBSERVABLE and not run.results, run.output
    said = [line for line in run.output.splitlines() if f"/var/run/docker.sock on ssh://{remote_host.alias}" in line]
    assert len(said) == 1 and "Traceback" not in run.output, run.output
    assert not forwards_of(temporary) and not list(temporary.glob("isoverify-*"))


@pytest.fixture
def refusing_node(remote_host, tmp_path):
    """The same node behind a second sshd, on loopback, whose config forbids forwarding unix sockets:
    the ssh-config that names it under the remote host's alias."""
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    text = (remote_host.ssh_config.parent / "sshd_config").read_text()
    config = tmp_path / "sshd_config"
    config.write_text(re.sub(r"(?m)^ListenAddress .*$", f"ListenAddress 127.0.0.1:{port}", text)
                      + "AllowStreamLocalForwarding no\n")
    ssh_config = tmp_path / "ssh-config"
    ssh_config.write_text(re.sub(r"(?m)^  Port .*$", f"  Port {port}", remote_host.ssh_config.read_text())
                          .replace(f"HostName {remote_host.address}", "HostName 127.0.0.1"))
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["ssh", "-F", str(ssh_config), remote_host.alias, "true"],
                             capture_output=True).returncode != 0:
            assert sshd.poll() is None and time.monotonic() < deadline, "the refusing sshd did not start"
            time.sleep(0.2)
        yield ssh_config
    finally:
        sshd.terminate()
        sshd.wait(timeout=10)


def test_a_node_that_refuses_the_forward_is_told_what_to_allow(remote_host, cri_runtime, refusing_node,
                                                                   tmp_path, temporary):
    run = run_suite(tmp_path, f"--iso-host=ssh://{remote_host.alias}?ssh_config={refusing_node}",
                    f"--iso-container=cri://*?socket={cri_runtime.socket}&namespace={NAMESPACE}",
                    env={"TMPDIR": str(temporary)}, timeout=600)
    assert run.exit_code == EXIT_UNOBSERVABLE and not run.results, run.output
    said = [line for line in run.output.splitlines() if "AllowStreamLocalForwarding yes" in line]
    assert len(said) == 1 and "Traceback" not in run.output, run.output
    assert not forwards_of(temporary) and not list(temporary.glob("isoverify-*"))
