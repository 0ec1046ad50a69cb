"""Every container's readings as the host's kernel shows them: one python3 per host.

    ISOVERIFY_NONCE=N ISOVERIFY_OWN=SCRIPT ISOVERIFY_INSIDE=SCRIPT \\
    python3 -I -S -c PROGRAM SECONDS TIMEOUT CONTAINER_SECONDS LIMIT INSIDE_LIMIT DIRECTORY READINGS \
        ENGINE:ID:PID[:SANDBOX_ID:SANDBOX_PID]...

For the Nth container (ENGINE and ID "-" for a bare process; "cri" and the pod's sandbox for a
pod's container), the readings named in
READINGS (comma-separated: the functions of READERS below, in that order), each
framed as the probe frames a command (isoverify/collect/probe.py) with the nonce, all of
them base64-encoded into the line "N BASE64" of DIRECTORY/views. Each container is
read by a process of its own under a deadline of CONTAINER_SECONDS and cut at LIMIT
bytes: one whose readings hang or flood costs its own verdicts only. One more
container is read at once than the host has CPUs. The nonce comes in the
environment, which the containers cannot read. SECONDS bound all of it (anything
started here ends by then), TIMEOUT one engine exec, and INSIDE_LIMIT the bytes of
what the container says through it.

How it reads a container, and why so: README, "How it is built".

Written for any python3 a host may have (3.6 on): no annotations.
"""
import base64
import ctypes
import fcntl
import json
import os
import re
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWUSER = 0x00020000, 0x04000000, 0x40000000, 0x10000000
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_SECCOMP_GET_FILTER = 17, 0x4206, 0x4207, 0x420C
PR_SET_PDEATHSIG = 1
SIOCGIFHWADDR, ARPHRD_ETHER, ARPHRD_LOOPBACK = 0x8927, 1, 772
LINK_TYPES = {ARPHRD_ETHER: "ether", ARPHRD_LOOPBACK: "loopback", 65534: "none", 65535: "void", 768: "ipip",
              769: "tunnel6", 776: "sit", 778: "gre", 512: "ppp"}  # as `ip link` names them
WAIT_ALL = 0x40000000  # __WALL
MEMBERS_SHOWN, THREADS_SHOWN = 500, 1000
NODES_SHOWN, NAME_BYTES = 200, 512  # device nodes listed, and bytes of each line
BELOW = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC  # a directory, never through a link
LINKS_SHOWN, DESCRIPTORS_SHOWN = 4096, 16384  # beyond, what they would show is unread
BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_QUERY = 13, 15, 16
BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE, BPF_PROG_TYPE_CGROUP_DEVICE = 6, 1, 15
BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
MAX_PROGRAMS, MAX_INSNS = 64, 4096  # as isoverify/devcgroup.py bounds them
STATUS_FIELDS = ("Name", "Tgid", "Uid", "Gid", "NSpid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                 "Seccomp", "Seccomp_filters", "NoNewPrivs")
MARK = "@@isoverify"
ATTEMPTS = 3
READING_LIMIT = 2 * 1024 * 1024  # bytes of one reading: beyond, that reading alone is lost
STOP_SECONDS = 1.0  # how long a seized process may take to stop and hand over its filters
KCMP, KCMP_FILES = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine), 2

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long


class Failed(Exception):
    """A reading that could not be taken: its section says why, with exit status 1."""


class Unsettled(Failed):
    """Its processes changed while it was read: it is read again, up to ATTEMPTS times."""


class TookTooLong(Failed):
    """A reading that did not end within its time: that reading, no other, is lost."""


def took_too_long(signum, frame):
    raise TookTooLong("it did not finish within its time (a process that never answers?)")


def dump(path, errors="replace"):
    with open(path, "rb") as file:
        return file.read().decode("utf-8", errors)


C_ESCAPES = {7: "a", 8: "b", 9: "t", 10: "n", 11: "v", 12: "f", 13: "r", 92: "\\"}


def escaped(name):
    """A name (bytes) as `ls -b` shows it, but one word: blanks, backslashes and bytes that
    are not printable ASCII escaped as C does (octal where C has no letter)."""
    return "".join(chr(b) if 33 <= b < 127 and b != 92 else
                   "\\" + C_ESCAPES[b] if b in C_ESCAPES else "\\%03o" % b for b in name)


def same_file(one, other):
    try:
        first, second = os.stat(one), os.stat(other)
    except OSError:
        return False
    return (first.st_dev, first.st_ino) == (second.st_dev, second.st_ino)


def start_time(pid):
    """When the process started (clock ticks after boot): a reused PID shows another."""
    return dump("/proc/%s/stat" % pid).rsplit(") ", 1)[1].split()[19]


def namespace(pid, kind):
    return os.stat("/proc/%s/ns/%s" % (pid, kind)).st_ino


def cgroup_of(pid):
    """Its cgroup in the pids hierarchy (cgroup v1), else in the unified one (v2)."""
    paths = dict(line.split(":", 2)[1:] for line in dump("/proc/%s/cgroup" % pid).splitlines())
    return ("pids", paths["pids"]) if "pids" in paths else ("", paths.get("", ""))


def host_mounts():
    """The host's mounts: (mount point, filesystem type, super options) of each."""
    found = []
    for line in dump("/proc/self/mountinfo").splitlines():
        fields = line.split()
        dash = fields.index("-")
        found.append((fields[4], fields[dash + 1], fields[-1]))
    return found


