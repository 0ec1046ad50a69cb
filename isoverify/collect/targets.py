"""How a machine or a container is reached.

Hosts are testinfra hosts (`local://`, `ssh://…`), and `node://`: the node a pod
of the suite runs on, entered through kthreadd's namespaces. Containers are reached
*through* their host: the host runs the engine's CLI (`docker exec …`), so
the containers of a remote host are checked over the same connection as the
host itself, and no engine is ever asked from the machine running pytest.
"""

import contextlib
import dataclasses
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import testinfra
import testinfra.backend
from testinfra.backend.ssh import SshBackend

from isoverify.collect.cri import CriClient, CriError, PodContainer, find_socket
from isoverify.collect.cri.client import DEFAULT_SOCKETS, RUNNING
from isoverify.errors import TargetError, UsageError
from isoverify.untrusted import one_line

LABEL = "io.isoverify.suite"
SESSION_LABEL = "io.isoverify.session"
ENGINES = ("docker", "podman")
PROCESS = "pid"  # pid://PID: any process as a container, entered with nsenter
POD = "kubectl"  # kubectl://POD: a pod's container, seen from inside only
CRI = "cri"  # cri://*: the pod containers of the node's CRI runtime, read from the node's kernel
NODE = "node"  # node://: the node under a pod of the suite that shares its PID namespace (hostPID)
# Every command on node:// runs in the node's initial namespaces, kthreadd's (PID 2: always
# in them, where PID 1 may be closed), so the node's own shell and python3 read its kernel.
ENTER_NODE = "nsenter --target 2 --mount --uts --ipc --net --cgroup -- /bin/sh -c %s"
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}=[A-Za-z0-9_.:/@-]{0,128}")
RUNTIME_ID = re.compile(r"[0-9a-f]{12,64}")  # a CRI runtime's container or sandbox ID
_LABEL_FILTER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]{0,252}(=[A-Za-z0-9_.:/@-]{0,128})?")


# -- what a URL or an option may carry -----------------------------------------------
#
# Every value below may reach a shell: testinfra formats URL fields into command lines
# (its kubectl backend even inside double quotes, where its own quoting does not hold),
# and the suite formats some into its own. So each kind of value is allow-listed, once,
# to characters no shell treats specially, and none starts with `-` (an option to ssh,
# sudo or kubectl).

def _allow(regex: str) -> Callable[[str], object]:
    """Accepts whole values matching `regex`, nothing else."""
    return re.compile(regex).fullmatch


