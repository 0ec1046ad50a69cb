"""The lesson's six properties: what `ls /`, `df -h`, `ps aux`, `ip link`,
`hostname` and `id` show in the two terminals, judged from the kernel."""

import os

from isoverify.judge.checks.base import (
    Evidence,
    Finding,
    inside,
    inside_value,
    kernel,
    kernel_or_inside,
    mount_line,
    namespaces,
    own_root,
    shown,
    status,
    value,
)
from isoverify.model import ContainerFacts, HostFacts, root_mount
from isoverify.untrusted import one_line

COPY_ON_WRITE = {"overlay", "fuse.fuse-overlayfs", "aufs", "btrfs", "zfs"}


def _basename(command: str) -> str:
    first = command.split()[0] if command.split() else ""
    return os.path.basename(first.strip("[]{}"))


def _same_command(shown: str, entry: str) -> bool:
    """Whether `ps` inside shows the entrypoint the kernel names: the same program, or its
    command line (busybox shows a script as `{run.sh} /bin/sh /run.sh`)."""
    return _basename(shown) == _basename(entry) or " ".join(entry.split())[:60] in " ".join(shown.split())


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
        (inside(ctr, "ls"), kernel(ctr, f"$ stat -L -c %d:%i /proc/{ctr.pid}/root", c)),
    )


