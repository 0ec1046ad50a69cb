"""A private containerd with its CRI plugin, started for the session and removed after it
(the fixture `cri_runtime`, which conftest.py makes every e2e test's; `private_runtime` for
bench/pods.py).

It runs beside the machine's own engines and touches none of them: its own
config, root, state, sockets, CNI config and bridge, all named after the
session. Its images are built offline: busybox from the local Docker engine,
and a sandbox ("pause") image made FROM it. Pods are started through the
kubelet stand-in (kubelet.py), labelled with the session's label.
"""

import errno
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from kubelet import RunningPod, remove_pods, run_pod

from conftest import SESSION_LABEL
from isoverify.collect.cri import CriClient, CriError
from isoverify.collect.cri import api_pb2 as api
from isoverify.collect.cri.client import parse_info

SESSION_LABELS = dict([SESSION_LABEL.split("=")])  # the session's own, as on its containers
SESSION = SESSION_LABEL.split("=")[1]
BUSYBOX = "busybox:latest"
SANDBOX_IMAGE = "isoverify-selftest-cri-sandbox:1"
CNI_BIN = "/usr/lib/cni"
START_SECONDS = 30


@dataclass
class Runtime:
    """The private containerd: its socket, its PID, and where it keeps its things."""

    socket: str
    pid: int
    run_dir: Path
    root_dir: Path
    bridge: str
    subnet: str
    cgroup_parent: str
    sandbox_ids: list[str] = field(default_factory=list)

    @property
    def pods_dir(self) -> Path:
        """Where the kubelet stand-in keeps pods' volumes, as a kubelet under /var/lib/kubelet/pods
        (on the root filesystem: /run is mounted nosuid)."""
        return self.root_dir / "kubelet" / "pods"

    def client(self, call_seconds: float = 10.0) -> CriClient:
        return CriClient(self.socket, call_seconds=call_seconds)

    def run_pods(self, pods: dict[str, str], namespace: str) -> dict[str, RunningPod]:
        """Each pod spec given as YAML, named by its key, in `namespace`."""
        started = {}
        for name, text in pods.items():
            pod = yaml.safe_load(text)
            pod["metadata"] = {"name": name, "namespace": namespace}
            started[name] = self.run_pod(pod)
        return started

    def run_pod(self, pod) -> RunningPod:
        with self.client() as client:
            running = run_pod(client, pod, SESSION_LABELS, self.cgroup_parent, str(self.run_dir / "logs"),
                              str(self.pods_dir))
        self.sandbox_ids.append(running.sandbox_id)
        return running


def missing_tools() -> list[str]:
    needed = ["containerd", "ctr", "runc", "docker", "ip"]
    missing = [tool for tool in needed if shutil.which(tool) is None]
    missing += [f"{CNI_BIN}/{plugin}" for plugin in ("bridge", "host-local", "loopback")
                if not os.access(f"{CNI_BIN}/{plugin}", os.X_OK)]
    return missing


def _free_subnet() -> str:
    """A /24 of 10.200.0.0/16 that no route of the host uses yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout
    used = [ipaddress.ip_network(word, strict=False) for line in routes.splitlines()
            for word in line.split()[:1] if "/" in word]
    for subnet in ipaddress.ip_network("10.200.0.0/16").subnets(new_prefix=24):
        if not any(subnet.overlaps(net) for net in used):
            return str(subnet)
    raise RuntimeError("every /24 of 10.200.0.0/16 is routed already")


def _config(run_dir: Path, root_dir: Path) -> str:
    return f"""version = 2
root = "{root_dir}/root"
state = "{run_dir}/state"
[grpc]
  address = "{run_dir}/containerd.sock"
[ttrpc]
  address = "{run_dir}/containerd.sock.ttrpc"
[debug]
  address = "{run_dir}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{root_dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/library/{SANDBOX_IMAGE}"
  # The sandbox asks oom_score_adj -998, which needs CAP_SYS_RESOURCE.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{CNI_BIN}"
    conf_dir = "{run_dir}/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
"""


def _cni_config(bridge: str, subnet: str, data_dir: Path) -> str:
    return f"""{{
  "cniVersion": "0.4.0",
  "name": "{bridge}",
  "plugins": [
    {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false,
      "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}"}}]], "dataDir": "{data_dir}"}}}},
    {{"type": "loopback"}}
  ]
}}
"""


def _import_images(socket: str) -> None:
    """busybox and a sandbox image FROM it, from the local Docker engine into CRI's namespace."""
    dockerfile = f'FROM {BUSYBOX}\nCMD ["sleep", "999999999"]\n'
    subprocess.run(["docker", "build", "-q", "-t", SANDBOX_IMAGE, "-"], input=dockerfile, text=True,
                   capture_output=True, check=True)
    for image in (BUSYBOX, SANDBOX_IMAGE):
        saved = subprocess.run(["docker", "save", image], capture_output=True, check=True).stdout
        subprocess.run(["ctr", "-a", socket, "-n", "k8s.io", "images", "import", "-"], input=saved,
                       capture_output=True, check=True)


def _wait_for_cri(socket: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"containerd exited {process.returncode}; see {log}")
        if os.path.exists(socket):
            try:
                with CriClient(socket, call_seconds=2) as client:
                    client.version()
                return
            except CriError:
                pass
        time.sleep(0.2)
    raise RuntimeError(f"containerd's CRI did not answer within {START_SECONDS} s; see {log}")


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    return [point for point in points if point == str(path) or point.startswith(f"{path}/")]