_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}"
_NAME = _allow(_NAME_PATTERN)
_HOST = _allow(rf"{_NAME_PATTERN}|\[[0-9A-Fa-f:.]{{2,45}}\]")  # a name, or an IPv6 address in brackets
_PORT = _allow(r"[1-9][0-9]{0,4}")
_FILE = _allow(r"[A-Za-z0-9._/~+][A-Za-z0-9._/~+-]{0,4095}")
_KUBERNETES_NAME = _allow(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?")
_REFERENCE = _allow(r"[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,511}")  # an image, a kubeconfig context
_NAME_FIX = "use letters, digits and . _ -, starting with a letter or digit"
_KUBERNETES_FIX = "use lower-case letters, digits, . and -, starting and ending with a letter or digit"


@dataclass(frozen=True)
class Field:
    """One kind of value: what it is and how to write it, for the one line that refuses it."""

    what: str
    fix: str
    accepts: Callable[[str], object]

    def check(self, value: str, where: str) -> str:
        if not self.accepts(value):
            raise UsageError(f"{where} {value!r} is not {self.what}: {self.fix}")
        return value


USER = Field("a user name", f"{_NAME_FIX} (no password: use a key)", _NAME)
FILE = Field("a file path", "use letters, digits and . _ / ~ + -, not starting with -", _FILE)
IMAGE = Field("an image reference", "use letters, digits and . _ - / : @, starting with a letter or digit",
              _REFERENCE)
# A URL's fields by name: upper case between `://` and `?`, lower case for its ?KEY=VALUE options.
FIELDS = {
    "USER": USER,
    "HOST": Field("a host name or address", f"{_NAME_FIX}, or an [IPv6] address", _HOST),
    "PORT": Field("a port", "use a number from 1 to 65535", lambda value: _PORT(value) and int(value) <= 65535),
    "GROUP": Field("an Ansible group or host", _NAME_FIX, _NAME),
    "NAME": Field("a Vagrant machine", _NAME_FIX, _NAME),
    "CONTAINER": Field("a container name or ID", _NAME_FIX, _NAME),
    "PID": Field("a process ID", "use a positive number", _allow(r"[1-9][0-9]{0,9}")),
    "POD": Field("a pod name", _KUBERNETES_FIX, _KUBERNETES_NAME),
    "sudo": Field("a boolean", "use true or false", _allow("true|false")),
    "sudo_user": USER,
    "ssh_config": FILE,
    "ssh_identity_file": FILE,
    "ansible_inventory": FILE,
    "root": FILE,
    "namespace": Field("a namespace", _KUBERNETES_FIX, _KUBERNETES_NAME),
    "container": Field("a container name", _KUBERNETES_FIX, _KUBERNETES_NAME),
    # testinfra hands kubectl the path inside double quotes around its own quotes: ~ would stay
    "kubeconfig": Field("a kubeconfig path", "use a full path of letters, digits and . _ / + -, not starting with -",
                        lambda value: _FILE(value) and "~" not in value),
    "context": Field("a kubeconfig context", "use letters, digits and . _ : / @ -, starting with a letter or digit",
                     _REFERENCE),
    "label": Field("a label filter", "use KEY or KEY=VALUE (letters, digits, . _ - : / @)", _LABEL_FILTER.fullmatch),
    "socket": Field("a socket path", "use a full path of letters, digits and . _ / + -",
                    lambda value: _FILE(value) and value.startswith("/")),
    "pod": Field("a pod name", _KUBERNETES_FIX, _KUBERNETES_NAME),
}


@dataclass(frozen=True)
class Scheme:
    """How URLs of one scheme are written: `target` matches what lies between `://` and `?`,
    its groups named after FIELDS; `options` are the query keys it takes (testinfra reads more:
    the rest are refused, since the suite neither documents nor needs them)."""

    form: str
    target: str
    options: tuple[str, ...] = ()


_LOGIN = r"(?:(?P<USER>[^@]*)@)?(?P<HOST>\[[^\]]*\]|[^:]*)(?::(?P<PORT>.*))?"
_SUDO = ("sudo", "sudo_user")
_SSH = (*_SUDO, "ssh_config", "ssh_identity_file")
HOST_URLS = {
    "local": Scheme("local://", "", _SUDO),
    NODE: Scheme(f"{NODE}://", ""),
    **{name: Scheme(f"{name}://[USER@]HOST[:PORT]", _LOGIN, _SSH) for name in ("ssh", "safe-ssh", "paramiko")},
    "ansible": Scheme("ansible://GROUP?ansible_inventory=FILE", "(?P<GROUP>.*)", (*_SSH, "ansible_inventory")),
    "vagrant": Scheme("vagrant://NAME?root=DIR", "(?P<NAME>.+)?", (*_SUDO, "root")),
}
CONTAINER_URLS = {
    **{engine: Scheme(f"{engine}://NAME-or-ID, {engine}://*?label=KEY=VALUE", r"\*|(?P<CONTAINER>.*)", ("label",))
       for engine in ENGINES},
    PROCESS: Scheme(f"{PROCESS}://PID", "(?P<PID>.*)"),
    POD: Scheme(f"{POD}://POD?namespace=NS&container=C", "(?P<POD>.*)",
                ("namespace", "container", "kubeconfig", "context")),
    CRI: Scheme(f"{CRI}://*?socket=PATH&namespace=NS&pod=NAME&label=KEY=VALUE&container=NAME", r"\*",
                ("socket", "namespace", "pod", "label", "container")),
}
# A container's URL given as a host: what it names, and the machine to name instead.
NOT_HOSTS = {POD: ("pod", "node"), PROCESS: ("process", "machine"), CRI: ("pod", "node"),
             **{engine: ("container", "machine") for engine in ENGINES}}


def _parse_url(url: str, kind: str, schemes: dict[str, Scheme]) -> tuple[str, str, dict[str, str]]:
    """The scheme, target and options of a `--iso-KIND` URL, every field allow-listed; the options
    decoded as testinfra decodes them, so that what is checked is what it uses."""
    where = f"--iso-{kind} {url!r}:"
    name, sep, rest = url.partition("://")
    if not sep or name not in schemes:
        raise UsageError(f"{where} unknown {kind} URL; use " + ", ".join(s.form for s in schemes.values()))
    scheme = schemes[name]
    target, _, query = rest.partition("?")
    parts = re.fullmatch(scheme.target, target)
    if parts is None:
        raise UsageError(f"{where} write {scheme.form}")
    for field, value in parts.groupdict().items():
        if value is not None:
            FIELDS[field].check(value, f"{where} {field}")
    try:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise UsageError(f"{where} write options as ?KEY=VALUE&KEY=VALUE") from None
    for key, value in pairs:
        if key not in scheme.options:
            takes = f"only {', '.join(scheme.options)}" if scheme.options else "no options"
            raise UsageError(f"{where} {name}:// takes {takes}, not {key!r}")
        FIELDS[key].check(value, f"{where} {key}")
    options = dict(pairs)
    if len(options) < len(pairs):
        raise UsageError(f"{where} give each option once")
    return name, target, options


def check_host_url(url: str) -> None:
    """An --iso-host URL, every field allow-listed. A host is a machine whose kernel the suite
    reads: a container's URL (a pod's above all, reached from inside only) is refused."""
    scheme, sep, _ = url.partition("://")
    if sep and scheme in NOT_HOSTS:
        thing, machine = NOT_HOSTS[scheme]
        raise UsageError(f"--iso-host {url!r}: a {thing} is not a host: the suite must read the host's kernel; "
                         f"name the {machine} with ssh:// or run the suite on it, and give the {thing} "
                         "as --iso-container")
    _parse_url(url, "host", HOST_URLS)


def check_image(image: str) -> str:
    return IMAGE.check(image, "--iso-image")


class HostTarget:
    """A machine, reached through a testinfra connection (or Vagrant's ssh-config).

    ssh connections are kept open for the whole run (a ControlMaster in a
    private directory), so a remote host costs one handshake, not one per
    command; `close` ends them.
    """

    def __init__(self, url: str, ssh_config: str | None = None, ssh_identity_file: str | None = None):
        if url.startswith(f"{POD}://"):  # no host, but `observe_pod` reaches a pod through testinfra too
            parse_container_url(url)
        else:
            check_host_url(url)
        self.url, self.scheme = url, url.partition("://")[0]
        # testinfra's --ssh-config and --ssh-identity-file, for every ssh host
        self.options = {key: FILE.check(value, f"--{key.replace('_', '-')}")
                        for key, value in (("ssh_config", ssh_config), ("ssh_identity_file", ssh_identity_file))
                        if value}
        self.round_trips = 0  # commands run on the host: what batching keeps small
        self._testinfra: testinfra.host.Host | None = None
        self._private_dir: str | None = None

    def __repr__(self):
        return f"HostTarget({self.url!r})"

    @property
    def label(self) -> str:
        return self.url.split("?", 1)[0]

    def _connect(self):
        url, options = self.url, dict(self.options)
        if self.scheme == NODE:
            return testinfra.get_host("local://")
        if self.scheme in ("ssh", "vagrant"):
            self._private_dir = tempfile.mkdtemp(prefix="isoverify-ssh-")
            options["controlpath"] = os.path.join(self._private_dir, "control")
        if self.scheme == "vagrant":
            url, options["ssh_config"] = vagrant_ssh_config(self.url, self._private_dir)
        return testinfra.get_host(url, **options)

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        """Run a shell command on the host: (exit status, stdout, stderr)."""
        self.round_trips += 1
        try:
            if self._testinfra is None:
                self._testinfra = self._connect()
            result = (self._testinfra.run(ENTER_NODE, command) if self.scheme == NODE
                      else self._testinfra.run(command))
        except TargetError:
            raise
        except Exception as exc:  # any backend's way of saying "unreachable"
            detail = exc.args[0] if exc.args else exc
            if hasattr(detail, "stderr_bytes"):  # testinfra's ssh backend raises its failed result
                detail = detail.stderr_bytes.decode("utf-8", "replace")
            raise TargetError(f"cannot reach {self.label}: {' '.join(str(detail).split())[:200]}; check that the "
                              "host is up and that its URL's user, port and key reach it") from exc
        return result.rc, result.stdout_bytes, result.stderr_bytes

    def ssh_backend(self) -> SshBackend | None:
        """The testinfra ssh backend this host's commands went through (ssh, Vagrant, an Ansible
        host reached over ssh), or None for any other; call after a command has run."""
        backend = self._testinfra.backend if self._testinfra is not None else None
        if backend is not None and backend.NAME == "ansible" and not backend.force_ansible:
            through = backend.ansible_runner.get_host(backend.host, ssh_config=backend.ssh_config,
                                                      ssh_identity_file=backend.ssh_identity_file)
            backend = through.backend if through is not None else None
        return backend if isinstance(backend, SshBackend) else None

    def close(self) -> None:
        """End the kept-open ssh connections this host started, and forget them."""
        if self._private_dir is None:
            return
        for socket in glob.glob(os.path.join(self._private_dir, "*")):
            subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", "isoverify"],
                           capture_output=True, timeout=10)
        shutil.rmtree(self._private_dir, ignore_errors=True)
        self._private_dir, self._testinfra = None, None


