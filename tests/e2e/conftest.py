"""Fixtures for the project's own tests: real containers and real suite runs."""

import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from isoverify.collect.targets import LABEL

# what every host's tests expect of the adversaries says why when it fails
pytest.register_assert_rewrite("adversaries")

REPO = Path(__file__).resolve().parents[2]
IMAGE = "busybox:latest"
# Every container this selftest session starts, directly or through a suite run,
# carries this label: so it finds its own leftovers and no one else's.
SESSION_LABEL = f"io.isoverify.selftest={secrets.token_hex(4)}"
# ...and every process it starts has this in its environment, anchors included: so it
# finds its own anchors left behind, and never another run's.
os.environ["ISOVERIFY_SELFTEST_SESSION"] = SESSION_LABEL.split("=")[1]
LABEL_ARG = f"--iso-label={SESSION_LABEL}"


def ours(client) -> list:
    return client.containers.list(all=True, filters={"label": SESSION_LABEL})


@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"no Docker engine answers ({exc}): run `sudo ci/setup.sh` first", pytrace=False)
    return client


def start_canary(client, *cli_args, **options):
    """A real container, labelled as this session's; the caller removes it.

    Options go to the Docker SDK; `cli_args` instead to `docker run`, for the
    few options only the CLI knows (--security-opt systempaths=unconfined).
    """
    name = options.pop("name", f"isoverify-selftest-{secrets.token_hex(4)}")
    if cli_args:
        labels = [f"--label={LABEL}=selftest", f"--label={SESSION_LABEL}"]
        subprocess.run(["docker", "run", "-dit", f"--name={name}", *labels, *cli_args, IMAGE],
                       check=True, capture_output=True)
        return client.containers.get(name)
    options.setdefault("image", IMAGE)
    options.setdefault("tty", True)
    options.setdefault("stdin_open", True)
    labels = {LABEL: "selftest", **dict([SESSION_LABEL.split("=")]), **options.pop("labels", {})}
    try:
        return client.containers.run(name=name, detach=True, labels=labels, **options)
    except docker.errors.APIError:
        # run = create + start: a refused start leaves the created container behind.
        for container in client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)
        raise


@pytest.fixture
def canary(docker_client):
    """Start real containers labelled as the suite's; all removed after the test."""
    started = []

    def start(**options):
        started.append(start_canary(docker_client, **options))
        return started[-1]

    yield start
    for container in started:
        container.remove(force=True)


@dataclass
class SuiteRun:
    exit_code: int
    output: str
    results: list[dict]
    reports: Path

    def verdicts(self, target: str | None = None) -> dict[str, str]:
        return {r["property"]: r["verdict"] for r in self.results if target in (None, r["target"])}

    def failed(self, target: str | None = None) -> set[str]:
        return {p for p, v in self.verdicts(target).items() if v == "fail"}

    def document(self) -> dict:
        return json.loads((self.reports / "isolation.json").read_text())

    def broken(self, target: str | None = None) -> set[str]:
        """The properties that do not hold, enforced (fail) or not (advisory)."""
        return {p for p, v in self.verdicts(target).items() if v in ("fail", "advisory")}


def run_suite(directory: Path, *args, env=None, timeout=180, wrapper: tuple[str, ...] = ()) -> SuiteRun:
    """Run the isolation suite the way users do — `pytest` in the repo root — in a subprocess
    (started through `wrapper`, e.g. `unshare --net`, where one is given)."""
    json_path = directory / "isolation.json"
    json_path.unlink(missing_ok=True)
    command = [*wrapper, sys.executable, "-m", "pytest", f"--iso-json={json_path}", LABEL_ARG,
               f"--iso-report={directory / 'isolation.html'}", f"--html={directory / 'test-log.html'}",
               f"--junitxml={directory / 'isolation.xml'}",
               *args]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    results = json.loads(json_path.read_text())["results"] if json_path.exists() else []
    return SuiteRun(done.returncode, done.stdout + done.stderr, results, directory)