def cgroup_mounts():
    """Where the host mounts each cgroup v1 controller the limits are read in, and cgroup v2."""
    found = {}
    for point, kind, options in host_mounts():
        for controller in ("memory", "pids", "cpu", "devices", "freezer"):
            if kind == "cgroup" and controller in options.split(",") and controller not in found:
                found[controller] = point
        if kind == "cgroup2" and "" not in found:
            found[""] = point
    return found


def join(pid, kind):
    """Join `pid`'s namespace `kind` (an unprivileged prober: its user namespace first)."""
    if os.getuid() != 0 and namespace(pid, "user") != namespace("self", "user"):
        enter(pid, "user", CLONE_NEWUSER)
    enter(pid, kind, {"mnt": CLONE_NEWNS, "uts": CLONE_NEWUTS, "net": CLONE_NEWNET}[kind])


def enter(pid, kind, flag):
    fd = os.open("/proc/%s/ns/%s" % (pid, kind), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, flag) != 0:
            raise OSError(ctypes.get_errno(), "cannot join the %s namespace of process %s" % (kind, pid))
    finally:
        os.close(fd)


class Container:
    """One container as it is read: what each reading leaves for the next."""

    def __init__(self, engine, container_id, pid, settings, sandbox=("-", "-")):
        self.engine, self.id, self.pid, self.settings = engine, container_id, pid, settings
        # A pod's container: its pod's sandbox (ID, PID), whose process is judged with its own.
        self.sandbox_id, self.sandbox_pid = sandbox
        self.started = None
        self.members, self.unread = [], 0  # its other tasks: processes, then threads
        self.threads = {}  # those of its members that are threads, not processes: the process of each
        self.started_members = {}  # when each of its other processes started
        self.anchors = {}  # process: the anchor at the root of its mount namespace
        self.views = []  # the PIDs at whose roots its mounts and devices are read
        self.names = {}  # what its main process's UTS and network namespaces are called

    @property
    def root_pid(self):
        return self.anchors.get(self.pid, "-")

    def everyone(self):
        """Its main process and every other task: processes, then threads."""
        return [self.pid] + self.members


# -- the readings, in the order observe.py asks for them -------------------------------------


def locate(container):
    """The PID, once the kernel shows it is the container's; then its other processes and the
    anchors at the roots of their mount namespaces. Prints "PID START ROOT_PID"."""
    if not container.pid.isdigit():
        raise Failed("no process")
    try:
        container.started = start_time(container.pid)
    except (OSError, IndexError):
        raise Failed("no process %s" % container.pid)
    if container.id != "-" and not belongs(container):
        raise Failed("process %s is not container %s's: neither its cgroup nor its parent names it"
                     % (container.pid, container.id))
    if container.sandbox_pid != "-" and not in_cgroup_of(container.sandbox_pid, container.sandbox_id):
        raise Failed("process %s is not the pod's sandbox %s's: its cgroup does not name it"
                     % (container.sandbox_pid, container.sandbox_id))
    members = members_of(container)
    threads = threads_of([container.pid] + members[:MEMBERS_SHOWN])
    container.unread = max(0, len(members) - MEMBERS_SHOWN) + max(0, len(threads) - THREADS_SHOWN)
    container.threads = dict(list(threads.items())[:THREADS_SHOWN])
    container.started_members = started_now(members[:MEMBERS_SHOWN] + list(container.threads))
    container.members = list(container.started_members)
    by_namespace = {}
    for pid in container.everyone():
        try:
            mounts = namespace(pid, "mnt")
            if mounts not in by_namespace:
                by_namespace[mounts], named = anchor_in(pid, container.settings["lifetime"], names=pid == container.pid)
                container.names.update(named)
        except OSError:
            continue  # gone meanwhile, or not to be joined: it has no anchor, and its readings say so
        container.anchors[pid] = by_namespace[mounts]
    return "%s %s %s" % (container.pid, container.started, container.root_pid)


def in_cgroup_of(pid, container_id):
    """The kernel names the ID (a runtime's, 12 hex digits or more) in the process's cgroup path."""
    return re.match("[0-9a-f]{12,}$", container_id) is not None and container_id in dump("/proc/%s/cgroup" % pid)


def belongs(container):
    """The kernel names its ID in its process's cgroup path, or its parent is the engine's
    shim or conmon: a process rooted at the host's / (no container's) naming the ID. A pod's
    container has its cgroup only: its shim is its pod's, and names the sandbox."""
    if in_cgroup_of(container.pid, container.id):
        return True
    if container.engine == "cri":
        return False
    parent = next(line.split()[1] for line in dump("/proc/%s/status" % container.pid).splitlines()
                  if line.startswith("PPid:"))
    if not same_file("/proc/%s/root" % parent, "/proc/self/root"):
        return False
    return container.id in dump("/proc/%s/cmdline" % parent).replace("\0", " ")


def members_of(container):
    """Its other processes as the kernel lists them now: those of its cgroup and the cgroups
    below it, or of its PID namespace for a bare process."""
    hierarchy, path = cgroup_of(container.pid)
    root = container.settings["cgroups"].get(hierarchy)
    if container.id != "-" and container.id in path and root:
        found = []
        for directory, _, _ in os.walk(root + path):  # the host's cgroup filesystem: no links
            try:
                found += dump(directory + "/cgroup.procs").split()
            except OSError:
                continue  # removed meanwhile
    elif namespace(container.pid, "pid") != namespace("self", "pid"):
        own, found = namespace(container.pid, "pid"), []
        for pid in (name for name in os.listdir("/proc") if name.isdigit()):
            try:
                if namespace(pid, "pid") == own:
                    found.append(pid)
            except OSError:
                continue
    else:
        found = []
    if container.sandbox_pid != "-":
        found.append(container.sandbox_pid)
    return [pid for pid in dict.fromkeys(found) if pid != container.pid]


