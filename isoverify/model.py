"""What collection hands to judgement: the facts a check sees, what one probe read of a
host and of one container on it, and the values its readings are parsed into.

Plain data, importing neither the shell nor pytest: every property, and every check
of your own, is a function of these.
"""

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # how the machines were reached; only named here
    from .collect.targets import ContainerTarget, HostTarget


@dataclass(frozen=True)
class Reading:
    """One fact as read: what ran, what it printed, and what that means."""

    label: str
    output: str
    rc: int
    value: Any  # the parsed fact; None when it could not be read
    error: str = ""  # why it could not be read, where its parser said
    # Why it may not cover every process of its container (they changed while it was read):
    # what it shows stands, but what it does not show proves nothing.
    partial: str = ""

    @property
    def readable(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Mount:
    mount_id: str
    major_minor: str
    root: str
    mount_point: str
    options: str
    propagation: str
    fstype: str
    source: str


@dataclass(frozen=True)
class MountView:
    """The mounts as seen from one root: an anchor's (the root of a mount namespace), or a
    process's that stands elsewhere (chrooted)."""

    kind: str  # "anchor" or "process"
    pid: str
    mounts: tuple[Mount, ...]


def root_mount(mounts: list[Mount]) -> Mount:
    """The mount a process sees at `/`: the last one stacked there."""
    at_root = [m for m in mounts if m.mount_point == "/"]
    if not at_root:
        raise ValueError("nothing mounted at /")
    return at_root[-1]


@dataclass(frozen=True)
class Process:
    pid: int
    user: str
    command: str


@dataclass(frozen=True)
class Link:
    name: str
    kind: str
    mac: str

    @property
    def loopback(self) -> bool:
        return self.kind == "loopback"


@dataclass(frozen=True)
class HostProcess:
    """A process as the host numbers it, with what the kernel says of it in /proc/PID."""

    pid: int
    pid_namespace: int  # the inode of its PID namespace
    inner_pid: int  # its PID in its own PID namespace (the last NSpid)
    uid: int
    name: str


@dataclass(frozen=True)
class Resolution:
    """What the engine calls a container reference: one full ID, none, or several."""

    id: str | None
    candidates: tuple[str, ...] = ()  # the IDs an ambiguous prefix matches


CUT = re.compile(r"…\[cut: \d+ bytes\]\Z")


def cut(text: str) -> bool:
    """Whether a label's key or value was cut where it was read (so it is not the one set)."""
    return CUT.search(text) is not None


@dataclass(frozen=True)
class Listener:
    path: str  # "@name" for an abstract socket, reachable from its network namespace only
    process: str


@dataclass(frozen=True)
class Member:
    """One of a container's other tasks — a process, or a thread of it or of the main one —
    as the kernel shows it to the host: each thread has credentials of its own."""

    pid: str  # its thread ID: for a process's leader, the process ID
    status: dict
    namespaces: dict
    root_id: str
    uid_map: list
    label: str

    @property
    def process(self) -> str:
        """The process it is a thread of (itself, for a leader)."""
        return self.status.get("Tgid") or self.pid

    @property
    def proc(self) -> str:
        """Where the host reads it: /proc/PID, or /proc/PID/task/TID for a thread."""
        return f"/proc/{self.pid}" if self.process == self.pid else f"/proc/{self.process}/task/{self.pid}"


@dataclass(frozen=True)
class CgroupFiles:
    """The limit files of a process's cgroups: `own` those of its own cgroup in each
    hierarchy, `chain` each file's first line in every cgroup from its own up to the root."""

    own: dict[str, list[str]]
    chain: dict[str, list[tuple[str, str]]]


@dataclass(frozen=True)
class Device:
    kind: str  # "c" or "b"
    major: int
    minor: int
    path: str  # as the container names it, non-printable bytes escaped
    on: str = ""  # major:minor of the filesystem holding the node
    root: str = ""  # the PID whose root it was listed from
    uid: int = 0  # its owner and group, as the host numbers them, and its permission bits
    gid: int = 0
    mode: int = 0o600


@dataclass(frozen=True)
class DeviceList:
    nodes: tuple[Device, ...]
    more: int  # nodes beyond those listed


@dataclass(frozen=True)
class HostFacts:
    target: "HostTarget"
    readings: dict[str, Reading]
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getitem__(self, name: str) -> Reading:
        return self.readings[name]

    def derive(self, compute: Callable[["HostFacts"], Any]) -> Any:
        """compute(self), computed once: what every container's checks derive from the host's
        facts alone (its mounts and processes grow with every container)."""
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        return self._derived[compute]


@dataclass(frozen=True)
class ContainerFacts:
    target: "ContainerTarget"
    outside: dict[str, Reading]  # empty: no host can read this container (a pod seen by kubectl)
    inside: dict[str, Reading] | None
    inside_error: str  # why the inside view is missing, or how it was read instead
    declared: dict | None = None  # the engine's inspect document, where there is an engine
    inside_by_host: bool = False  # the inside view was read by the host, not said by the container

    @property
    def pid(self) -> int:
        """The container's main process, as the host numbers it."""
        return self.outside["locate"].value

    def others(self) -> list["ContainerFacts"] | None:
        """The same container, once for each of its other processes and threads: what judging
        one task needs, read of that task (a container is as weak as its weakest);
        None when they could not be found."""
        members = self.outside.get("members")
        if members is None or not members.readable:
            return None
        views = []
        for member in members.value:
            proc = member.proc
            what = f"process {member.pid}" if proc == f"/proc/{member.pid}" else \
                f"thread {member.pid} of process {member.process}"
            readings = {
                "locate": Reading(f"{what} of the container", member.pid, 0, int(member.pid)),
                "status": Reading(f"cat {proc}/status", "", 0, member.status),
                "ns": Reading(f"ls -l {proc}/ns/", "", 0, member.namespaces),
                "root_id": Reading(f"stat -L -c %d:%i {proc}/root/", member.root_id, 0, member.root_id or None),
                "uid_map": Reading(f"cat {proc}/uid_map", "", 0, member.uid_map or None),
                "label": Reading(f"cat {proc}/attr/current", member.label, 0, member.label),
            }
            if "ns" in self.outside:  # its main process's: which this task shares, and so is within its reach
                readings["main_ns"] = self.outside["ns"]
            views.append(replace(self, outside={**self.outside, **readings}, inside=None,
                                 inside_error="another process of the container: its own view is not read"))
        return views