@pytest.fixture
def suite(tmp_path):
    return lambda *args, **kwargs: run_suite(tmp_path, *args, **kwargs)


def pytest_sessionfinish(session):
    """Nothing the suite or its selftests start may outlive them, in Docker or in Podman."""
    try:
        left = ours(docker.from_env())
    except docker.errors.DockerException:
        left = []
    for container in left:
        container.remove(force=True)
    names = [c.name for c in left]
    if shutil.which("podman"):
        listed = subprocess.run(["podman", "ps", "-aq", f"--filter=label={SESSION_LABEL}"],
                                capture_output=True, text=True).stdout.split()
        for container_id in listed:
            subprocess.run(["podman", "rm", "-f", "-t", "0", container_id], capture_output=True)
        names += listed
    if names:
        sys.stderr.write(f"\nselftests: containers of the suite left behind: {', '.join(names)}\n")
        session.exitstatus = 1
    anchors = left_anchors()
    for pid in anchors:
        os.kill(pid, signal.SIGKILL)
    if anchors:
        sys.stderr.write(f"\nselftests: anchors of the suite left behind: {anchors}\n")
        session.exitstatus = 1


def left_anchors() -> list[int]:
    """This session's anchors (isoverify/collect/shell/kernel_view.py) still alive: every run lets its own go."""
    found, mine = [], f"ISOVERIFY_SELFTEST_SESSION={os.environ['ISOVERIFY_SELFTEST_SESSION']}".encode()
    for process in Path("/proc").iterdir():
        try:
            if (process.name.isdigit()
                    and b'"""Every container\'s readings as the host' in (process / "cmdline").read_bytes()
                    and mine in (process / "environ").read_bytes().split(b"\0")):
                found.append(int(process.name))
        except OSError:
            continue
    return found


@pytest.fixture(scope="session")
def busybox_binary_layer(docker_client) -> bytes:
    """A filesystem layer holding one static binary, /bin/busybox, and no shell."""
    helper = docker_client.containers.create(IMAGE, labels=dict([(LABEL, "selftest"), SESSION_LABEL.split("=")]))
    try:
        stream, _ = helper.get_archive("/bin/busybox")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            binary = archive.extractfile("busybox").read()
    finally:
        helper.remove(force=True)
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        entry = tarfile.TarInfo("bin/busybox")
        entry.size, entry.mode = len(binary), 0o755
        archive.addfile(entry, io.BytesIO(binary))
    return layer.getvalue()


def _import(client, layer: bytes, name: str, changes: list[str]) -> str:
    client.api.import_image_from_data(layer, repository=name, tag="latest", changes=changes)
    return f"{name}:latest"


@pytest.fixture(scope="session")
def shell_less_image(docker_client, busybox_binary_layer):
    """No shell, but a command that keeps it running: like a `FROM scratch` service."""
    return _import(docker_client, busybox_binary_layer, "isoverify-selftest-noshell",
                   ['CMD ["/bin/busybox", "sleep", "infinity"]'])


@pytest.fixture(scope="session")
def commandless_image(docker_client, busybox_binary_layer):
    """No shell and no command: nothing `docker run -it IMAGE` could start."""
    return _import(docker_client, busybox_binary_layer, "isoverify-selftest-nocmd", [])


@pytest.fixture(scope="session")
def open_tmp():
    """A scratch directory an unprivileged uid can traverse too (pytest's own is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="isoverify-selftest-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def busybox_rootfs(docker_client, open_tmp) -> Path:
    """The busybox image's files, unpacked: the lower layer of hand-made containers."""
    root = open_tmp / "busybox-rootfs"
    root.mkdir()
    helper = docker_client.containers.create(IMAGE, labels=dict([(LABEL, "selftest"), SESSION_LABEL.split("=")]))
    try:
        with tarfile.open(fileobj=io.BytesIO(b"".join(helper.export()))) as archive:
            archive.extractall(root, filter="fully_trusted")
    finally:
        helper.remove(force=True)
    return root


