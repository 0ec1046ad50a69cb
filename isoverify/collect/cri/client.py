"""What a node's CRI runtime (containerd, CRI-O) says about the pods it runs.

It speaks k8s.io/cri-api `runtime.v1` over the runtime's unix socket, as a
kubelet does, and asks for nothing that needs an API server. What it returns
is the runtime's word, in two kinds:

- identity, which the suite may act on: sandbox and container IDs, states,
  timestamps and PIDs, as the runtime assigned them;
- the pod author's words, shown and never trusted for identity: pod and
  container names, namespaces, labels and annotations (a pod may name itself
  after another), and the declared OCI spec, which is what was asked for, not
  what the kernel gave (the kernel's view is read elsewhere, from the PIDs).

Every call has a deadline and every answer a size bound, so a runtime that
hangs, a socket that is not a runtime and a node with thousands of pods each
end in one `CriError` line that names the fix.
"""

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

import grpc

from isoverify.collect.cri import api_pb2 as api
from isoverify.collect.cri import api_pb2_grpc as api_grpc
from isoverify.untrusted import one_line

# Where the runtimes listen by default, in the order a `cri://*` looks.
DEFAULT_SOCKETS = ("/run/containerd/containerd.sock", "/var/run/crio/crio.sock")
CALL_SECONDS = 5.0
# One list answer larger than this is refused rather than read: about 20,000
# containers with the labels and annotations a kubelet sets.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
# Each container read costs one ContainerStatus call and a sandbox one more.
MAX_CONTAINERS = 2000

RUNNING = "running"
EXITED = "exited"
_STATES = {api.CONTAINER_CREATED: "created", api.CONTAINER_RUNNING: RUNNING,
           api.CONTAINER_EXITED: EXITED, api.CONTAINER_UNKNOWN: "unknown"}


class CriError(Exception):
    """The runtime could not be asked or did not answer: one line naming the fix."""


@dataclass(frozen=True)
class DeclaredSpec:
    """The OCI runtime spec the runtime holds for a container: what was asked for.

    Capabilities map each set (bounding, effective, permitted, inheritable,
    ambient) to its names; `seccomp` is None when no filter was declared, else
    its default action and how many syscall rules it has; namespaces map each
    type to the path it joins ("" for a new one).
    """

    capabilities: dict[str, frozenset[str]]
    seccomp: dict | None
    apparmor_profile: str
    selinux_label: str
    no_new_privileges: bool
    namespaces: dict[str, str]
    mounts: tuple[dict, ...]
    uid: int | None
    gid: int | None
    additional_gids: tuple[int, ...]
    readonly_rootfs: bool
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    raw: dict = field(repr=False, compare=False)

    def describe(self) -> str:
        """What it asks for that a verdict weighs, a line each, for evidence."""
        seccomp = (f"filtered (default {self.seccomp['defaultAction']}, {self.seccomp['syscall_rules']} rules)"
                   if self.seccomp else "none (unconfined)")
        joined = ", ".join(f"{kind} {'new' if not path else 'joins ' + path}" for kind, path in
                           sorted(self.namespaces.items()))
        return "\n".join(one_line(line, 2000) for line in (
            f"process.capabilities.bounding: {' '.join(sorted(self.capabilities['bounding'])) or '(none)'}",
            f"linux.seccomp: {seccomp}",
            f"process.noNewPrivileges: {str(self.no_new_privileges).lower()}",
            f"linux.namespaces: {joined} (any other: the runtime's own, the node's)",
            f"process.user: uid {_or_unknown(self.uid)} gid {_or_unknown(self.gid)}",
            f"root.readonly: {str(self.readonly_rootfs).lower()}",
            f"process.apparmorProfile: {self.apparmor_profile or '(not set)'}",
            f"process.selinuxLabel: {self.selinux_label or '(not set)'}",
        ))


# The CRI's SecurityProfile.ProfileType by number, as the verbose config holds it (0 is left out).
_PROFILE_TYPES = {0: "RuntimeDefault", 1: "Unconfined", 2: "Localhost"}


@dataclass(frozen=True)
class DeclaredConfig:
    """What the kubelet asked the runtime for in CRI terms: the container's ContainerConfig
    and its sandbox's PodSandboxConfig (from the verbose statuses). It holds what a pod
    declares and no kernel view shows: the host ports, the sysctls, and whether a seccomp
    or AppArmor profile was named Unconfined or left unset.

    Profiles read "" when none was given, else the CRI's profile type; SELinux options
    map user, role, type and level to what was given; ports read "HOSTPORT/PROTOCOL".
    """

    seccomp: str
    apparmor: str
    selinux: dict[str, str]
    added_capabilities: tuple[str, ...]
    host_ports: tuple[str, ...]
    sysctls: dict[str, str]


