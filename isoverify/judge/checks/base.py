"""What every property is made of, and the helpers that read facts into evidence.

A check is a pure function of the host's facts and a container's facts. It
returns a Finding: whether the property holds, one sentence saying why, and
the evidence of both sides — the host's on the left, the container's on the
right, as in the lesson's two terminals. A property holds only on the
kernel's word, read on the host; what the container says about itself is
shown, and can make a property fail, never pass.
"""

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from isoverify.judge.guidance import Guidance
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts, Mount, Reading, root_mount
from isoverify.untrusted import bounded, one_line


class Unobservable(Exception):
    """A fact the property needs could not be read; the verdict is an error."""


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: what was run (or read) and what it showed."""

    label: str
    text: str


@dataclass(frozen=True)
class Finding:
    holds: bool
    summary: str
    host: tuple[Evidence, ...]
    container: tuple[Evidence, ...]
    # The specific things found wrong, in a stable vocabulary (a capability name, a host path,
    # a device as "c 10:200"), so that a waiver can accept exactly these and no others.
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Control:
    """A control a property evidences: `framework` names the standard, `id` the item."""

    framework: str
    id: str

    @property
    def marker(self) -> str:
        """The pytest marker selecting every property that evidences this control."""
        short = {"CIS Docker Benchmark v1.6.0": "cis", "NIST SP 800-190": "nist",
                 "Pod Security Standards": "pss", "Kubernetes": "k8s"}[self.framework]
        return f"{short}_{re.sub(r'[^A-Za-z0-9]+', '_', self.id).lower()}"

    def __str__(self):
        return f"{self.framework} {self.id}"


def CIS(item: str) -> Control:  # noqa: N802 - reads like the standard's name
    return Control("CIS Docker Benchmark v1.6.0", item)


def NIST(section: str) -> Control:  # noqa: N802
    return Control("NIST SP 800-190", section)


def PSS(field: str) -> Control:  # noqa: N802
    return Control("Pod Security Standards", field)


@dataclass(frozen=True)
class Property:
    id: str
    title: str
    controls: tuple[Control, ...]
    check: Callable[[HostFacts, ContainerFacts], Finding] | None  # None: a test of the user's own decides
    declared: tuple[str, ...] = ()  # the inspect fields that declare it, shown beside the verdict
    # What each of its other processes must hold too (None: the property is the container's
    # as a whole — its mounts, cgroup, devices): a process the main one forked before it
    # confined itself keeps what the container was started with.
    each_process: Callable[[HostFacts, ContainerFacts], Finding] | None = None
    # The profiles that enforce a property of the user's own; the catalogue's are in PROFILES.
    enforced_in: tuple[str, ...] | None = None
    guidance: Guidance | None = None  # a property of the user's own may bring one; the catalogue's are in guidance.py


# -- reading facts into evidence ----------------------------------------------

def shown(reading: Reading | None, why_missing: str = "not read") -> Evidence:
    if reading is None:
        return Evidence("(no view)", why_missing)
    return Evidence(f"$ {reading.label}", bounded(reading.output.rstrip("\n")) or "(no output)")


def kernel(ctr: ContainerFacts, label: str, text: str) -> Evidence:
    """Evidence read on the host about the container: marked so."""
    return Evidence(f"{label}   (on the host)", bounded(text) or "(none)")


def inside(ctr: ContainerFacts, name: str) -> Evidence:
    """The container's own view of `name`, or why there is none."""
    return shown(ctr.inside[name] if ctr.inside else None, ctr.inside_error)


# What the readings a check used say of the processes they may not cover (Reading.partial):
# a check that holds on them proves nothing of those (see judge).
PARTIAL: ContextVar[list[str] | None] = ContextVar("partial", default=None)


def value(reading: Reading, what: str):
    if not reading.readable:
        why = reading.error or one_line(reading.output) or f"exit status {reading.rc}"
        raise Unobservable(f"could not read {what} (`{reading.label}`: {one_line(why)})")
    if reading.partial and (used := PARTIAL.get()) is not None:
        used.append(reading.partial)
    return reading.value


