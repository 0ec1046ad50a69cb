"""cri://* URLs and the selection of pod containers from what a CRI runtime answered (hand-made
answers: the real runtime's are in tests/e2e/test_cri_targets.py)."""

from dataclasses import replace

import pytest
from testinfra.backend.ssh import SshBackend

from isoverify.collect.cri import PodContainer
from isoverify.collect.targets import (
    CRI,
    ContainerTarget,
    HostTarget,
    choose_pod_containers,
    parse_container_url,
    ssh_forward_command,
)
from isoverify.errors import UsageError
from isoverify.judge.catalogue import BY_ID
from isoverify.judge.verdict import Judge
from isoverify.judge.words import ADVISORY
from isoverify.run import Plan, pod_label

SANDBOX_A, SANDBOX_B = "a" * 64, "b" * 64


def container(name: str, sandbox: str = SANDBOX_A, pod: str = "web", namespace: str = "shop", number: int = 1,
              **changes) -> PodContainer:
    made = PodContainer(
        runtime_name="containerd", runtime_version="1.7", sandbox_id=sandbox, sandbox_pid=100, pod_uid="uid-" + pod,
        pod_namespace=namespace, pod_name=pod, pod_labels={"app": pod, "tier": "front"},
        container_id=f"{number:064x}", container_name=name, state="running", attempt=0, exit_code=0,
        created_at=number, finished_at=0, init=False, pid=1000 + number, spec=None, labels={}, annotations={})
    return replace(made, **changes)


FOUND = [
    container("nginx", number=1),
    container("sidecar", number=2),
    container("agent", SANDBOX_B, pod="node-agent", namespace="monitoring", number=3,
              pod_labels={"app": "agent"}),
]


def chosen(url: str, found=FOUND) -> list[str]:
    return [c.container_name for c in choose_pod_containers(parse_container_url(url), found)]


@pytest.mark.parametrize("url, names", [
    ("cri://*", ["agent", "nginx", "sidecar"]),
    ("cri://*?namespace=shop", ["nginx", "sidecar"]),
    ("cri://*?pod=node-agent", ["agent"]),
    ("cri://*?container=sidecar", ["sidecar"]),
    ("cri://*?label=tier", ["nginx", "sidecar"]),
    ("cri://*?label=app=agent", ["agent"]),
    ("cri://*?label=app=", []),
    ("cri://*?namespace=shop&pod=web&container=nginx&label=tier=front", ["nginx"]),
    ("cri://*?namespace=monitoring&container=nginx", []),
])
def test_options_narrow_the_selection(url, names):
    assert chosen(url) == names


def test_a_restarted_container_is_its_running_attempt_only():
    earlier = container("nginx", number=1, state="exited", exit_code=137, pid=0)
    again = container("nginx", number=5, attempt=1)
    assert [c.container_id for c in choose_pod_containers(parse_container_url("cri://*"), [earlier, again])] == \
        [again.container_id]


def test_an_exited_container_with_no_later_attempt_stays_selected():
    """It is reported (an error of its own, observe._not_running), never silently left out."""
    stopped = container("nginx", state="exited", exit_code=1, pid=0)
    assert choose_pod_containers(parse_container_url("cri://*"), [stopped]) == [stopped]


def test_two_running_containers_sharing_a_name_are_both_kept():
    twins = [container("nginx", number=1), container("nginx", number=2)]
    assert len(choose_pod_containers(parse_container_url("cri://*"), twins)) == 2


@pytest.mark.parametrize("url, words", [
    ("cri://web", "write cri://*"),
    ("cri://*?socket=relative.sock", "is not a socket path"),
    ("cri://*?kubeconfig=/k", "cri:// takes only socket, namespace, pod, label, container"),
    ("cri://*?pod=Web", "is not a pod name"),
    ("cri://*?namespace=shop&namespace=web", "give each option once"),
])
def test_malformed_cri_urls_are_one_line(url, words):
    with pytest.raises(UsageError) as refused:
        parse_container_url(url)
    assert words in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize("host", ["paramiko://node1", "paramiko://root@node1:22"])