@pytest.fixture
def handmade(busybox_rootfs, open_tmp):
    """Start hand-made containers (unshare + overlay + pivot_root); yield their PID 1s' host PIDs.
    Each container's writable layer is the `upper` directory of a fresh directory under open_tmp."""
    started = []

    def start(*namespaces: str, as_uid: int | None = None, rootfs: Path | None = None) -> int:
        work = Path(tempfile.mkdtemp(dir=open_tmp))
        command = ["unshare", "--fork", *namespaces, "sh", str(REPO / "tests/e2e/helpers/handmade-container.sh"),
                   str(rootfs or busybox_rootfs), str(work)]
        if as_uid is not None:  # rootless: an ordinary user maps itself to root inside
            os.chown(work, as_uid, as_uid)
            command = ["setpriv", f"--reuid={as_uid}", f"--regid={as_uid}", "--clear-groups",
                       *command[:2], "--map-root-user", *command[2:]]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        started.append(process)
        return _container_init(process)

    yield start
    for process in started:
        for pid in _children(process.pid):
            os.kill(pid, signal.SIGKILL)  # PID 1 of its namespace: only SIGKILL reaches it
        process.kill()
        process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _container_init(process: subprocess.Popen) -> int:
    """The PID of the container's PID 1 once it has become the long sleep."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hand-made container failed: {process.stdout.read().decode()}")
        for pid in _children(process.pid):
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"sleep"):
                return pid
        time.sleep(0.05)
    raise RuntimeError("hand-made container did not start within 30 s")


@dataclass
class RemoteHost:
    """A real sshd in a network namespace of its own, answering on a 10.200.x address."""

    address: str
    alias: str
    ssh_config: Path  # shaped like `vagrant ssh-config` output
    identity: Path
    log: Path

    def connections(self) -> int:
        """How many ssh connections the sshd accepted so far."""
        return self.log.read_text().count("Accepted publickey")


@pytest.fixture(scope="session")
def remote_host(open_tmp):
    """A host reached over ssh: the sessions it accepts run in this machine's namespaces
    (ForceCommand nsenter), so it has the Docker engine and containers of this machine,
    while everything it sees arrives over the network, on 10.200.x addresses only."""
    if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
        pytest.fail("sshd is missing: `sudo ci/setup.sh --selftest` installs openssh-server", pytrace=False)
    directory = open_tmp / "ssh"
    directory.mkdir()
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / key)], check=True)
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    tag = secrets.token_hex(3)
    subnet = 1 + int(tag, 16) % 250
    namespace, host_side, ns_side = f"iso-{tag}", f"iso{tag}h", f"iso{tag}n"
    address = f"10.200.{subnet}.2"
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress {address}\nHostKey {directory / 'host_key'}\nPidFile none\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\n"
        "MaxSessions 64\nMaxStartups 64\nLogLevel VERBOSE\n"
        f"ForceCommand exec nsenter -t {os.getpid()} -a /bin/sh -c \"$SSH_ORIGINAL_COMMAND\"\n")
    ssh_config = directory / "ssh-config"
    ssh_config.write_text(
        f"Host isoverify-remote\n  HostName {address}\n  User root\n  Port 22\n"
        "  UserKnownHostsFile /dev/null\n  StrictHostKeyChecking no\n  PasswordAuthentication no\n"
        f"  IdentityFile {directory / 'client_key'}\n  IdentitiesOnly yes\n  LogLevel FATAL\n")
    commands = [
        ["ip", "netns", "add", namespace],
        ["ip", "link", "add", host_side, "type", "veth", "peer", "name", ns_side],
        ["ip", "link", "set", ns_side, "netns", namespace],
        ["ip", "addr", "add", f"10.200.{subnet}.1/30", "dev", host_side],
        ["ip", "link", "set", host_side, "up"],
        ["ip", "-n", namespace, "addr", "add", f"{address}/30", "dev", ns_side],
        ["ip", "-n", namespace, "link", "set", ns_side, "up"],
        ["ip", "-n", namespace, "link", "set", "lo", "up"],
    ]
    Path("/run/sshd").mkdir(exist_ok=True)
    log = directory / "sshd.log"
    sshd = None
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        with open(log, "w") as output:
            sshd = subprocess.Popen(["nsenter", f"--net=/run/netns/{namespace}", "/usr/sbin/sshd", "-D", "-e",
                                     "-f", str(config)], stdout=output, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while subprocess.run(["ssh", "-F", str(ssh_config), "isoverify-remote", "true"],
                             capture_output=True).returncode != 0:
            assert sshd.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield RemoteHost(address, "isoverify-remote", ssh_config, directory / "client_key", log)
    finally:
        if sshd is not None:
            sshd.terminate()
            sshd.wait(timeout=10)
        subprocess.run(["ip", "netns", "delete", namespace], capture_output=True)
        subprocess.run(["ip", "link", "delete", host_side], capture_output=True)


PODMAN_RUN = ["--network", "none", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]


@pytest.fixture(scope="session")
def podman_image(docker_client):
    """The busybox image, in podman's store too (imported from Docker's: no registry needed)."""
    if shutil.which("podman") is None:
        pytest.fail("podman is missing: `sudo ci/setup.sh --selftest` installs it", pytrace=False)
    if subprocess.run(["podman", "image", "exists", IMAGE]).returncode != 0:
        helper = docker_client.containers.create(IMAGE, labels=dict([(LABEL, "selftest"), SESSION_LABEL.split("=")]))
        try:
            subprocess.run(["podman", "import", "--change", 'CMD ["sh"]', "-", IMAGE],
                           input=b"".join(helper.export()), check=True, capture_output=True)
        finally:
            helper.remove(force=True)
    return IMAGE


@pytest.fixture
def podman_canary(podman_image):
    """Start podman containers labelled as this session's (no network: podman's bridge
    would add its own network and firewall rules); all removed after the test."""
    started = []

    def start(*options: str, image: str = podman_image) -> str:
        name = f"isoverify-selftest-{secrets.token_hex(4)}"
        subprocess.run(["podman", "run", "-dit", f"--name={name}", f"--label={LABEL}=selftest",
                        f"--label={SESSION_LABEL}", *PODMAN_RUN, *options, image],
                       check=True, capture_output=True)
        started.append(name)
        return name

    yield start
    for name in started:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)


ROOTLESS_USER = "isoverify-rootless"


@pytest.fixture(scope="session")
def rootless(docker_client):
    """An ordinary user with rootless podman and the busybox image: run(*args) as that user."""
    if shutil.which("sudo") is None or shutil.which("newuidmap") is None:
        pytest.fail("sudo and uidmap are missing: `sudo ci/setup.sh --selftest` installs them", pytrace=False)
    if subprocess.run(["id", ROOTLESS_USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", ROOTLESS_USER], check=True)
    for ids in ("/etc/subuid", "/etc/subgid"):  # useradd adds these where login.defs asks it to
        if not any(line.startswith(f"{ROOTLESS_USER}:") for line in Path(ids).read_text().splitlines()):
            with open(ids, "a") as table:
                table.write(f"{ROOTLESS_USER}:200000:65536\n")

    def run(*args, **kwargs):
        return subprocess.run(["sudo", "-u", ROOTLESS_USER, "--", *args], capture_output=True,
                              cwd="/", **kwargs)

    if run("podman", "image", "exists", IMAGE).returncode != 0:
        helper = docker_client.containers.create(IMAGE, labels={LABEL: "selftest"})
        try:
            run("podman", "import", "--change", 'CMD ["sh"]', "-", IMAGE, input=b"".join(helper.export()), check=True)
        finally:
            helper.remove(force=True)
    return run


# The session's private containerd (cri_rig.py), one for every test of pods: imported last,
# as it reads this session's label from here.
from cri_rig import cri_runtime  # noqa: E402, F401