def _network_namespaces(client: CriClient, sandbox_ids: list[str]) -> list[str]:
    """The files of the sandboxes' network namespaces, from the runtime's verbose status."""
    paths = []
    for sandbox_id in sandbox_ids:
        try:
            answer = client.call("PodSandboxStatus",
                                 api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True))
        except CriError:
            continue  # removed already, by the test that ran it: its pods are still removed below
        info, _ = parse_info(answer.info)
        namespaces = info.get("runtimeSpec", {}).get("linux", {}).get("namespaces", [])
        paths += [ns["path"] for ns in namespaces if ns.get("type") == "network" and ns.get("path")]
    return paths


def _leftovers(runtime: Runtime, netns: list[str]) -> list[str]:
    """What the session's runtime left behind: each a line, none when all is gone."""
    found = []
    if Path(f"/proc/{runtime.pid}").exists():
        found.append(f"containerd (PID {runtime.pid})")
    shims = [pid.name for pid in Path("/proc").iterdir() if pid.name.isdigit()
             and runtime.socket.encode() in _cmdline(pid)]
    found += [f"shim PID {pid}" for pid in shims]
    if Path(f"/sys/class/net/{runtime.bridge}").exists():
        found.append(f"bridge {runtime.bridge}")
    found += [f"network namespace {path}" for path in netns if os.path.exists(path)]
    found += [f"directory {d}" for d in (runtime.run_dir, runtime.root_dir) if d.exists()]
    found += [f"mount {point}" for d in (runtime.run_dir, runtime.root_dir) for point in _mounts_under(d)]
    return found


def _cmdline(pid_dir: Path) -> bytes:
    try:
        return (pid_dir / "cmdline").read_bytes()
    except OSError:
        return b""


def stop_runtime(runtime: Runtime, process: subprocess.Popen) -> None:
    """Stop containerd by its PID, then remove its bridge, mounts and directories."""
    if process.poll() is None:
        os.kill(runtime.pid, signal.SIGCONT)  # a test may have left it stopped
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    subprocess.run(["ip", "link", "del", runtime.bridge], check=False, capture_output=True)
    for directory in (runtime.run_dir, runtime.root_dir):
        for point in sorted(_mounts_under(directory), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(directory, ignore_errors=True)
    for directory in (runtime.run_dir.parent, runtime.root_dir.parent):
        if directory.exists() and not any(directory.iterdir()):
            directory.rmdir()
    # The pods' cgroups, in each hierarchy (v1) or the one (v2), deepest first.
    name = runtime.cgroup_parent.strip("/")
    cgroups = Path("/sys/fs/cgroup")
    for top in [*cgroups.glob(f"*/{name}"), *cgroups.glob(name)]:
        for group in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _remove_cgroup(group)
        _remove_cgroup(top)


def _remove_cgroup(group: Path) -> None:
    """A cgroup is busy until the last of its processes, killed with their pod, has exited."""
    deadline = time.monotonic() + 10
    while True:
        try:
            group.rmdir()
            return
        except OSError as busy:
            if busy.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextmanager
def private_runtime():
    """A private containerd, its images imported; every pod it ran is removed at the end, then it
    stops, and whatever it left behind is an AssertionError. Needs root and `missing_tools()` none."""
    run_dir = Path(f"/run/isoverify-cri/{SESSION}")
    root_dir = Path(f"/var/lib/isoverify-cri/{SESSION}")
    (run_dir / "cni").mkdir(parents=True)
    root_dir.mkdir(parents=True)
    bridge, subnet = f"isocri{SESSION}", _free_subnet()
    (run_dir / "config.toml").write_text(_config(run_dir, root_dir))
    (run_dir / "cni" / "10-isoverify.conflist").write_text(_cni_config(bridge, subnet, root_dir / "ipam"))
    log = run_dir.parent / f"{SESSION}.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(["containerd", "--config", str(run_dir / "config.toml")],
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    runtime = Runtime(socket=str(run_dir / "containerd.sock"), pid=process.pid, run_dir=run_dir,
                      root_dir=root_dir, bridge=bridge, subnet=subnet, cgroup_parent=f"/isoverify-cri-{SESSION}")
    try:
        _wait_for_cri(runtime.socket, process, log)
        _import_images(runtime.socket)
        yield runtime
    finally:
        netns = []
        try:
            if process.poll() is None:
                os.kill(runtime.pid, signal.SIGCONT)
                with runtime.client(call_seconds=30) as client:
                    netns = _network_namespaces(client, runtime.sandbox_ids)
                    remove_pods(client, SESSION_LABELS)
        finally:
            if log.exists():
                log.unlink()
            stop_runtime(runtime, process)
    left = _leftovers(runtime, netns)
    assert not left, f"the session's containerd left behind: {'; '.join(left)}"


@pytest.fixture(scope="session")
def cri_runtime():
    """The session's private containerd (`private_runtime`)."""
    if os.geteuid() != 0:
        pytest.skip("a private containerd needs root: run as root (sudo)")
    missing = missing_tools()
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `sudo ci/setup.sh --selftest`", pytrace=False)
    with private_runtime() as runtime:
        yield runtime