@dataclass(frozen=True)
class PodContainer:
    """One container of one pod sandbox, as the runtime reports it."""

    runtime_name: str
    runtime_version: str
    sandbox_id: str
    sandbox_pid: int
    pod_uid: str
    pod_namespace: str
    pod_name: str
    pod_labels: dict[str, str]
    container_id: str
    container_name: str
    state: str
    attempt: int
    exit_code: int
    created_at: int
    finished_at: int
    # Ran to completion before the pod's other containers were created, as a
    # kubelet runs init containers (see `_ran_first`).
    init: bool
    pid: int
    spec: DeclaredSpec | None
    labels: dict[str, str]
    annotations: dict[str, str]
    # Why the verbose info could not be read, when it could not.
    info_error: str = ""
    config: DeclaredConfig | None = None

    @property
    def shown(self) -> str:
        """namespace/pod/container as the pod author named them, safe to print."""
        return one_line(f"{self.pod_namespace}/{self.pod_name}/{self.container_name}")

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


def find_socket(candidates: tuple[str, ...] = DEFAULT_SOCKETS) -> str:
    """The first candidate that is a unix socket, or a CriError naming them all."""
    for path in candidates:
        if _is_socket(path):
            return path
    raise CriError(f"no CRI runtime socket at {' or '.join(candidates)}: "
                   "start containerd or CRI-O, or name the socket with ?socket=PATH")


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


class CriClient:
    """A CRI runtime behind a unix socket; use as a context manager."""

    def __init__(self, socket_path: str, call_seconds: float = CALL_SECONDS,
                 max_answer_bytes: int = MAX_ANSWER_BYTES, shown: str = ""):
        """`shown` names the socket in errors where `socket_path` is a forward of it (a node's, over ssh)."""
        if not os.path.exists(socket_path):
            raise CriError(f"no CRI runtime socket at {socket_path}: start the runtime, "
                           "or name its socket with ?socket=PATH")
        if not _is_socket(socket_path):
            raise CriError(f"{socket_path} is not a unix socket: name the CRI runtime's socket "
                           "with ?socket=PATH (e.g. /run/containerd/containerd.sock)")
        self.socket_path, self.shown = socket_path, shown or socket_path
        self.call_seconds = call_seconds
        self.max_answer_bytes = max_answer_bytes
        self._channel = grpc.insecure_channel(f"unix://{socket_path}", options=[
            ("grpc.max_receive_message_length", max_answer_bytes),
            ("grpc.enable_retries", 0),
        ])
        self.runtime = api_grpc.RuntimeServiceStub(self._channel)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def call(self, name: str, request):
        """One RPC by name, within the deadline; gRPC's failures become CriErrors."""
        try:
            return getattr(self.runtime, name)(request, timeout=self.call_seconds)
        except grpc.RpcError as error:
            raise CriError(self._explain(name, error)) from None

    def _explain(self, name: str, error: grpc.RpcError) -> str:
        code, details = error.code(), one_line(error.details() or "")
        where = f"the CRI runtime at {self.shown}"
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return (f"{where} did not answer {name} within {self.call_seconds:g} s: it hangs, is stopped "
                    "or overloaded, or the socket is not a gRPC server; restart it or name another socket")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return (f"{self.shown} answers gRPC but not the CRI runtime.v1 {name} ({details}): "
                    "enable the runtime's CRI (containerd's cri plugin), or name its CRI socket with ?socket=PATH")
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return (f"{where} answered {name} with more than {self.max_answer_bytes // (1024 * 1024)} MiB "
                    f"({details}): select fewer pods with ?namespace=, ?pod= or ?label=")
        if code == grpc.StatusCode.UNAVAILABLE:
            return (f"{where} is down or does not speak gRPC ({details}): start the runtime, "
                    "or name its CRI socket with ?socket=PATH")
        return f"{where} refused {name}: {code.name} {details}"

    def version(self) -> api.VersionResponse:
        return self.call("Version", api.VersionRequest(version="v1"))

    def pod_containers(self, selected: Callable[[str, str, dict[str, str]], bool] = lambda *_: True,
                       max_containers: int = MAX_CONTAINERS) -> list[PodContainer]:
        """Every container of every ready pod sandbox: running ones and those that exited; and
        those of a sandbox no longer ready whose containers still run (one of them may have
        killed it), judged without it. What a node keeps of pods that stopped is left out.

        Exited containers are kept so that init containers that ran are seen;
        whether one is an init container is decided from the runtime's own
        timestamps, not from its name. Only the pods `selected` by (namespace, name, labels) are
        read, and their containers counted against `max_containers`.
        """
        version = self.version()
        listed_sandboxes = self.call("ListPodSandbox", api.ListPodSandboxRequest()).items
        every = self.call("ListContainers", api.ListContainersRequest()).containers
        running_in = {c.pod_sandbox_id for c in every if c.state == api.CONTAINER_RUNNING}
        sandboxes = [sandbox for sandbox in listed_sandboxes
                     if (sandbox.state == api.SANDBOX_READY or sandbox.id in running_in)
                     and selected(sandbox.metadata.namespace, sandbox.metadata.name, dict(sandbox.labels))]
        chosen_ids = {sandbox.id for sandbox in sandboxes}
        listed = [c for c in every if c.pod_sandbox_id in chosen_ids]
        if len(listed) > max_containers:
            raise CriError(f"{len(listed)} containers selected in running pods at {self.shown}, more than the "
                           f"{max_containers} read in one run: select fewer with ?namespace=, ?pod= or ?label=")
        # Grouped once: a node's thousands of containers are never matched against each sandbox.
        by_sandbox: dict[str, list] = {}
        for container in listed:
            by_sandbox.setdefault(container.pod_sandbox_id, []).append(container)
        sandbox_infos = {s.id: self._sandbox_info(s.id) for s in sandboxes if s.id in by_sandbox}
        answers = {c.id: self.call("ContainerStatus", api.ContainerStatusRequest(container_id=c.id, verbose=True))
                   for c in listed}
        found = []
        for sandbox in sandboxes:
            ones = [answers[container.id] for container in by_sandbox.get(sandbox.id, [])]
            inits = _ran_first([answer.status for answer in ones])
            found += [_pod_container(version, sandbox, sandbox_infos[sandbox.id], answer, answer.status.id in inits)
                      for answer in ones]
        return found

    def _sandbox_info(self, sandbox_id: str) -> dict:
        answer = self.call("PodSandboxStatus", api.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=True))
        info, _ = parse_info(answer.info)
        return info