def check_rootfs(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h = root_mount(value(host["mounts"], "the host's mounts"))
    c = own_root(ctr)
    copy_on_write = c.fstype in COPY_ON_WRITE
    own_device = c.major_minor != h.major_minor
    holds = copy_on_write and own_device
    if holds:
        summary = f"the container's / is its own copy-on-write mount ({c.fstype}), not the host's {h.fstype} root"
    elif not own_device:
        summary = f"the container's / is on the host's root device {h.major_minor} ({c.fstype} {c.source})"
    else:
        summary = f"the container's / is a {c.fstype} mount, not a copy-on-write one"
    return Finding(
        holds, one_line(summary, 300),
        (shown(host["df"]), Evidence("/ in /proc/self/mountinfo", mount_line(h))),
        (inside(ctr, "df"), kernel(ctr, f"/ in /proc/{ctr.pid}/mountinfo", mount_line(c))),
    )


def check_pid(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """The lesson's "PID 1 is sh": its entrypoint is PID 1 of a PID namespace of its own; for a pod's
    container, its own or its pod's sandbox's (shareProcessNamespace), which is not the node's."""
    h, c, h_ev, c_ev = namespaces("pid", host, ctr)
    nspid = status(ctr).get("NSpid", "").split()
    own_pid1 = len(nspid) > 1 and nspid[-1] == "1"
    entry = value(ctr.outside["cmdline"], "the container's command line")
    members = value(ctr.outside["visible"], "the processes of the container's PID namespace")
    problems = []
    if h == c:
        problems.append(f"it shares the host's PID namespace {h}")
    pod = ctr.target.pod
    sandbox_pid = pod.sandbox_pid if pod is not None else None
    sandbox_pid1 = sandbox_pid is not None and h != c and any(
        process.inner_pid == 1 and process.pid == sandbox_pid for process in members["processes"])
    if not own_pid1 and not sandbox_pid1:
        problems.append(f"its main process is not PID 1 of a namespace of its own (NSpid {' '.join(nspid) or '?'})"
                        + (", nor is its pod's sandbox" if pod is not None else ""))
    # What the container's own ps says (through exec) must agree with the kernel; the
    # host's reading names PID 1 by its command name, which for a script is not argv[0].
    seen = None if ctr.inside_by_host else inside_value(ctr, "ps")
    if seen is not None:
        first = next((p for p in seen if p.pid == 1), None)
        if first is None or not _same_command(first.command, entry):
            problems.append(f"inside, PID 1 is {one_line(first.command, 60) if first else 'missing'!s}, "
                            f"not the container's entrypoint {one_line(entry, 60)}")
    holds = not problems
    if sandbox_pid1:
        pid1 = (f"PID 1 is its pod's sandbox (process {sandbox_pid}) in the PID namespace its pod shares, "
                "not the node's")
    else:
        pid1 = f"PID 1 is the container's own entrypoint ({one_line(entry, 60)}) in a PID namespace of its own"
    summary = f"{pid1}, where the host sees {members['total']} process(es)" if holds else "; ".join(problems)
    named = "\n".join(f"{pid} {comm}" for pid, comm in members["named"])
    return Finding(
        holds, summary,
        (h_ev, Evidence("processes in the host's PID namespace",
                        str(value(host["processes"], "the host's process count")))),
        (inside(ctr, "ps"), c_ev, kernel(ctr, f"NSpid in /proc/{ctr.pid}/status", " ".join(nspid)),
         kernel(ctr, f"processes in the container's PID namespace ({members['total']})", named)),
    )


def check_net(host: HostFacts, ctr: ContainerFacts) -> Finding:
    h, c, h_ev, c_ev = namespaces("net", host, ctr)
    host_links = value(host["links"], "the host's links")
    links = kernel_or_inside(ctr, "links", "its links")
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
        (inside(ctr, "links"), shown(ctr.outside["links"]), c_ev),
    )


def check_uts(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """The namespace decides: in one of its own, a container that carries the host's name
    (Docker gives --net=host containers the host's) still cannot rename the host."""
    h, c, h_ev, c_ev = namespaces("uts", host, ctr)
    host_name = value(host["hostname"], "the host's hostname")
    name = kernel_or_inside(ctr, "hostname", "its hostname")
    same_name = " (the same name as the host's)" if name == host_name else ""
    summary = (f"its own hostname {one_line(name, 64)}{same_name} in a UTS namespace of its own" if h != c
               else f"it shares the host's UTS namespace {h}: its hostname is the host's, {one_line(name, 64)}")
    return Finding(
        h != c, summary,
        (shown(host["hostname"]), h_ev),
        (inside(ctr, "hostname"), shown(ctr.outside["hostname"]), c_ev),
    )


# Host uids up to this one belong to the system's own accounts (login.defs' SYS_UID_MAX).
SYSTEM_UID_MAX = 999


def check_user(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Root inside must be an ordinary host uid: a user namespace that maps its root to host
    root (or to a system account) isolates nothing."""
    h, c, h_ev, c_ev = namespaces("user", host, ctr)
    uids = status(ctr).get("Uid", "?")
    host_uid = uids.split()[0]
    uid_map = value(ctr.outside["uid_map"], "the container's uid_map")
    seen = inside_value(ctr, "id")
    inside_uid = seen["uid"] if seen else None
    who = f"uid {inside_uid} inside" if inside_uid is not None else "its main process"
    root_outside = next((o for i, o, n in uid_map if i <= 0 < i + n), None)
    holds = h != c and (root_outside is None or root_outside > SYSTEM_UID_MAX)
    if h != c and root_outside == 0:
        summary = "a user namespace of its own, but it maps its root to host uid 0: root inside IS the host's root"
    elif h != c and root_outside is not None and root_outside <= SYSTEM_UID_MAX:
        summary = (f"a user namespace of its own, but root inside is host uid {root_outside}, "
                   f"a system account's (uid <= {SYSTEM_UID_MAX})")
    elif h != c:
        summary = (f"a user namespace of its own: root inside is host uid {root_outside}, not the host's root"
                   if root_outside is not None else "a user namespace of its own, with no mapping for root")
    elif host_uid == "0":
        summary = f"root inside IS the host's root: {who} is host uid 0, in the host's user namespace {h}"
    else:
        summary = (f"{who} runs as host uid {host_uid}, not root, but in the host's user namespace {h}: "
                   "no user namespace")
    maps = "\n".join(" ".join(str(x) for x in r) for r in uid_map)
    return Finding(
        holds, summary,
        (shown(host["id"]), h_ev, shown(host["uid_map"])),
        (inside(ctr, "id"), c_ev, kernel(ctr, f"$ cat /proc/{ctr.pid}/uid_map", maps),
         kernel(ctr, f"Uid in /proc/{ctr.pid}/status", uids)),
    )