def test_cri_on_a_host_that_cannot_forward_is_refused(host):
    with pytest.raises(UsageError) as refused:
        Plan(hosts=(host,), containers=("cri://*",))
    message = str(refused.value)
    assert "cri://" in message and "name the node with ssh://" in message and "\n" not in message


@pytest.mark.parametrize("host", ["local://", "ssh://node1", "safe-ssh://root@node1:2222", "vagrant://default"])
def test_cri_on_a_host_that_forwards_is_planned(host):
    assert [one.url for one in Plan(hosts=(host,), containers=("cri://*",)).hosts] == [host]


def test_a_cri_url_is_not_a_host():
    with pytest.raises(UsageError) as refused:
        Plan(hosts=("cri://*",))
    assert "a pod is not a host" in str(refused.value)


def test_the_probe_is_told_the_runtimes_ids_never_a_name():
    pod = container("nginx; rm -rf /", pod="web")
    target = ContainerTarget(HostTarget("local://"), CRI, pod.container_id, pod_label(pod), pod)
    assert target.probe_words == f"cri {pod.container_id}:1001:{SANDBOX_A}:100"
    assert not target.has_engine
    stopped = replace(pod, pid=0, state="exited")
    assert ContainerTarget(HostTarget("local://"), CRI, pod.container_id, "x", stopped).probe_words == \
        f"cri {pod.container_id}:-:{SANDBOX_A}:100"


def test_label_shows_namespace_pod_container_pod_uid_and_short_id():
    pod = container("nginx", pod_uid="0f1e2d3c-uid\nforged")
    assert pod_label(pod) == f"cri://shop/web/nginx (pod 0f1e2d3c-uid forged, {pod.container_id[:12]})"


def test_an_init_container_that_ran_is_an_advisory_saying_so():
    init = container("migrate", state="exited", pid=0, init=True, finished_at=2)
    found = Judge().ran_before(BY_ID["seccomp"], pod_label(init), init)
    assert found.status == ADVISORY and not found.enforced
    assert "init container that ran to completion" in found.summary
    assert found.container[0].label == "declared (the CRI runtime spec)"


def test_the_forward_reuses_the_hosts_ssh_options_behind_its_own():
    backend = SshBackend("root@node1:2222", ssh_config="/etc/isoverify/ssh-config", ssh_identity_file="/keys/node",
                         timeout=7, controlpath="/tmp/isoverify-ssh-x/control",
                         ssh_extra_args="-o ControlMaster=auto -o ProxyJump=bastion")
    command = ssh_forward_command(backend, "/tmp/isoverify-cri-x/cri.sock", "/run/containerd/containerd.sock")
    assert command[0] == "ssh" and command[-4:] == ["-N", "-L", "/tmp/isoverify-cri-x/cri.sock:"
                                                    "/run/containerd/containerd.sock", "node1"]
    options = command[1:-4]
    # ssh keeps an option's first value: its own connection, refusals ending it, before the host's extra arguments
    first = [options[i + 1] for i in range(len(options) - 1) if options[i] == "-o"]
    assert first.index("ControlMaster=no") < first.index("ControlMaster=auto")
    assert {"ControlPath=none", "ExitOnForwardFailure=yes", "BatchMode=yes", "ConnectTimeout=7",
            "ProxyJump=bastion", "User=root", "Port=2222"} <= set(first)
    assert options[options.index("-F") + 1] == "/etc/isoverify/ssh-config"
    assert options[options.index("-i") + 1] == "/keys/node"


def test_a_bare_ssh_host_gets_no_options_it_did_not_give():
    command = ssh_forward_command(SshBackend("node1"), "/tmp/a/cri.sock", "/var/run/crio/crio.sock")
    assert "-F" not in command and "-i" not in command
    assert not any(part.startswith(("User=", "Port=")) for part in command)