def parse_info(info) -> tuple[dict, str]:
    """The verbose `info` map's JSON document (containerd and CRI-O put it under "info").

    Returns the document and "" or {} and why it could not be read.
    """
    text = info.get("info", "")
    if not text:
        return {}, "the runtime gave no verbose info"
    try:
        document = json.loads(text)
    except ValueError as error:
        return {}, f"the runtime's verbose info is not JSON ({one_line(str(error))})"
    if not isinstance(document, dict):
        return {}, "the runtime's verbose info is not a JSON object"
    return document, ""


def _pid(info: dict) -> int:
    pid = info.get("pid")
    return pid if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 else 0


def _ran_first(statuses: list) -> set[str]:
    """IDs of the sandbox's containers that a kubelet ran as init containers.

    A kubelet creates a pod's containers only after each init container has
    exited with status 0, so an init container is one that exited with 0
    before every container not itself an init container was created. A name
    is never enough to call a container an init container; a name shared with
    a later container (a restart of a regular container) only rules it out.
    """
    ordered = sorted(statuses, key=lambda s: (s.created_at, s.id))
    inits: set[str] = set()
    for index, status in enumerate(ordered):
        later = ordered[index + 1:]
        finished_first = (status.state == api.CONTAINER_EXITED and status.exit_code == 0
                          and status.finished_at > 0
                          and all(status.finished_at <= other.created_at for other in later))
        restarted = any(other.metadata.name == status.metadata.name for other in later)
        if not finished_first or restarted or not later:
            break
        inits.add(status.id)
    return inits