def threads_of(pids):
    """The threads of each of `pids` but its leader, each with its process (a process is all
    its threads)."""
    found = {}
    for pid in pids:
        try:
            found.update((tid, pid) for tid in os.listdir("/proc/%s/task" % pid) if tid != pid)
        except OSError:
            continue  # gone meanwhile
    return found


def started_now(pids):
    """When each of `pids` that still runs started."""
    found = {}
    for pid in pids:
        try:
            found[pid] = start_time(pid)
        except (OSError, IndexError):
            continue
    return found


def anchor_in(target, lifetime, names=False):
    """An anchor in `target`'s mount namespace, once it has joined it: it dies with this
    process, or after `lifetime` seconds. With `names`, it also joins the UTS and network
    namespaces and tells what they are called (see named_here). Returns its PID and that."""
    ready_read, ready_write = os.pipe()
    anchor = os.fork()
    if anchor == 0:
        os.close(ready_read)
        quiet = os.open("/dev/null", os.O_RDWR)  # the host's, opened before joining anything
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        os.closerange(3, ready_write)  # hold no pipe of the caller's open: its reader waits for EOF
        os.closerange(ready_write + 1, 65536)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the reader's handler is not the anchor's
        signal.alarm(lifetime)
        try:
            # opened first: once it has joined, /proc is the container's
            named = {kind: os.open("/proc/%s/ns/%s" % (target, kind), os.O_RDONLY) for kind in ("uts", "net")} \
                if names else {}
            join(target, "mnt")
            joined = True
        except OSError:
            joined = False
        answer = json.dumps(named_here(named) if joined else {})
        os.write(ready_write, (b"1" if joined else b"0") + answer.encode())
        os.close(ready_write)
        while joined:
            signal.pause()
        os._exit(1)
    os.close(ready_write)
    with os.fdopen(ready_read, "rb") as ready:
        said = ready.read(1024 * 1024)
    if not said.startswith(b"1"):
        os.waitpid(anchor, 0)
        raise OSError(0, "cannot join the mount namespace of process %s" % target)
    return str(anchor), json.loads(said[1:].decode())


def named_here(namespaces):
    """What the UTS and network namespaces open as `namespaces` are called, asked of the
    kernel from inside them: the hostname, and "link NAME TYPE ADDRESS" for each link
    (if_nameindex, SIOCGIFHWADDR); each [0, TEXT], or [1, WHY] where it could not be joined."""
    found = {}
    for kind, name, flag in (("uts", "hostname", CLONE_NEWUTS), ("net", "links", CLONE_NEWNET)):
        if kind not in namespaces:
            continue
        if libc.setns(namespaces[kind], flag) != 0:
            found[name] = [1, "cannot join its %s namespace: %s" % (kind, os.strerror(ctypes.get_errno()))]
        else:
            try:
                found[name] = [0, hostname_here() if kind == "uts" else links_here()]
            except Exception as exc:  # the anchor always answers, whatever the namespace holds
                found[name] = [1, "%s: %s" % (type(exc).__name__, exc)]
    return found


def hostname_here():
    """Its name as the kernel holds it: bytes, which a container may make anything but UTF-8."""
    return os.fsencode(os.uname().nodename).decode("utf-8", "replace") + "\n"


def links_here():
    asking = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    shown, every = [], socket.if_nameindex()
    if len(every) > LINKS_SHOWN:
        return "more %d\n" % len(every)  # a container making thousands: unread, never half-read
    for _, name in every:
        raw = os.fsencode(name)  # the kernel's bytes, which a container may make anything but UTF-8
        answer = fcntl.ioctl(asking.fileno(), SIOCGIFHWADDR, struct.pack("16s16x", raw))
        family = struct.unpack_from("H", answer, 16)[0]
        address = ":".join("%02x" % byte for byte in answer[18:24]) if family in (ARPHRD_ETHER, ARPHRD_LOOPBACK) else ""
        shown.append("link %s %s %s\n" % (escaped(raw), LINK_TYPES.get(family, "type-%d" % family), address))
    asking.close()
    return "".join(shown)


def ns(container):
    """readlink /proc/PID/ns/*: the kernel's name (type:[inode]) for each namespace."""
    directory = "/proc/%s/ns" % container.pid
    return "".join("%s -> %s\n" % (name, os.readlink("%s/%s" % (directory, name)))
                   for name in sorted(os.listdir(directory)))


def root_id(container):
    found = os.stat("/proc/%s/root/" % container.pid)
    return "%d:%d" % (found.st_dev, found.st_ino)


def mounts(container):
    """Every view of its mounts, each after a "view KIND PID" line: at the root of each of its
    mount namespaces (an anchor), and at the root of each of its processes that stands
    elsewhere."""
    shown = ["unread %d\n" % container.unread] if container.unread else []
    for anchor in dict.fromkeys(container.anchors.values()):
        container.views.append(anchor)
        shown += ["view anchor %s\n" % anchor, dump("/proc/%s/mountinfo" % anchor)]
    for process in container.everyone():
        anchor = container.anchors.get(process)
        if anchor is None or same_file("/proc/%s/root" % process, "/proc/%s/root" % anchor):
            continue
        if any(same_file("/proc/%s/root" % process, "/proc/%s/root" % view) for view in container.views):
            continue
        container.views.append(process)
        shown += ["view process %s\n" % process, dump("/proc/%s/mountinfo" % process)]
    return "".join(shown)