def inside_value(ctr: ContainerFacts, name: str):
    """The container's own word on `name`, or None when it gave none."""
    if ctr.inside is None or not ctr.inside[name].readable:
        return None
    return ctr.inside[name].value


def kernel_or_inside(ctr: ContainerFacts, name: str, what: str):
    """`name` as the host's own tools read it in the container's namespaces, else as the
    container says (its word can only ever make the property fail, see each check)."""
    reading = ctr.outside[name]
    found = reading.value if reading.readable else inside_value(ctr, name)
    if found is None:
        raise Unobservable(f"neither the host (`{reading.label}`) nor the container told {what}")
    return found


def namespaces(kind: str, host: HostFacts, ctr: ContainerFacts) -> tuple[str, str, Evidence, Evidence]:
    """The host's and the container's namespace of `kind`, with their evidence."""
    h = value(host["ns"], "the host's namespaces").get(kind)
    c = value(ctr.outside["ns"], "the container's namespaces").get(kind)
    if h is None or c is None:
        raise Unobservable(f"the kernel does not show a {kind} namespace for both sides")
    return (h, c, Evidence(f"$ readlink /proc/2/ns/{kind}  (kthreadd: the host's initial namespaces)", h),
            kernel(ctr, f"$ readlink /proc/{ctr.pid}/ns/{kind}", c))


def status(ctr: ContainerFacts) -> dict[str, str]:
    return value(ctr.outside["status"], "the container's process status")


def yardstick(ctr: ContainerFacts) -> str:
    """Whose defaults its capabilities and filter are measured against: its engine's, or its
    pod's CRI runtime's by the name the runtime gives (not the pod author's); else — a bare
    process, a runtime the project has not tried — Docker's, and the summary names it."""
    pod = ctr.target.pod
    if pod is not None and pod.runtime_name in linux.DEFAULT_CAPABILITIES:
        return pod.runtime_name
    return ctr.target.engine if ctr.target.has_engine else "docker"


def task(ctr: ContainerFacts) -> str:
    """The task judged, as "process PID" or "thread TID of process PID"."""
    process = str((ctr.outside["status"].value or {}).get("Tgid", ctr.pid))
    return f"process {ctr.pid}" if process == str(ctr.pid) else f"thread {ctr.pid} of process {process}"


def mounts(ctr: ContainerFacts) -> list[Mount]:
    """Every mount of every view of it: what any of its processes can reach."""
    return [mount for _, table in mount_views(ctr) for mount in table]


def mount_views(ctr: ContainerFacts) -> list[tuple[str, list[Mount]]]:
    """Its mounts as seen from each root they can be reached from: the root of each of its
    mount namespaces, and the root of each of its processes that stands elsewhere (a
    chroot): paths resolve differently from each, and the container can use them all."""
    views = value(ctr.outside["mounts"], "the container's mounts")
    first = views[0].pid
    return [("" if view.pid == first else
             f"seen from process {view.pid}'s root: " if view.kind == "process" else
             "seen from the root of another of its mount namespaces: ", list(view.mounts))
            for view in views]


def mounts_seen_from(ctr: ContainerFacts, pid: str) -> list[Mount]:
    """The mounts of the view whose root is that of process (or anchor) `pid`."""
    views = value(ctr.outside["mounts"], "the container's mounts")
    return list(next((view.mounts for view in views if view.pid == pid), views[0].mounts))


def own_root(ctr: ContainerFacts) -> Mount:
    """The mount its main process sees at / (it may have chrooted away from the namespace's)."""
    return root_mount(value(ctr.outside["process_mounts"], "its main process's mounts"))


def nearest_mount(all_mounts: list[Mount], path: str) -> Mount | None:
    """The mount that `path` lies on: the last one stacked at its longest mounted prefix."""
    covering = [m for m in all_mounts
                if path == m.mount_point or path.startswith(m.mount_point.rstrip("/") + "/")]
    covering.sort(key=lambda m: len(m.mount_point))  # stable: the last stacked stays last
    return covering[-1] if covering else None


def mount_line(mount: Mount) -> str:
    return (f"{mount.major_minor} {mount.root} {mount.mount_point} {mount.options} "
            f"{mount.propagation or '-'} {mount.fstype} {mount.source}")