def _pod_container(version, sandbox, sandbox_info: dict, answer, init: bool) -> PodContainer:
    status = answer.status
    info, info_error = parse_info(answer.info)
    config = (declared_config(info["config"], _mapping(sandbox_info.get("config")))
              if isinstance(info.get("config"), dict) else None)
    raw_spec = info.get("runtimeSpec")
    spec = declared_spec(raw_spec) if isinstance(raw_spec, dict) else None
    if not info_error and spec is None:
        info_error = "the runtime's verbose info holds no runtimeSpec"
    return PodContainer(
        runtime_name=version.runtime_name, runtime_version=version.runtime_version,
        sandbox_id=sandbox.id, sandbox_pid=_pid(sandbox_info) if sandbox.state == api.SANDBOX_READY else 0,
        pod_uid=sandbox.metadata.uid, pod_namespace=sandbox.metadata.namespace, pod_name=sandbox.metadata.name,
        pod_labels=dict(sandbox.labels),
        container_id=status.id, container_name=status.metadata.name,
        state=_STATES.get(status.state, "unknown"), attempt=status.metadata.attempt,
        exit_code=status.exit_code, created_at=status.created_at, finished_at=status.finished_at,
        init=init, pid=_pid(info) if status.state == api.CONTAINER_RUNNING else 0, spec=spec,
        labels=dict(status.labels), annotations=dict(status.annotations), info_error=info_error, config=config)


def declared_config(container: dict, sandbox: dict) -> DeclaredConfig:
    """The parts of the CRI configs a Pod Security Standards verdict needs; anything malformed
    reads as absent."""
    context = _mapping(_mapping(container.get("linux")).get("security_context"))
    sandbox_linux = _mapping(sandbox.get("linux"))
    ports = [_mapping(port) for port in _list(sandbox.get("port_mappings"))]
    protocols = {0: "TCP", 1: "UDP", 2: "SCTP"}
    return DeclaredConfig(
        seccomp=_profile(context.get("seccomp"), context.get("seccomp_profile_path")),
        apparmor=_profile(context.get("apparmor"), context.get("apparmor_profile")),
        selinux={key: str(text) for key, text in _mapping(context.get("selinux_options")).items() if text},
        added_capabilities=tuple(_strings(_mapping(context.get("capabilities")).get("add_capabilities"))),
        host_ports=tuple(f"{port['host_port']}/{protocols.get(port.get('protocol', 0), '?')}" for port in ports
                         if _int(port.get("host_port"))),
        sysctls={str(key): str(text) for key, text in _mapping(sandbox_linux.get("sysctls")).items()})


def _profile(profile, legacy_path) -> str:
    """A SecurityProfile's type, or the type a legacy profile path names, or "" when unset."""
    if isinstance(profile, dict):
        return _PROFILE_TYPES.get(profile.get("profile_type", 0), "?")
    if isinstance(legacy_path, str) and legacy_path:
        return {"unconfined": "Unconfined", "runtime/default": "RuntimeDefault",
                "docker/default": "RuntimeDefault"}.get(legacy_path, "Localhost")
    return ""


def declared_spec(spec: dict) -> DeclaredSpec:
    """The parts of an OCI runtime spec a verdict needs; anything malformed reads as absent."""
    process = _mapping(spec.get("process"))
    linux = _mapping(spec.get("linux"))
    user = _mapping(process.get("user"))
    capabilities = _mapping(process.get("capabilities"))
    seccomp = linux.get("seccomp")
    return DeclaredSpec(
        capabilities={name: frozenset(_strings(capabilities.get(name)))
                      for name in ("bounding", "effective", "permitted", "inheritable", "ambient")},
        seccomp=({"defaultAction": str(seccomp.get("defaultAction", "")),
                  "syscall_rules": len(seccomp.get("syscalls") or [])} if isinstance(seccomp, dict) else None),
        apparmor_profile=str(process.get("apparmorProfile", "")),
        selinux_label=str(process.get("selinuxLabel", "")),
        no_new_privileges=process.get("noNewPrivileges") is True,
        namespaces={str(ns.get("type")): str(ns.get("path", "")) for ns in _list(linux.get("namespaces"))
                    if isinstance(ns, dict)},
        mounts=tuple({"destination": str(m.get("destination", "")), "source": str(m.get("source", "")),
                      "type": str(m.get("type", "")), "options": tuple(_strings(m.get("options")))}
                     for m in _list(spec.get("mounts")) if isinstance(m, dict)),
        uid=_int(user.get("uid")), gid=_int(user.get("gid")),
        additional_gids=tuple(g for g in _list(user.get("additionalGids")) if _int(g) is not None),
        readonly_rootfs=_mapping(spec.get("root")).get("readonly") is True,
        masked_paths=tuple(_strings(linux.get("maskedPaths"))),
        readonly_paths=tuple(_strings(linux.get("readonlyPaths"))),
        raw=spec)


def _or_unknown(number: int | None) -> str:
    return "?" if number is None else str(number)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _strings(value) -> list[str]:
    return [item for item in _list(value) if isinstance(item, str)]


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