def process_mounts(container):
    return dump("/proc/%s/mountinfo" % container.pid)


def status(container):
    return dump("/proc/%s/status" % container.pid)


def cmdline(container):
    return dump("/proc/%s/cmdline" % container.pid).replace("\0", " ")


def uid_map(container):
    return dump("/proc/%s/uid_map" % container.pid)


def gid_map(container):
    return dump("/proc/%s/gid_map" % container.pid)


def label(container):
    return label_of(container.pid)


def label_of(pid):
    """Its LSM label: AppArmor's own file first (with LSMs stacked, attr/current is another
    module's), else attr/current (OSError where the kernel runs none)."""
    try:
        return dump("/proc/%s/attr/apparmor/current" % pid)
    except OSError:
        return dump("/proc/%s/attr/current" % pid)


def cgroup(container):
    return dump("/proc/%s/cgroup" % container.pid)


def cgroups(container):
    """The limit files of each of its cgroups and of every cgroup above it up to the
    hierarchy's root (a limit set higher up bounds it too), in the host's cgroup
    filesystem: "own DIR" or "parent DIR", then "FILE VALUE" lines; a limit file a cgroup
    lacks limits nothing."""
    shown = []
    roots = container.settings["cgroups"]
    for line in dump("/proc/%s/cgroup" % container.pid).splitlines():
        _, controllers, path = line.split(":", 2)
        named = controllers.split(",")
        if "memory" in named:
            shown += limits_up(roots.get("memory"), path, ("memory.limit_in_bytes",))
        elif "pids" in named:
            shown += limits_up(roots.get("pids"), path, ("pids.max",))
        elif "cpu" in named:
            shown += limits_up(roots.get("cpu"), path, ("cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"))
        elif "devices" in named and roots.get("devices"):
            shown += ["own %s%s\n" % (roots["devices"], path)] + limit_files(roots["devices"] + path, ("devices.list",))
        elif controllers == "":
            shown += limits_up(roots.get(""), path, ("memory.max", "pids.max", "cpu.max", "cpu.weight"))
    return "".join(shown)


UNSET_MEANS_NOTHING = ("devices.list", "cpu.cfs_period_us", "cpu.weight", "cpu.shares")


def limit_files(directory, files):
    if not os.path.isdir(directory):
        return []
    shown = []
    for name in files:
        try:
            shown += ["%s %s\n" % (name, value) for value in dump("%s/%s" % (directory, name)).splitlines()]
        except OSError:
            if name not in UNSET_MEANS_NOTHING:
                shown.append("%s max\n" % name)
    return shown


def limits_up(root, path, files):
    if not root:
        return []
    directory = root + (path[:-1] if path.endswith("/") else path)
    if not os.path.isdir(directory):
        return []
    shown = ["own %s\n" % directory] + limit_files(directory, files)
    while directory != root and directory.startswith(root + "/"):
        directory = directory.rsplit("/", 1)[0]
        shown += ["parent %s\n" % directory] + limit_files(directory, files)
    return shown


def links(container):
    """The links of its network namespace, as the anchor at its root was told (named_here)."""
    return said_by_anchor(container, "links")


def hostname(container):
    """The name of its UTS namespace, as the anchor at its root was told (named_here)."""
    return said_by_anchor(container, "hostname")


def said_by_anchor(container, name):
    if name not in container.names:
        raise Failed("no anchor joined its namespaces")
    code, text = container.names[name]
    if code != 0:
        raise Failed(text)
    return text


def ls(container):
    """The names at the root of its mount namespace, as `ls -1b` shows them (no hidden ones)."""
    if container.root_pid == "-":
        raise Failed("no anchor at the root of its mount namespace")
    names = sorted(os.listdir(("/proc/%s/root/" % container.root_pid).encode()))
    return "".join(escaped(name) + "\n" for name in names if not name.startswith(b"."))


def devices(container):
    """The device nodes under its /dev, and under every other mount of the host's devtmpfs,
    at the root of each of its views (see mounts): "FS UID GID MAJOR MINOR MODE PATH", the
    numbers and the mode in hex, as the host's lstat gives them (FS is the filesystem the
    node is on). At most NODES_SHOWN, each line cut at NAME_BYTES, names escaped; "more N"
    counts the rest. No link is followed on the way, nor any directory entered but
    through the one above it; "unlisted PATH WHY" where a part could not be listed whole."""
    unlisted, lines, more = [], [], 0
    for view in container.views:
        tops, fuse = ["/dev"], set()
        for line in dump("/proc/%s/mountinfo" % view, "surrogateescape").splitlines():
            fields = line.split()
            point, kind = fields[4], fields[fields.index("-") + 1]
            # wherever a piece of the host's /dev is mounted: a node bound over a file, or the
            # host's /dev itself at /hostdev (names with escapes are left to host-mounts)
            if kind == "devtmpfs" and "\\" not in point and point != "/dev" and not point.startswith("/dev/"):
                tops.append(point)
            if kind.startswith("fuse"):  # served by a process that may never answer: not asked
                fuse.add(unescaped(point))
        for top in tops:
            for node in nodes_under(view, top, fuse):
                if node.startswith("unlisted "):
                    unlisted.append(node[:NAME_BYTES] + "\n")
                elif len(lines) < NODES_SHOWN:
                    lines.append(node[:NAME_BYTES] + "\n")
                else:
                    more += 1
    # what was not listed first: it is why the rest cannot be judged
    return "".join(unlisted + lines) + ("more %d\n" % more if more else "")


