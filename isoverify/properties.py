"""Isolation properties: pure functions of host facts × container facts.

Each check returns a Finding: whether the property holds, one sentence
saying why, and the evidence of both sides — the host's on the left, the
container's on the right, as in the lesson's two terminals. A property
holds only on the kernel's word, read on the host; what the container
says about itself is shown, and can make a property fail, never pass.
"""

import os
from collections.abc import Callable
from dataclasses import dataclass

from .facts import Reading, root_mount
from .observe import ContainerFacts, HostFacts
from .untrusted import bounded, one_line

COPY_ON_WRITE = {"overlay", "fuse.fuse-overlayfs", "aufs", "btrfs", "zfs"}


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


@dataclass(frozen=True)
class Property:
    id: str
    title: str
    lesson: str  # the lesson's command that shows it
    controls: tuple[str, ...]
    check: Callable[[HostFacts, ContainerFacts], Finding]


# -- evidence helpers ------------------------------------------------------

def shown(reading: Reading | None, why_missing: str = "not read") -> Evidence:
    if reading is None:
        return Evidence("(no view)", why_missing)
    return Evidence(f"$ {reading.label}", bounded(reading.output.rstrip("\n")) or "(no output)")


def inside(ctr: ContainerFacts, name: str) -> Evidence:
    """The container's own view of `name`, or why there is none."""
    return shown(ctr.inside[name] if ctr.inside else None, ctr.inside_error)


def value(reading: Reading, what: str):
    if not reading.readable:
        raise Unobservable(f"could not read {what} (`{reading.label}`: "
                           f"{one_line(reading.output) or f'exit status {reading.rc}'})")
    return reading.value


def inside_value(ctr: ContainerFacts, name: str):
    """The container's own word on `name`, or None when it gave none."""
    if ctr.inside is None or not ctr.inside[name].readable:
        return None
    return ctr.inside[name].value


def namespaces(kind: str, host: HostFacts, ctr: ContainerFacts) -> tuple[str, str, Evidence, Evidence]:
    h = value(host["ns"], "the host's namespaces").get(kind)
    c = value(ctr.outside["ns"], "the container's namespaces").get(kind)
    if h is None or c is None:
        raise Unobservable(f"the kernel does not show a {kind} namespace for both sides")
    return (h, c, Evidence(f"$ readlink /proc/$$/ns/{kind}", h),
            Evidence(f"$ readlink /proc/{ctr.pid}/ns/{kind}   (on the host)", c))


def _basename(command: str) -> str:
    first = command.split()[0] if command.split() else ""
    return os.path.basename(first.strip("[]{}"))


# -- the six properties of the lesson ---------------------------------------