def expand_host_urls(urls: tuple[str, ...]) -> list[str]:
    """Host URLs with each `ansible://GROUP?ansible_inventory=FILE` replaced by its hosts."""
    expanded = []
    for url in urls:
        if not url.startswith("ansible://"):
            expanded.append(url)
            continue
        # testinfra asks `ansible-inventory`, which lives beside this Python when pip installed it
        os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
        query = urllib.parse.urlparse(url).query
        try:
            backends = testinfra.backend.get_backends([url])
        except Exception as exc:
            raise UsageError(f"--iso-host {url!r}: cannot read the Ansible inventory "
                             f"(needs ansible-core installed): {' '.join(str(exc).split())[:200]}") from None
        if not backends:
            raise UsageError(f"--iso-host {url!r}: the Ansible inventory names no such hosts")
        names = [FIELDS["GROUP"].check(getattr(backend.host, "name", backend.host),
                                       f"--iso-host {url!r}: the inventory's host") for backend in backends]
        expanded.extend(f"ansible://{name}" + (f"?{query}" if query else "") for name in names)
    return expanded


def vagrant_ssh_config(url: str, directory: str) -> tuple[str, str]:
    """`vagrant://NAME?root=DIR[&sudo=true]` as an ssh URL (keeping the options but `root`)
    and the ssh-config file Vagrant gives for it."""
    parsed = urllib.parse.urlparse(url)
    name = parsed.netloc or "default"
    query = urllib.parse.parse_qs(parsed.query)
    root = os.path.expanduser(query.pop("root", [os.getcwd()])[0])
    passed_on = urllib.parse.urlencode(query, doseq=True)  # sudo=true and the like, for the ssh host
    if shutil.which("vagrant") is None:
        raise TargetError(f"{url}: Vagrant is not installed here; install it, or name the VM with ssh://")
    try:
        done = subprocess.run(["vagrant", "ssh-config", name], cwd=root, capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TargetError(f"{url}: `vagrant ssh-config {name}` in {root} failed: {exc}") from None
    if done.returncode != 0:
        detail = " ".join(done.stderr.split())[:200]
        raise TargetError(f"{url}: Vagrant VM {name!r} in {root} is not running: "
                          f"`vagrant up {name}` there ({detail})")
    alias = next((line.split()[1] for line in done.stdout.splitlines()
                  if line.startswith("Host ") and len(line.split()) > 1), name)
    config = os.path.join(directory, "vagrant-ssh-config")
    with open(config, "w") as file:
        file.write(done.stdout)
    return f"ssh://{alias}" + (f"?{passed_on}" if passed_on else ""), config


@dataclass(frozen=True)
class ContainerTarget:
    """A container of `host`, named to its engine by `ref` (name or ID)."""

    host: HostTarget
    engine: str  # docker, podman, "pid" for a bare process, "cri" for a pod's container
    ref: str
    label: str
    # A pod's container (cri://): what its node's CRI runtime said of it when the run was planned.
    pod: PodContainer | None = dataclasses.field(default=None, compare=False)

    @property
    def has_engine(self) -> bool:
        """Whether an engine's CLI on the host names it (inspect, exec)."""
        return self.engine not in (PROCESS, POD, CRI)

    @property
    def probe_words(self) -> str:
        """How the host's probe is told of it (host.sh, start_reading): ENGINE REF, or for what
        no engine's CLI names, "-" and the PID, or "cri" and ID:PID:SANDBOX_ID:SANDBOX_PID as the
        runtime gave them (its IDs hex, as select_pod_containers checked)."""
        if self.pod is not None:
            pod = self.pod
            return f"{CRI} {pod.container_id}:{pod.pid or '-'}:{pod.sandbox_id}:{pod.sandbox_pid or '-'}"
        return f"{self.engine if self.has_engine else '-'} {shlex.quote(self.ref)}"


@dataclass(frozen=True)
class ContainerSpec:
    """A container URL as the user wrote it, before any host is asked about it."""

    url: str
    engine: str
    ref: str  # a name, an ID, a PID, or "*": every running container of the engine
    label_filter: str | None = None  # with "*": only those carrying this label (KEY or KEY=VALUE)
    options: tuple[tuple[str, str], ...] = ()  # its other ?KEY=VALUE options, each allow-listed

    def option(self, key: str) -> str | None:
        return dict(self.options).get(key)

    @property
    def selects(self) -> bool:
        return self.ref == "*"

    def target(self, host: HostTarget) -> ContainerTarget:
        return ContainerTarget(host, self.engine, self.ref, label=self.url)


def parse_container_url(url: str) -> ContainerSpec:
    """An --iso-container URL, every field allow-listed."""
    scheme, ref, options = _parse_url(url, "container", CONTAINER_URLS)
    if "label" in options and ref != "*":
        raise UsageError(f"--iso-container {url!r}: only {scheme}://* takes ?label=KEY=VALUE")
    return ContainerSpec(url, scheme, ref, options.pop("label", None), tuple(sorted(options.items())))


# Hosts whose CRI socket the suite opens itself, and hosts whose connection is OpenSSH's, which
# can forward the node's (an Ansible host's connection is known only once its inventory is read).
CRI_LOCAL = ("local", NODE)
CRI_FORWARDING = ("ssh", "safe-ssh", "vagrant", "ansible")
FORWARD_GRACE_SECONDS = 5  # beyond the ssh connect timeout, for the forward's socket to appear


def check_cri_host(spec: ContainerSpec, host: HostTarget) -> None:
    """cri:// asks the runtime's socket on the node: this machine's (or, from the suite's pod, the
    node's, which the pod mounts at the node's path), or a remote one's forwarded over OpenSSH."""
    if host.scheme not in (*CRI_LOCAL, *CRI_FORWARDING):
        raise UsageError(f"--iso-container {spec.url!r}: cri:// through {host.label} needs the node's CRI socket "
                         f"forwarded, which {host.scheme}:// cannot do: name the node with ssh://, or run the suite "
                         "on it with --iso-host=local://")


def select_pod_containers(host: HostTarget, spec: ContainerSpec) -> list[PodContainer]:
    """The pod containers `spec` selects, from one query of `host`'s CRI runtime (CriError if none
    answers). Selection is by the runtime's records, matched against what the URL names; names and
    labels only narrow what is shown, and each container stays identified by the runtime's ID."""
    if host.scheme in CRI_LOCAL:
        socket = spec.option("socket") or find_socket()
        with CriClient(socket) as client:
            found = client.pod_containers(pod_selector(spec))
    else:
        socket = node_socket(host, spec)
        with forwarded_socket(host, socket) as local, CriClient(local, shown=f"{socket} on {host.label}") as client:
            found = client.pod_containers(pod_selector(spec))
    for container in found:
        for what, runtime_id in (("container", container.container_id), ("sandbox", container.sandbox_id)):
            if not RUNTIME_ID.fullmatch(runtime_id):
                raise CriError(f"the CRI runtime at {socket} gave a {what} ID {one_line(runtime_id, 80)!r} that is "
                               "not hex: it is not containerd or CRI-O, or it lies; name the runtime's socket")
    return choose_pod_containers(spec, found)


def node_socket(host: HostTarget, spec: ContainerSpec) -> str:
    """The runtime's socket on a remote node: ?socket=, else the first default that is a socket there
    (tested on the node, not here)."""
    named = spec.option("socket")
    candidates = (named,) if named else DEFAULT_SOCKETS
    for path in candidates:
        if host.run(f"test -S {shlex.quote(path)}")[0] == 0:
            return path
    raise CriError(f"no CRI runtime socket at {' or '.join(candidates)} on {host.label}: start containerd or "
                   "CRI-O there, or name its socket with ?socket=PATH")


def ssh_forward_command(backend: SshBackend, local: str, remote: str) -> list[str]:
    """The ssh command forwarding the node's unix socket `remote` to `local`, with the host's own
    extra arguments, ssh-config, user, port and identity. It makes its own connection (no
    ControlMaster): its PID is the forward's whole life, and a refusal by the node ends it."""
    # ssh keeps the first value it is given for an option: these hold over the host's own (INFO: a
    # channel the node refuses is said there)
    options = ["-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "BatchMode=yes",
               "-o", "ExitOnForwardFailure=yes", "-o", "LogLevel=INFO", "-o", f"ConnectTimeout={backend.timeout}"]
    if backend.ssh_extra_args:
        options += shlex.split(backend.ssh_extra_args)
    if backend.ssh_config:
        options += ["-F", backend.ssh_config]
    if backend.host.user:
        options += ["-o", f"User={backend.host.user}"]
    if backend.host.port:
        options += ["-o", f"Port={backend.host.port}"]
    if backend.ssh_identity_file:
        options += ["-i", backend.ssh_identity_file]
    return ["ssh", *options, "-N", "-L", f"{local}:{remote}", backend.host.name]


@contextlib.contextmanager
def forwarded_socket(host: HostTarget, remote: str):
    """`remote`, a unix socket on `host`, forwarded over ssh to a socket in a private directory (0700)
    of this machine: yields its path. When the block ends, however it ends, the ssh process is
    stopped by its PID and the directory removed. A CRI error while the node refused the forward
    names the refusal instead."""
    backend = host.ssh_backend()
    if backend is None:
        raise CriError(f"{host.label} is not reached over OpenSSH, so its CRI socket {remote} cannot be forwarded: "
                       "name the node with ssh://, or give it an ssh connection in the inventory")
    directory = tempfile.mkdtemp(prefix="isoverify-cri-")
    local, log = os.path.join(directory, "cri.sock"), os.path.join(directory, "ssh.log")
    forward = None
    try:
        with open(log, "wb") as errors:
            forward = subprocess.Popen(ssh_forward_command(backend, local, remote), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True)
        deadline = time.monotonic() + backend.timeout + FORWARD_GRACE_SECONDS
        while not os.path.exists(local):
            if forward.poll() is not None or time.monotonic() > deadline:
                said = _ssh_said(log) or f"no forward within {backend.timeout + FORWARD_GRACE_SECONDS} s"
                raise CriError(f"ssh to {host.label} could not forward its CRI socket {remote} ({said}): check "
                               "that the host is up and that its URL's user, port and key reach it")
            time.sleep(0.05)
        try:
            yield local
        except CriError as exc:
            said = _ssh_said(log)
            if "open failed" in said:  # what sshd says both when forwarding is off and when the socket refuses
                raise CriError(f"the sshd of {host.label} would not open its CRI socket {remote} ({said}): set "
                               "`AllowStreamLocalForwarding yes` in its sshd_config, log in as a user that may "
                               "open the socket (root), and check that the runtime runs") from None
            if said:
                raise CriError(f"{exc} (ssh: {said})") from None
            raise
    finally:
        if forward is not None:
            forward.terminate()
            try:
                forward.wait(timeout=5)
            except subprocess.TimeoutExpired:
                forward.kill()
                forward.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _ssh_said(log: str) -> str:
    """What the forwarding ssh said, but its notes on host keys."""
    with open(log, "rb") as said:
        lines = said.read(4096).decode("utf-8", "replace").splitlines()
    return one_line(" ".join(line for line in lines if not line.startswith("Warning: Permanently added")), 200)


def pod_selector(spec: ContainerSpec) -> Callable[[str, str, dict[str, str]], bool]:
    """Whether `spec`'s ?namespace=, ?pod= and ?label= (a pod label, KEY or KEY=VALUE) select a
    pod, by (namespace, name, labels): asked of the runtime's listing before any container is
    read, so the limit of one run counts the containers of the pods chosen."""
    namespace, pod = spec.option("namespace"), spec.option("pod")
    key, has_value, wanted = (spec.label_filter or "").partition("=")

    def selected(pod_namespace: str, pod_name: str, labels: dict[str, str]) -> bool:
        return ((namespace is None or pod_namespace == namespace) and (pod is None or pod_name == pod)
                and (not key or key in labels and (not has_value or labels[key] == wanted)))
    return selected


def choose_pod_containers(spec: ContainerSpec, found: list[PodContainer]) -> list[PodContainer]:
    """Of `found`, those of the pods `spec` selects (pod_selector) and, with ?container=, of that
    name, ordered by namespace, pod and container. A container that stopped and was started again
    by its pod leaves its earlier attempt behind: one that is not running is left out where its pod
    has a later one of the same name."""
    selected, container = pod_selector(spec), spec.option("container")
    chosen = [one for one in found if selected(one.pod_namespace, one.pod_name, one.pod_labels)
              and (container is None or one.container_name == container)]
    replaced = {(one.sandbox_id, one.container_name, one.container_id) for one in chosen for later in chosen
                if one.state != RUNNING and later.sandbox_id == one.sandbox_id
                and later.container_name == one.container_name and later.created_at > one.created_at}
    return sorted((one for one in chosen if (one.sandbox_id, one.container_name, one.container_id) not in replaced),
                  key=lambda c: (c.pod_namespace, c.pod_name, c.pod_uid, c.container_name, c.container_id))


def select_containers(host: HostTarget, spec: ContainerSpec) -> list[tuple[str, str]]:
    """The running containers `spec` selects on `host`, as (ID, name).

    None is left out for a label it carries, the suite's own included: whoever starts a
    container chooses its labels, so a label proves nothing. (This run's own container
    does not exist yet when targets are selected.)"""
    label = f" --filter {shlex.quote(f'label={spec.label_filter}')}" if spec.label_filter else ""
    rc, out, _ = host.run(f"{spec.engine} ps --no-trunc --format '{{{{.ID}}}} {{{{.Names}}}}'{label} 2>&1")
    text = out.decode("utf-8", "replace")
    if rc != 0:
        raise TargetError(explain_engine_failure(spec.engine, host, text))
    found = []
    for line in text.splitlines():
        container_id, _, name = line.partition(" ")
        if re.fullmatch(r"[0-9a-f]{12,64}", container_id):
            found.append((container_id, name.strip()))
    return sorted(found, key=lambda found_one: found_one[1])


def check_label(label: str) -> str:
    """An extra label for the managed container, as KEY=VALUE with shell-safe characters."""
    if not _LABEL.fullmatch(label) or label.startswith(LABEL):
        raise UsageError(f"--iso-label {label!r}: use KEY=VALUE (letters, digits, . _ - : / @), "
                         f"not under {LABEL}")
    return label


def explain_engine_failure(cli: str, host: HostTarget, output: str) -> str:
    """One line saying why the engine refused, and what fixes it."""
    detail = " ".join(output.split())[:200]
    lowered = output.lower()
    if "permission denied" in lowered and "socket" in lowered:
        return (f"not allowed to talk to the {cli} engine on {host.label}: run as root, "
                f"or with ?sudo=true in the --iso-host URL ({detail})")
    if ("cannot connect" in lowered or "is the docker daemon running" in lowered
            or "connection refused" in lowered or "no such file or directory" in lowered
            and ".sock" in lowered):
        return (f"the {cli} engine on {host.label} does not answer: start it "
                f"(`sudo ci/setup.sh` here, or `systemctl start {cli}`) ({detail})")
    if "not found" in lowered and cli in ("docker", "podman") and "command" in lowered:
        return f"no `{cli}` command on {host.label}: install the engine (`sudo ci/setup.sh`)"
    return f"{cli} on {host.label} failed: {detail}"


@contextlib.contextmanager
def signals_deferred():
    """Hold SIGINT and SIGTERM until the block ends: a container is created or removed
    whole. The engine's CLI, started inside, inherits the mask and finishes its work too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class ManagedContainer:
    """The container the suite starts itself, as in the lesson's `docker run -it busybox`:
    the image's shell as PID 1 with a tty, labelled as the suite's, removed at the end.
    """

    def __init__(self, host: HostTarget, engine: str, image: str, session: str,
                 labels: tuple[str, ...] = ()):
        self.host, self.engine, self.image, self.session = host, engine, image, session
        self.labels = labels
        self.name = f"isoverify-{session}"
        self.target: ContainerTarget | None = None

    def start(self) -> ContainerTarget:
        with signals_deferred():  # an interrupted `run` could create a container no one removes
            return self._start()

    def _start(self) -> ContainerTarget:
        command = (
            f"{self.engine} run -d -i -t --name {self.name} "
            f"--label {LABEL}=managed --label {SESSION_LABEL}={self.session} "
            + "".join(f"--label {shlex.quote(label)} " for label in self.labels)
            + f"{shlex.quote(self.image)} 2>&1"
        )
        rc, out, _ = self.host.run(command)
        if rc != 0:
            self.remove()
            raise TargetError(self._explain(out.decode("utf-8", "replace")))
        self.target = ContainerTarget(self.host, self.engine, self.name,
                                      label=f"{self.image} (managed)")
        return self.target

    def remove(self) -> None:
        """Remove the container whether or not `start` finished: by its unique name.

        A host that cannot be reached any more cannot be cleaned either: nothing to raise.
        """
        try:
            with signals_deferred():
                self.host.run(f"{self.engine} rm -f {self.name} >/dev/null 2>&1")
        except TargetError:
            pass

    def _explain(self, output: str) -> str:
        lowered = output.lower()
        if "unable to find image" in lowered or "no such image" in lowered:
            return (f"image {self.image} is not on {self.host.label} and no registry answered: "
                    "build busybox offline with `sudo ci/setup.sh`, or pass --iso-image")
        if "no command specified" in lowered or "executable file not found" in lowered:
            return (f"image {self.image} has no shell to start as in the lesson's `docker run -it`; "
                    "pass an image with /bin/sh as --iso-image, or name a running container")
        return explain_engine_failure(self.engine, self.host, output)