def unescaped(point):
    """A mount point as mountinfo escapes it (blanks and backslashes as \\ooo), as the path it is."""
    raw = os.fsencode(point)
    return os.fsdecode(re.sub(rb"\\([0-7]{3})", lambda found: bytes([int(found.group(1), 8) & 0xFF]), raw))


def nodes_under(view, top, fuse):
    """The device nodes at and under `top` in the root of process `view` (lines for
    node_line), and "unlisted PATH WHY" for what was not listed: a FUSE filesystem (among
    `fuse`, mount points), directories deeper than DEPTH, names gone while listed."""
    root = "/proc/%s/root" % view
    parent = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    components = [part for part in top.split("/") if part]
    try:
        for depth, part in enumerate(components[:-1]):
            if "/" + "/".join(components[:depth + 1]) in fuse:
                yield "unlisted %s under a FUSE filesystem" % escaped(os.fsencode(top))
                return
            opened = os.open(part, BELOW, dir_fd=parent)
            os.close(parent)
            parent = opened
        if top in fuse:
            yield "unlisted %s a FUSE filesystem" % escaped(os.fsencode(top))
            return
        name = components[-1]
        found = os.stat(name, dir_fd=parent, follow_symlinks=False)
        where = "%s%s" % (root, top)
        if stat.S_ISDIR(found.st_mode):
            directory = os.open(name, BELOW, dir_fd=parent)
            for node in walk(directory, where, top, fuse):
                yield node
        elif stat.S_ISCHR(found.st_mode) or stat.S_ISBLK(found.st_mode):
            yield node_line(found, where)
    except OSError:
        return  # not there, a link, or gone meanwhile: nothing listed through it
    finally:
        os.close(parent)


DEPTH = 32  # directories below a top: /dev has a few


def walk(top, where, inside, fuse):
    """The nodes in the open directory `top` (closed here) and below it, one directory at a
    time; `where` is its path as shown, `inside` as the container names it."""
    waiting = [(top, where, inside, 0)]
    while waiting:
        directory, where, inside, depth = waiting.pop()
        try:
            for name in os.listdir(directory):
                shown, path = where + "/" + escaped(os.fsencode(name)), inside.rstrip("/") + "/" + name
                if path in fuse:
                    yield "unlisted %s a FUSE filesystem" % shown
                    continue
                try:
                    found = os.stat(name, dir_fd=directory, follow_symlinks=False)
                    if stat.S_ISDIR(found.st_mode):
                        if depth == DEPTH:
                            yield "unlisted %s deeper than %d directories" % (shown, DEPTH)
                            continue
                        waiting.append((os.open(name, BELOW, dir_fd=directory), shown, path, depth + 1))
                    elif stat.S_ISCHR(found.st_mode) or stat.S_ISBLK(found.st_mode):
                        yield node_line(found, shown)
                except OSError:
                    yield "unlisted %s gone or swapped for a link while it was listed" % shown
        except OSError:
            yield "unlisted %s gone while it was listed" % where
        finally:
            os.close(directory)


def node_line(found, path):
    return "%d %d %d %x %x %x %s" % (found.st_dev, found.st_uid, found.st_gid, os.major(found.st_rdev),
                                     os.minor(found.st_rdev), found.st_mode, path)


def members(container):
    """What the kernel says of each of its other processes: status, namespaces, root, uid
    map and security label, each line led by the file it came from."""
    shown = ["unread %d\n" % container.unread] if container.unread else []
    for member in container.members:
        proc = "/proc/%s" % member
        try:
            shown += ["%s/status:%s\n" % (proc, line) for line in dump(proc + "/status").splitlines()
                      if line.split(":", 1)[0] in STATUS_FIELDS]
            shown += ["'%s/ns/%s' -> '%s'\n" % (proc, name, os.readlink("%s/ns/%s" % (proc, name)))
                      for name in sorted(os.listdir(proc + "/ns"))]
            found = os.stat(proc + "/root/")
            shown.append("root %d:%d %s/root/\n" % (found.st_dev, found.st_ino, proc))
            shown += ["%s/uid_map:%s\n" % (proc, line) for line in dump(proc + "/uid_map").splitlines()]
        except OSError:
            continue  # gone meanwhile: what was read of it is incomplete, and the parser drops it
        try:
            found_label = label_of(member)
        except OSError:
            continue  # no LSM, or gone: what else was read of it stands
        shown += ["%s/attr/current:%s\n" % (proc, line) for line in found_label.splitlines()]
    return "".join(shown)