def check_root(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h = value(host["root_id"], "the host's / identity")
    c = value(ctr.outside["root_id"], "the container's / identity")
    holds = h != c
    summary = (f"the container's / is another directory than the host's / "
               f"(device:inode {c} against {h})" if holds else
               f"the container's / is the host's / itself (device:inode {h} on both sides)")
    return Finding(
        holds, summary,
        (shown(host["ls"]), Evidence("$ stat -L -c %d:%i /", h)),
        (inside(ctr, "ls"), Evidence(f"$ stat -L -c %d:%i /proc/{ctr.pid}/root   (on the host)", c)),
    )


def check_rootfs(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h = root_mount(value(host["mounts"], "the host's mounts"))
    c = root_mount(value(ctr.outside["mounts"], "the container's mounts"))
    copy_on_write = c.fstype in COPY_ON_WRITE
    own_device = c.major_minor != h.major_minor
    holds = copy_on_write and own_device
    if holds:
        summary = f"the container's / is its own copy-on-write mount ({c.fstype}), not the host's {h.fstype} root"
    elif not own_device:
        summary = f"the container's / is on the host's root device {h.major_minor} ({c.fstype} {c.source})"
    else:
        summary = f"the container's / is a {c.fstype} mount, not a copy-on-write one"
    line = "{0.major_minor} {0.root} {0.mount_point} - {0.fstype} {0.source}"
    return Finding(
        holds, one_line(summary, 300),
        (shown(host["df"]), Evidence("/ in /proc/$$/mountinfo", line.format(h))),
        (inside(ctr, "df"), Evidence(f"/ in /proc/{ctr.pid}/mountinfo   (on the host)", line.format(c))),
    )


def check_pid(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h, c, h_ev, c_ev = namespaces("pid", host, ctr)
    status = value(ctr.outside["status"], "the container's process status")
    nspid = status.get("NSpid", "").split()
    own_pid1 = len(nspid) > 1 and nspid[-1] == "1"
    entry = value(ctr.outside["cmdline"], "the container's command line")
    members = value(ctr.outside["members"], "the processes of the container's PID namespace")
    problems = []
    if h == c:
        problems.append(f"it shares the host's PID namespace {h}")
    if not own_pid1:
        problems.append(f"its main process is not PID 1 of a namespace of its own (NSpid {' '.join(nspid) or '?'})")
    seen = inside_value(ctr, "ps")
    if seen is not None:
        first = next((p for p in seen if p.pid == 1), None)
        if first is None or _basename(first.command) != _basename(entry):
            problems.append(f"inside, PID 1 is {one_line(first.command, 60) if first else 'missing'!s}, "
                            f"not the container's entrypoint {one_line(entry, 60)}")
    holds = not problems
    summary = (f"PID 1 is the container's own entrypoint ({one_line(entry, 60)}) in a PID namespace of "
               f"its own, where the host sees {members['total']} process(es)" if holds else "; ".join(problems))
    named = "\n".join(f"{pid} {comm}" for pid, comm in members["named"])
    return Finding(
        holds, summary,
        (h_ev, Evidence("processes in the host's PID namespace", str(value(host["processes"], "the host's process count")))),
        (inside(ctr, "ps"), c_ev, Evidence(f"NSpid of {ctr.pid} (on the host)", " ".join(nspid)),
         Evidence(f"processes in the container's PID namespace (on the host: {members['total']})", bounded(named))),
    )


def check_net(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h, c, h_ev, c_ev = namespaces("net", host, ctr)
    host_links = value(host["links"], "the host's links")
    kernel_links = ctr.outside["links"]
    links = kernel_links.value if kernel_links.readable else inside_value(ctr, "links")
    if links is None:
        raise Unobservable("neither the host (nsenter -n ip link) nor the container listed its links")
    host_ids = {(link.name, link.mac) for link in host_links if not link.loopback}
    views = [links] + ([inside_value(ctr, "links")] if inside_value(ctr, "links") else [])
    shared = sorted({link.name for view in views for link in view
                     if not link.loopback and (link.name, link.mac) in host_ids})
    problems = []
    if h == c:
        problems.append(f"it shares the host's network namespace {h}")
    if shared:
        problems.append("the host's own interfaces are visible inside: " + one_line(", ".join(shared), 120))
    if len(links) >= len(host_links):
        problems.append(f"it sees {len(links)} links, no fewer than the host's {len(host_links)}")
    names = ", ".join(link.name for link in links)
    summary = (f"a network namespace of its own with {len(links)} link(s) ({one_line(names, 80)}) "
               f"against the host's {len(host_links)}, none of them the host's" if not problems
               else "; ".join(problems))
    return Finding(
        not problems, summary,
        (shown(host["links"]), h_ev),
        (inside(ctr, "links"), shown(kernel_links), c_ev),
    )


def check_uts(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h, c, h_ev, c_ev = namespaces("uts", host, ctr)
    host_name = value(host["hostname"], "the host's hostname")
    kernel_name = ctr.outside["hostname"]
    name = kernel_name.value if kernel_name.readable else inside_value(ctr, "hostname")
    if name is None:
        raise Unobservable("neither the host (nsenter -u hostname) nor the container told its hostname")
    problems = []
    if h == c:
        problems.append(f"it shares the host's UTS namespace {h}")
    if name == host_name:
        problems.append(f"its hostname is the host's, {one_line(name, 64)}")
    summary = (f"its own hostname {one_line(name, 64)} in a UTS namespace of its own"
               if not problems else "; ".join(problems))
    return Finding(
        not problems, summary,
        (shown(host["hostname"]), h_ev),
        (inside(ctr, "hostname"), shown(kernel_name), c_ev),
    )


def check_user(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h, c, h_ev, c_ev = namespaces("user", host, ctr)
    status = value(ctr.outside["status"], "the container's process status")
    host_uid = status.get("Uid", "?").split()[0]
    uid_map = value(ctr.outside["uid_map"], "the container's uid_map")
    seen = inside_value(ctr, "id")
    inside_uid = seen["uid"] if seen else None
    who = f"uid {inside_uid} inside" if inside_uid is not None else "its main process"
    if h != c:
        outside = next((o for i, o, n in uid_map if i <= 0 < i + n), None)
        summary = (f"a user namespace of its own: root inside is host uid {outside}, not the host's root"
                   if outside is not None else "a user namespace of its own, with no mapping for root")
    elif host_uid == "0":
        summary = f"root inside IS the host's root: {who} is host uid 0, in the host's user namespace {h}"
    else:
        summary = (f"{who} runs as host uid {host_uid}, not root, but in the host's user namespace {h}: "
                   "no user namespace")
    maps = "\n".join(" ".join(str(x) for x in r) for r in uid_map)
    return Finding(
        h != c, summary,
        (shown(host["id"]), h_ev, shown(host["uid_map"])),
        (inside(ctr, "id"), c_ev, Evidence(f"$ cat /proc/{ctr.pid}/uid_map   (on the host)", maps),
         Evidence(f"Uid of {ctr.pid} in /proc/{ctr.pid}/status (on the host)", status.get("Uid", "?"))),
    )


# -- the catalogue -----------------------------------------------------------

CIS = "CIS Docker Benchmark v1.6.0"

CATALOGUE: tuple[Property, ...] = (
    Property("root", "The container's / is not the host's /", "ls /",
             (f"{CIS} 5.6", "NIST SP 800-190 4.5.4", "Pod Security Standards: hostPath volumes"),
             check_root),
    Property("rootfs", "The container's / is a copy-on-write mount of its own", "df -h",
             (f"{CIS} 5.6", "NIST SP 800-190 4.5.4"), check_rootfs),
    Property("pid", "Its own PID namespace, with its entrypoint as PID 1", "ps aux",
             (f"{CIS} 5.16", "NIST SP 800-190 4.4.3", "Pod Security Standards: hostPID"), check_pid),
    Property("net", "Its own network namespace, none of the host's interfaces", "ip link",
             (f"{CIS} 5.10", "NIST SP 800-190 4.4.2", "Pod Security Standards: hostNetwork"), check_net),
    Property("uts", "Its own UTS namespace and hostname", "hostname",
             (f"{CIS} 5.21", "NIST SP 800-190 4.4.3"), check_uts),
    Property("user", "Root inside is not the host's root (a user namespace)", "id",
             (f"{CIS} 5.31", "NIST SP 800-190 4.4.3", "Kubernetes: hostUsers"), check_user),
)

BY_ID = {prop.id: prop for prop in CATALOGUE}

# -- profiles and verdicts -----------------------------------------------------

# Which properties each profile enforces; the others still run, as advisories.
PROFILES = {
    "seed": ("root", "rootfs", "pid", "net", "uts"),
}
DEFAULT_PROFILE = "seed"

PASS, FAIL, ADVISORY, ERROR = "pass", "fail", "advisory", "error"


@dataclass(frozen=True, repr=False)
class Verdict:
    """A property judged on one container: the record every report is made from."""

    property: Property
    target: str
    status: str
    enforced: bool
    summary: str
    host: tuple[Evidence, ...] = ()
    container: tuple[Evidence, ...] = ()

    def __repr__(self):  # tracebacks show it: keep the evidence out
        return f"<Verdict {self.property.id} on {self.target}: {self.status}>"

    def as_record(self) -> dict:
        return {
            "target": self.target,
            "property": self.property.id,
            "title": self.property.title,
            "verdict": self.status,
            "enforced": self.enforced,
            "summary": self.summary,
            "controls": list(self.property.controls),
            "evidence": {
                side: [{"label": e.label, "text": e.text} for e in evidence]
                for side, evidence in (("host", self.host), ("container", self.container))
            },
        }


def judge(prop: Property, target: str, enforced: bool, host: HostFacts, ctr: ContainerFacts) -> Verdict:
    try:
        finding = prop.check(host, ctr)
    except (Unobservable, ValueError) as exc:
        return Verdict(prop, target, ERROR, enforced, str(exc))
    status = PASS if finding.holds else FAIL if enforced else ADVISORY
    return Verdict(prop, target, status, enforced, finding.summary, finding.host, finding.container)