def held(container):
    """What its processes hold outside the mounts of their namespace: "PID WHAT MAJOR:MINOR";
    "unread PID N" for a process with more descriptors than are looked at."""
    shown = []
    for process, anchor in container.anchors.items():
        try:
            namespace_mounts = {line.split()[0] for line in dump("/proc/%s/mountinfo" % anchor).splitlines()}
            # a thread's working directory and root are its own (unshare(CLONE_FS)); its
            # descriptors are its process's, read there, unless it unshared them too
            descriptors = [] if shares_descriptors(process, container.threads.get(process)) \
                else os.listdir("/proc/%s/fd" % process)
            if len(descriptors) > DESCRIPTORS_SHOWN:
                shown.append("unread %s %d descriptors, more than are looked at\n" % (process, len(descriptors)))
                continue
            shown += ["%s %s %s\n" % (process, what, device)
                      for what, device in held_outside(process, descriptors, namespace_mounts)]
        except OSError:
            continue
    return "".join(shown)


def shares_descriptors(tid, tgid):
    """Whether thread `tid` shares the table of descriptors of its process `tgid` (None: it is
    a process), by kcmp, the kernel's own comparison; a thread that unshared it is read on its own."""
    if tgid is None or KCMP is None:
        return False
    return libc.syscall(ctypes.c_long(KCMP), ctypes.c_long(int(tgid)), ctypes.c_long(int(tid)),
                        ctypes.c_long(KCMP_FILES), ctypes.c_long(0), ctypes.c_long(0)) == 0


def mount_id(fdinfo):
    return next((line.split()[1] for line in dump(fdinfo).splitlines() if line.startswith("mnt_id:")), "")


def held_outside(pid, descriptors, mount_ids):
    """What `pid` holds (`descriptors`, working directory, root) on a mount its namespace no
    longer has, with that filesystem's device."""
    found = []
    for name in ["cwd", "root"] + sorted(descriptors, key=int):
        try:
            if name in ("cwd", "root"):
                opened = os.open("/proc/%s/%s" % (pid, name), os.O_PATH | os.O_CLOEXEC)
                try:
                    mount, device = mount_id("/proc/self/fdinfo/%d" % opened), os.fstat(opened).st_dev
                finally:
                    os.close(opened)
            else:
                kind = os.stat("/proc/%s/fd/%s" % (pid, name))
                if not (stat.S_ISDIR(kind.st_mode) or stat.S_ISREG(kind.st_mode)):
                    continue  # pipes, sockets, devices: no way into a filesystem
                mount, device = mount_id("/proc/%s/fdinfo/%s" % (pid, name)), kind.st_dev
        except OSError:
            continue  # closed meanwhile
        if mount and mount not in mount_ids:
            found.append((name if name in ("cwd", "root") else "fd" + name,
                          "%d:%d" % (os.major(device), os.minor(device))))
    return found


def filters(container):
    """The seccomp filters in force in each of its threads: "TID BASE64,..." (most recent
    first; "none"), "TID same OTHER" for the same filters as a thread before it, or
    "TID unreadable WHY". A paused container's are unreadable at once: a frozen thread
    cannot stop to hand them over."""
    shown, seen = [], {}
    paused = frozen(container)
    for pid in container.everyone():
        if paused:
            shown.append("%s unreadable %s\n" % (pid, paused))
            continue
        try:
            programs = tuple(seccomp_filters(pid))
        except OSError as exc:
            shown.append("%s unreadable %s\n" % (pid, os.strerror(exc.errno) if exc.errno else exc.strerror))
            continue
        if programs in seen:
            shown.append("%s same %s\n" % (pid, seen[programs]))
        else:
            seen[programs] = pid
            shown.append("%s %s\n" % (pid, ",".join(base64.b64encode(p).decode() for p in programs) or "none"))
    return "".join(shown)


def seccomp_filters(pid):
    """The filters in force in `pid`, most recent first (none: seccomp is not in filter mode)."""
    mode = next((line.split()[1] for line in dump("/proc/%s/status" % pid).splitlines()
                 if line.startswith("Seccomp:")), "0")
    if mode != "2":
        return []
    target = int(pid)
    if libc.ptrace(PTRACE_SEIZE, target, None, None) != 0:
        raise OSError(ctypes.get_errno(), "cannot seize process %s" % pid)
    try:
        if libc.ptrace(PTRACE_INTERRUPT, target, None, None) != 0:
            raise OSError(ctypes.get_errno(), "cannot stop process %s" % pid)
        if not stops(target):
            raise OSError(0, "it did not stop within %g s to hand its filters over (parked in vfork(), frozen, "
                             "or held in the kernel)" % STOP_SECONDS)
        found = []
        while True:
            count = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, target, len(found), None)
            if count <= 0:
                error = ctypes.get_errno()
                if not found:
                    raise OSError(error, "the kernel handed over no filter")
                return found
            program = ctypes.create_string_buffer(count * 8)
            libc.ptrace(PTRACE_SECCOMP_GET_FILTER, target, len(found), program)
            found.append(program.raw)
    finally:
        libc.ptrace(PTRACE_DETACH, target, None, None)


def stops(target):
    """Whether the seized `target` stops within STOP_SECONDS: one parked in vfork() or
    frozen never does, and is not waited on."""
    deadline = time.monotonic() + STOP_SECONDS
    while not os.waitpid(target, WAIT_ALL | os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


FROZEN = "its cgroup is frozen (a paused container): no filter is handed over until it resumes"


def frozen(container):
    """Why its cgroup is frozen (a paused container), or "" when it is not."""
    roots = container.settings["cgroups"]
    for line in dump("/proc/%s/cgroup" % container.pid).splitlines():
        _, controllers, path = line.split(":", 2)
        try:
            if "freezer" in controllers.split(",") and roots.get("freezer"):
                if dump("%s%s/freezer.state" % (roots["freezer"], path)).strip() != "THAWED":
                    return FROZEN
            elif controllers == "" and roots.get(""):
                if "frozen 1" in dump("%s%s/cgroup.events" % (roots[""], path)).splitlines():
                    return FROZEN
        except OSError:
            continue  # no such file: that hierarchy cannot freeze it
    return ""


def device_programs(container):
    """The cgroup v2 device programs in effect in its cgroup: "program ID BASE64" for each,
    then "in-effect ID,..." ("none"); "absent" on a host with no cgroup v2 hierarchy."""
    root = container.settings["cgroups"].get("")
    if root is None:
        return "absent\n"
    if BPF_SYSCALL is None:
        raise Failed("no bpf system call known for %s" % os.uname().machine)
    path = next((line[3:] for line in dump("/proc/%s/cgroup" % container.pid).splitlines()
                 if line.startswith("0::")), None)
    if path is None:
        raise Failed("no cgroup v2 path")
    try:
        ids = programs_in_effect(root + path)
        shown = ["program %d %s\n" % (i, base64.b64encode(program_of(i)).decode()) for i in ids]
    except OSError as exc:
        raise Failed(exc.strerror + (": " + os.strerror(exc.errno) if exc.errno else ""))
    return "".join(shown) + "in-effect %s\n" % (",".join(map(str, ids)) or "none")


def bpf(command, attr):
    done = libc.syscall(ctypes.c_long(BPF_SYSCALL), ctypes.c_long(command), attr, ctypes.c_long(len(attr)))
    if done < 0:
        raise OSError(ctypes.get_errno(), "bpf command %d" % command)
    return done


def program_of(program_id):
    """The translated instructions of one device program, by its ID."""
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<I", attr, 0, program_id)
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    try:
        info = ctypes.create_string_buffer(40)  # struct bpf_prog_info up to xlated_prog_insns
        attr = ctypes.create_string_buffer(16)
        struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        kind, size = struct.unpack_from("<I", info, 0)[0], struct.unpack_from("<I", info, 20)[0]
        if kind != BPF_PROG_TYPE_CGROUP_DEVICE or not 0 < size <= MAX_INSNS * 8:
            raise OSError(0, "program %d: type %d, %d bytes of instructions handed over" % (program_id, kind, size))
        insns = ctypes.create_string_buffer(size)
        info = ctypes.create_string_buffer(40)
        struct.pack_into("<I", info, 20, size)
        struct.pack_into("<Q", info, 32, ctypes.addressof(insns))
        struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        return insns.raw
    finally:
        os.close(fd)


def programs_in_effect(directory_path):
    """The IDs of the device programs in effect in a cgroup v2 directory."""
    directory = os.open(directory_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ids = (ctypes.c_uint32 * (MAX_PROGRAMS + 1))()
        attr = ctypes.create_string_buffer(40)
        struct.pack_into("<IIII", attr, 0, directory, BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE, 0)
        struct.pack_into("<QI", attr, 16, ctypes.addressof(ids), len(ids))
        bpf(BPF_PROG_QUERY, attr)
        count = struct.unpack_from("<I", attr, 24)[0]
    finally:
        os.close(directory)
    if count > MAX_PROGRAMS:
        raise OSError(0, "%d device programs in effect" % count)
    return list(ids[:count])


def inside(container):
    """The lesson's commands run by the container's own shell through the engine's exec,
    which keeps its capabilities, seccomp filter, LSM label and cgroup; cut and
    base64-encoded, so nothing it prints can pass for a marker."""
    if container.engine in ("-", "cri"):
        return ""
    limit, deadline = container.settings["inside_limit"], time.monotonic() + container.settings["timeout"]
    process = subprocess.Popen([container.engine, "exec", "-i", container.id, "sh", "-s"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        process.stdin.write(os.environ["ISOVERIFY_INSIDE"].encode())  # a few KiB: the pipe takes them
        process.stdin.close()
        said = bounded(process.stdout.fileno(), limit, deadline)
    finally:
        process.kill()  # the engine's client: what it started inside ends with the container
        process.wait()
    return base64.b64encode(said).decode()


def bounded(fd, limit, deadline):
    """What `fd` gives until its end, `limit` bytes or the deadline, whichever comes first:
    nothing a container prints is held beyond the bound."""
    chunks, size = [], 0
    while size < limit:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def settled(container):
    """Whether its other processes are those read: none started or replaced meanwhile (one
    that was not read could be anything), nor exited (one gone before all was read of it
    left readings missing). Taken before the engine's exec starts one."""
    if container.unread:
        return "same"
    processes = list(dict.fromkeys(members_of(container) + members_of(container)))  # twice: one listing can miss a fork
    listed = dict.fromkeys(processes + list(threads_of([container.pid] + processes)))
    now = started_now(listed)  # one listed but gone before it is asked is new too: it was not read
    new = [pid for pid in listed if pid not in now or container.started_members.get(pid) != now[pid]]
    exited = [pid for pid in container.started_members if pid not in now]
    changed = sorted(set(new + exited), key=int)
    if changed:
        raise Unsettled("%d of its processes or threads started or were replaced, or exited (%s), each of the %d "
                        "times it was read"
                        % (len(changed), " ".join(changed[:10]), ATTEMPTS))
    return "same"


def end(container):
    """Whether its main process is still the one located; its anchors are let go."""
    for anchor in container.anchors.values():
        try:
            os.kill(int(anchor), signal.SIGKILL)
            os.waitpid(int(anchor), 0)
        except OSError:
            pass
    if started_now([container.pid]).get(container.pid) != container.started:
        raise Failed("its process exited or was replaced")
    return "same"


READERS = {reader.__name__: reader for reader in (
    locate, ns, root_id, mounts, process_mounts, status, cmdline, uid_map, gid_map, label, cgroup, cgroups,
    links, hostname, ls, devices, members, held, filters, device_programs, settled, inside, end)}


# -- reading each container in a process of its own ------------------------------------------


def frame(name, output, code):
    nonce = os.environ["ISOVERIFY_NONCE"]
    return ("\n%s:%s:begin:%s\n%s\n%s:%s:rc:%d\n" % (MARK, nonce, name, output, MARK, nonce, code)).encode(
        "utf-8", "replace")


def read_container(container, readings, out, last):
    """Each reading of `container`, framed, written to `out` as it is taken (the last attempt is the
    one judged); the user's own facts ("own") in the host's shell, which frames them itself.
    Each reading has its own time and size: one that hangs or floods is lost alone.
    Returns whether its processes held still while it was read; unless this is the `last`
    attempt, it stops as soon as they did not."""
    for name in readings:
        if name == "own":
            own_facts(container, out)
            continue
        try:
            signal.setitimer(signal.ITIMER_REAL, container.settings["timeout"] + 2)
            try:
                output, code = READERS[name](container), 0
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if len(output) > READING_LIMIT:
                raise Failed("%d bytes, more than one reading may take (%d): not read" % (len(output), READING_LIMIT))
        except Unsettled as exc:
            os.write(out, frame(name, str(exc), 1))
            if last:
                continue
            try:
                end(container)  # its anchors are let go before it is read again
            except Failed:
                pass  # the next attempt finds out
            return False
        except Failed as exc:
            output, code = str(exc), 1
        except Exception as exc:  # whatever a container made of it: this reading, no other, is lost
            output, code = "%s: %s" % (type(exc).__name__, exc), 1
        os.write(out, frame(name, output, code))
        if name == "locate" and code != 0:
            break
    return True


def own_facts(container, out):
    processes = " ".join(m for m in container.members if m not in container.threads)
    environment = dict(os.environ, pid=container.pid, members=processes,
                       unread=str(container.unread) if container.unread else "", root_pid=container.root_pid)
    subprocess.run(["sh", "-c", os.environ["ISOVERIFY_OWN"]], stdin=subprocess.DEVNULL, stdout=out,
                   stderr=subprocess.STDOUT, env=environment)


def start(number, target, readings, settings):
    """A process reading one container into a pipe; returns (its PID, the pipe's end to read)."""
    engine, container_id, pid, sandbox_id, sandbox_pid = (target.split(":") + ["-", "-"])[:5]
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(reader)
        os.setpgid(0, 0)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # stopped with the probe, however it stops
        signal.signal(signal.SIGALRM, took_too_long)  # each reading's time (read_container)
        try:
            for attempt in range(1, ATTEMPTS + 1):
                os.write(writer, frame("attempt", str(attempt), 0))
                container = Container(engine, container_id, pid, settings, (sandbox_id, sandbox_pid))
                if read_container(container, readings, writer, attempt == ATTEMPTS):
                    break
        finally:
            os._exit(0)
    os.close(writer)
    try:
        os.setpgid(child, child)
    except OSError:
        pass  # it did so itself, and may have ended already
    return child, reader


def main():
    lifetime, timeout, per_container, limit, inside_limit = (int(number) for number in sys.argv[1:6])
    directory, readings, targets = sys.argv[6], sys.argv[7].split(","), sys.argv[8:]
    settings = {"lifetime": lifetime, "timeout": timeout, "inside_limit": inside_limit, "cgroups": cgroup_mounts()}
    lanes = (os.cpu_count() or 1) + 1
    waiting = list(enumerate(targets))
    running = {}  # the pipe read: [number, child, deadline, chunks, bytes]
    while waiting or running:
        while waiting and len(running) < lanes:
            number, target = waiting.pop(0)
            child, pipe = start(number, target, readings, settings)
            running[pipe] = [number, child, time.monotonic() + per_container, [], 0]
        timeout = max(0.0, min(entry[2] for entry in running.values()) - time.monotonic())
        ready, _, _ = select.select(list(running), [], [], timeout)
        for pipe in ready:
            entry = running[pipe]
            chunk = os.read(pipe, 65536)
            entry[3].append(chunk)
            entry[4] += len(chunk)
            if not chunk or entry[4] >= limit:
                finish(directory, pipe, running.pop(pipe))
        for pipe in [pipe for pipe, entry in running.items() if entry[2] <= time.monotonic()]:
            finish(directory, pipe, running.pop(pipe))


def finish(directory, pipe, entry):
    """Its readings, base64-encoded, kept as the line "N BASE64" of DIRECTORY/views; it and
    all it started are ended."""
    number, child, _, chunks, _ = entry
    os.close(pipe)
    try:
        os.killpg(child, signal.SIGKILL)
    except OSError:
        pass
    # One stuck in the kernel (a FUSE file its container never answers for) cannot die yet:
    # it is left to end when it can, and holds up no other container.
    os.waitpid(child, os.WNOHANG)
    with open("%s/views" % directory, "ab") as kept:
        kept.write(b"%d %s\n" % (number, base64.b64encode(b"".join(chunks))))


main()
