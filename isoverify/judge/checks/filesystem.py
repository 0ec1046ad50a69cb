"""What of the host's filesystems and devices the container can reach.

Judged from the container's /proc/<pid>/mountinfo read on the host: a mount
whose device is one of the host's is mapped back to the host path it shows,
so `-v /:/host` is seen as "the host's / is mounted at /host" whatever the
declared configuration says.
"""

import functools
import posixpath
import re
from dataclasses import dataclass

from isoverify.judge.checks.base import (
    Evidence,
    Finding,
    Unobservable,
    kernel,
    mount_line,
    mount_views,
    mounts,
    mounts_seen_from,
    nearest_mount,
    own_root,
    shown,
    status,
    value,
)
from isoverify.kernel import devcgroup, linux
from isoverify.model import ContainerFacts, HostFacts, Mount, root_mount


def host_path(mount: Mount, host_mounts: dict[str, list[Mount]]) -> str | None:
    """The host path a container mount shows, when it is a piece of a host filesystem
    (`host_mounts` by device, see host_filesystems)."""
    candidates = [h for h in host_mounts.get(mount.major_minor, ())
                  if mount.root == h.root or mount.root.startswith(h.root.rstrip("/") + "/")]
    if not candidates:
        return None
    best = max(candidates, key=lambda h: len(h.root))
    below = mount.root[len(best.root):].lstrip("/")
    return posixpath.normpath(posixpath.join(best.mount_point, below))


def host_filesystems(host: HostFacts) -> dict[str, list[Mount]]:
    """The host's mounts by the device they are of."""
    found: dict[str, list[Mount]] = {}
    for mount in value(host["mounts"], "the host's mounts"):
        found.setdefault(mount.major_minor, []).append(mount)
    return found


def host_mounts_in(host: HostFacts, ctr: ContainerFacts) -> list[tuple[Mount, str]]:
    """Every container mount that is a piece of a host filesystem, with its host path."""
    own = host.derive(host_filesystems)
    found = []
    for mount in mounts(ctr):
        path = host_path(mount, own)
        if path is not None:
            found.append((mount, path))
    return found


def _is_below(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _mount_table(ctr: ContainerFacts, rows: list[tuple[Mount, str]]) -> Evidence:
    text = "\n".join(f"{m.mount_point}  <-  host {path}  ({m.fstype}, {m.options})" for m, path in rows)
    return kernel(ctr, f"the host paths among its mounts: {ctr.outside['mounts'].label}", text or "(none)")


def _read_only(mount: Mount) -> bool:
    return "ro" in mount.options.split(",")


def _where_seen(path: str, table: list[Mount]) -> list[str]:
    """Every place in a mount table where the kernel's `path` (/proc/... or /sys/...) shows:
    under each proc or sysfs mount that holds it — the container's own at /proc, and any
    other, such as the host's /proc/sys bind-mounted at /hostsys."""
    fstype, _, below = path.lstrip("/").partition("/")
    fstype = {"proc": "proc", "sys": "sysfs"}[fstype]
    inside = "/" + below
    seen = []
    for mount in table:
        if mount.fstype == fstype and _is_below(inside, mount.root):
            seen.append(posixpath.normpath(posixpath.join(mount.mount_point, inside[len(mount.root):].lstrip("/"))))
    return list(dict.fromkeys(seen))


def _unprotected(host: HostFacts, ctr: ContainerFacts, paths: tuple[str, ...], protects, how: str
                 ) -> tuple[list[str], int, Evidence, Evidence]:
    """Which of `paths` (those this kernel has), wherever a proc or sysfs mount shows them,
    the mount covering them there leaves unprotected."""
    expected = sorted(value(host["kernel_paths"], "the host's /proc and /sys paths") & set(paths))
    failing, lines = [], []
    for view, table in mount_views(ctr):
        for path in expected:
            for place in _where_seen(path, table):
                cover = nearest_mount(table, place)
                safe = cover is not None and protects(cover)
                shown_as = place if place == path else f"{place} (the kernel's {path})"
                covered = mount_line(cover) if cover else "no mount covers it"
                lines.append(f"{view}{shown_as}: {how if safe else 'EXPOSED'} ({covered})")
                if not safe and shown_as not in failing:
                    failing.append(shown_as)
    return (failing, len(expected), shown(host["kernel_paths"]),
            kernel(ctr, f"what covers each path: {ctr.outside['mounts'].label}", "\n".join(lines)))


def exposed_kernel_paths(host: HostFacts, ctr: ContainerFacts) -> list[str]:
    """The kernel's sensitive /proc and /sys paths it can read, and its tunables it can write."""
    masked, _, _, _ = _unprotected(host, ctr, linux.MASKED_PATHS, lambda m: m.fstype not in ("proc", "sysfs"), "")
    writable, _, _, _ = _unprotected(host, ctr, linux.READONLY_PATHS, _read_only, "")
    return masked + writable


def check_masked_paths(host: HostFacts, ctr: ContainerFacts) -> Finding:
    exposed, count, host_ev, ctr_ev = _unprotected(
        host, ctr, linux.MASKED_PATHS, lambda m: m.fstype not in ("proc", "sysfs"), "masked")
    summary = (f"all {count} of the kernel's sensitive /proc and /sys paths are masked"
               if not exposed else "exposed inside: " + ", ".join(exposed))
    return Finding(not exposed, summary, (host_ev,), (ctr_ev,), tuple(exposed))


def check_readonly_paths(host: HostFacts, ctr: ContainerFacts) -> Finding:
    writable, count, host_ev, ctr_ev = _unprotected(host, ctr, linux.READONLY_PATHS, _read_only, "read-only")
    summary = (f"all {count} kernel tunables and triggers are read-only inside"
               if not writable else "writable inside: " + ", ".join(writable))
    return Finding(not writable, summary, (host_ev,), (ctr_ev,), tuple(writable))


def root_filesystems(ctr: ContainerFacts) -> list[tuple[str, Mount]]:
    """The mount at / of each root it has: its main process's, and those of its mount
    namespaces (a main process chrooted into a read-only bind of its / leaves the rest writable)."""
    return [("its main process's root", own_root(ctr))] + [
        (f"the root {where or 'of its mount namespace'}".rstrip(": "), root_mount(table))
        for where, table in mount_views(ctr)]


def check_readonly_rootfs(host: HostFacts, ctr: ContainerFacts) -> Finding:
    roots = root_filesystems(ctr)
    writable = [(where, root) for where, root in roots if not _read_only(root)]
    summary = ("the container's / is mounted read-only" if not writable
               else "the container's / is writable: " + "; ".join(f"{where} ({root.options})"
                                                                   for where, root in writable))
    return Finding(not writable, summary, (),
                   (kernel(ctr, f"/ in /proc/{ctr.pid}/mountinfo, and at the root of each of its mount namespaces",
                           "\n".join(f"{where}: {mount_line(root)}" for where, root in roots)),))


@dataclass(frozen=True)
class Exposure:
    """A container mount that is a piece of a host filesystem, and what it hands over."""

    mount: Mount
    path: str  # the host path it shows
    kind: str  # one of EXPOSURES
    why: str

    @property
    def shown(self) -> str:
        access = "read-only" if _read_only(self.mount) else "READ-WRITE"
        return f"{self.path} at {self.mount.mount_point} ({access}: {self.why})"


# What each kind of host mount gives the container: the first three fail host-mounts.
EXPOSURES = {
    "kernel": "fails: a control surface of the host's kernel",
    "engine": "fails: a container engine's or runtime's state",
    "system": "fails: the system's own files",
    "data": "an advisory: host data, not the system's",
    "own": "its own: made by its engine for it",
    "device": "device nodes: judged by `devices`",
    "socket": "an engine's socket: judged by `runtime-socket`",
    "ipc": "the host's shared memory or message queues: judged by `ipc`",
}
FAILING = ("kernel", "engine", "system")
VOLUME_WHY = "a volume's data"  # the why of an engine's named volume (kind "data")


def _engine_roots(ctr: ContainerFacts) -> tuple[str, ...]:
    """Where engines keep their state: the usual places, and the data root its engine mounts
    its rootfs under (a moved data root shows there)."""
    merged = (((ctr.declared or {}).get("GraphDriver") or {}).get("Data") or {}).get("MergedDir") or ""
    moved = re.match(r"(/.+)/(overlay2|overlay|fuse-overlayfs|vfs|btrfs|zfs|aufs)/", merged)
    return linux.ENGINE_STATE + ((moved[1],) if moved else ())


def _classify(mount: Mount, path: str, ctr: ContainerFacts, sockets: list[str]) -> tuple[str, str]:
    """(kind, why) of one host mount: the rules of host-mounts, in order."""
    if path in sockets:
        return "socket", "an engine's socket: judged by `runtime-socket`"
    if mount.fstype in ("cgroup", "cgroup2"):
        own = value(ctr.outside["cgroup"], "its cgroups").values()
        if any(_is_below(mount.root, mine) for mine in own):
            return ("own", "its own cgroup") if _read_only(mount) else \
                ("kernel", "its own cgroup, writable: it can lift its own limits")
        return "kernel", f"the host's cgroup tree at {mount.root}: it can leave its cgroup, or move others"
    if mount.fstype == "devtmpfs" and mount.root != "/":
        return "device", "nodes of the host's /dev"
    if path in ("/dev/shm", "/dev/mqueue"):
        return "ipc", "the host's shared memory or message queues: judged by `ipc`"
    if mount.fstype in linux.KERNEL_FILESYSTEMS:
        return "kernel", f"the host's {mount.fstype}"
    if pod_volume(ctr, path) is not None:
        return "own", "its pod's own volume or kubelet file, kept under the pod's UID"
    engines = _engine_roots(ctr)
    in_engine = any(_is_below(path, root) for root in engines)
    # A CRI runtime's IDs are drawn when it creates the pod: no hostPath can name one beforehand.
    if (in_engine or ctr.target.pod is not None) and any(f"/{own}/" in path for own in _own_ids(ctr)) \
            and posixpath.basename(path) in linux.OWN_ENGINE_FILES:
        return "own", "made by its engine for it"
    if in_engine and linux.VOLUME_DATA.search(path):
        return "data", VOLUME_WHY
    if in_engine:
        return "engine", "an engine's state: other containers' files, sockets, configuration"
    if _engine_init(mount, path, ctr):
        return "own", "its engine's init (--init): one binary of the host's, read-only"
    if path == "/" or any(_is_below(path, tree) or _is_below(tree, path)
                          for tree in linux.SYSTEM_TREES + engines if tree != "/"):
        return "system", "the system's own files, or a directory holding them"
    return "data", "host data"


def pod_volume(ctr: ContainerFacts, path: str) -> str | None:
    """For a pod's container, the plugin of the pod's own volume a host path is ("empty-dir",
    as a kubelet keeps it: PODS/UID/volumes/kubernetes.io~PLUGIN/NAME), "" for another of the
    kubelet's files for the pod (etc-hosts, a termination log); None when it is not the pod's.
    The API server draws the pod's UID when the pod is created: no hostPath names it beforehand."""
    pod = ctr.target.pod
    if pod is None or not pod.pod_uid:
        return None
    found = re.search(rf"/pods/{re.escape(pod.pod_uid)}/(?:volumes/kubernetes\.io~([a-z0-9-]+)/[^/]+|(?!volumes/))",
                      path)
    return None if found is None else (found[1] or "")


def _own_ids(ctr: ContainerFacts) -> tuple[str, ...]:
    """The IDs under which its engine keeps files made for it: its own, and for a pod's
    container its sandbox's too (the CRI runtime keeps a pod's hosts and resolv.conf there)."""
    pod = ctr.target.pod
    if pod is not None:
        return (pod.container_id, pod.sandbox_id)
    container_id = (ctr.declared or {}).get("Id", "")
    return (container_id,) if container_id else ()


def _engine_init(mount: Mount, path: str, ctr: ContainerFacts) -> bool:
    """Whether the mount is its engine's own init: the host's init binary (tini, catatonit),
    read-only, where the engine binds it. It hands over nothing but that binary."""
    return (mount.mount_point == linux.ENGINE_INIT_AT.get(ctr.target.engine) and _read_only(mount)
            and path in linux.ENGINE_INITS)


def exposures(host: HostFacts, ctr: ContainerFacts) -> list[Exposure]:
    """Every host mount it has but its own root (judged by `root` and `rootfs`), classified."""
    sockets, _, _ = host.derive(_engine_sockets)
    return [Exposure(mount, path, *_classify(mount, path, ctr, sockets))
            for mount, path in host_mounts_in(host, ctr) if mount.mount_point != "/"]


def held_host_files(host: HostFacts, ctr: ContainerFacts) -> list[str]:
    """What its processes hold open (a descriptor, a working directory) on one of the
    host's filesystems, after the mount it came through left their namespace: `exec 3</host;
    umount -l /host` keeps the host's / at hand."""
    own_root = root_mount(mount_views(ctr)[0][1]).major_minor
    mounted = list(reversed(value(host["mounts"], "the host's mounts")))
    host_filesystems = {m.major_minor: m.mount_point for m in mounted}  # where each is first mounted,
    host_filesystems.update({m.major_minor: m.mount_point for m in mounted if m.root == "/"})  # whole if it is
    threads = {m.pid: m.process for m in (ctr.outside["members"].value or ()) if m.process != m.pid}
    return [f"{'thread %s of process %s' % (task, threads[task]) if task in threads else 'process ' + task} "
            f"holds {what} on the host's filesystem {device} (mounted on the host at "
            f"{host_filesystems[device]}), outside every mount of its namespace"
            for task, what, device in value(ctr.outside["held"], "what its processes hold outside their mounts")
            if device in host_filesystems and device != own_root]


def check_host_mounts(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Judged by what each mounted host path really is (the kernel mapped it, links resolved),
    never by the name it was asked for: kernel filesystems, the system's trees, engines' state
    — and by what its processes still hold of the host after unmounting it."""
    found = exposures(host, ctr)
    failing = [e for e in found if e.kind in FAILING]
    held = held_host_files(host, ctr)
    data = [e for e in found if e.kind == "data"]
    summary = "; ".join((["host paths mounted in: " + "; ".join(e.shown for e in failing)] if failing else [])
                        + held) or "no host filesystem that hands over the host is mounted in"
    if data:
        summary += "; also from the host (an advisory): " + "; ".join(e.shown for e in data)
    rules = "\n".join(f"{kind}: {meaning}" for kind, meaning in EXPOSURES.items())
    table = "\n".join(f"{e.mount.mount_point}  <-  host {e.path}  ({e.mount.fstype}, {e.mount.options}): {e.kind}"
                      for e in found)
    return Finding(not failing and not held, summary, (Evidence("how each host mount is judged", rules),),
                   (kernel(ctr, f"the host paths among its mounts: {ctr.outside['mounts'].label}",
                           table or "(none)"), shown(ctr.outside["held"])),
                   tuple(dict.fromkeys(e.path for e in failing)) + (("held outside its mounts",) if held else ()))


def _engine_sockets(host: HostFacts) -> tuple[list[str], list[str], Evidence]:
    """The host's sockets that speak for an engine or runtime: those an engine's process
    listens on (ss), and the well-known paths that exist; abstract ones apart."""
    listeners = host["listeners"].value or []
    speaking = [listener for listener in listeners
                if any(listener.process.startswith(p) for p in linux.ENGINE_PROCESSES)]
    known = value(host["sockets"], "the host's runtime sockets")
    paths = sorted({re.sub(r"^/var/run/", "/run/", p) for p in
                    [listener.path for listener in speaking if not listener.path.startswith("@")] + list(known)})
    abstract = sorted({listener.path for listener in speaking if listener.path.startswith("@")})
    shown_text = "\n".join(f"{listener.path}  ({listener.process})" for listener in speaking) or "(ss showed none)"
    return paths, abstract, Evidence(f"$ {host['listeners'].label}: the engines' listening sockets", shown_text)


def _socket_homes(host: HostFacts) -> dict[str, str | None]:
    """The filesystem (device) each engine socket is on."""
    own = value(host["mounts"], "the host's mounts")
    return {socket: getattr(nearest_mount(own, socket), "major_minor", None)
            for socket in host.derive(_engine_sockets)[0]}


def check_runtime_socket(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """A socket is reachable when it, or a directory above it on the same filesystem, is
    mounted in; an abstract one when the container shares the host's network namespace."""
    sockets, abstract, listeners_ev = host.derive(_engine_sockets)
    homes = host.derive(_socket_homes)
    mounted = host_mounts_in(host, ctr)
    reachable = []  # (socket, how)
    for mount, path in mounted:
        for socket in sockets:
            if _is_below(socket, path) and homes[socket] == mount.major_minor:
                reachable.append((socket, f"host {path} at {mount.mount_point}"))
    host_net = value(host["ns"], "the host's namespaces").get("net")
    if abstract and host_net == value(ctr.outside["ns"], "its namespaces").get("net"):
        reachable += [(socket, "it shares the host's network namespace") for socket in abstract]
    summary = ("no container engine's or runtime's socket is reachable inside" if not reachable
               else "runtime socket reachable inside: " + ", ".join(f"{s} ({how})" for s, how in reachable))
    return Finding(not reachable, summary, (listeners_ev, shown(host["sockets"])),
                   (_mount_table(ctr, mounted),),
                   tuple(dict.fromkeys(socket for socket, _ in reachable)))


def check_propagation(host: HostFacts, ctr: ContainerFacts) -> Finding:
    shared = [m for m in mounts(ctr) if "shared:" in m.propagation]
    summary = ("no mount propagates events to or from the host (none is shared)" if not shared
               else "shared mount propagation: " + ", ".join(m.mount_point for m in shared))
    lines = "\n".join(f"{m.mount_point}: {m.propagation or 'private'}" for m in mounts(ctr))
    return Finding(not shared, summary, (),
                   (kernel(ctr, f"propagation of each mount in /proc/{ctr.pid}/mountinfo", lines),),
                   tuple(dict.fromkeys(m.mount_point for m in shared)))


def _rule_allows(rule: str, kind: str, major: int, minor: int, wanted: str = "rw") -> bool:
    """Whether one devices.list line lets a process read or write (any of `wanted`) that device."""
    rule_kind, numbers, access = (rule.split() + ["", "", ""])[:3]
    rule_major, _, rule_minor = numbers.partition(":")
    return (rule_kind in ("a", kind) and rule_major in ("*", str(major)) and rule_minor in ("*", str(minor))
            and bool(set(access) & set(wanted)))


# Numbers no kernel assigns (majors are 12 bits, minors 20; dynamic ones start far below):
# only a rule for every device of a type lets these through.
EVERY_DEVICE = (("b", 4094, 1048574), ("c", 4094, 1048574))


@functools.lru_cache(maxsize=65536)
def _programs_let(programs: tuple[bytes, ...], kind: str, major: int, minor: int, accesses: tuple[int, ...]) -> bool:
    return any(devcgroup.allows(programs, kind, major, minor, access) for access in accesses)


@dataclass(frozen=True)
class DeviceCgroup:
    """What the kernel's device cgroup lets the container's processes open: the rules of the
    v1 controller (`devices.list`), and the eBPF programs in effect on cgroup v2 — on a host
    with both, both must let it; with neither, nothing refuses."""

    rules: tuple[str, ...] | None
    programs: tuple[bytes, ...] | None

    def opens(self, kind: str, major: int, minor: int, wanted: str = "rw") -> bool:
        """Whether it lets a process open that device to read or write (any of `wanted`)."""
        if self.rules is not None and not any(_rule_allows(r, kind, major, minor, wanted) for r in self.rules):
            return False
        accesses = tuple({"r": devcgroup.READ, "w": devcgroup.WRITE}[a] for a in wanted)
        return not self.programs or _programs_let(self.programs, kind, major, minor, accesses)

    def every_device(self) -> bool:
        return all(self.opens(*device) for device in EVERY_DEVICE)

    def beyond_default(self, registered: frozenset) -> list[str]:
        """Each device it lets be opened that the default rules do not, as "b 8:0"; "b *:*"
        for every device of a type. Asked of the programs (v1 rules are named as written)."""
        if self.rules is not None and not self.programs:
            return []
        found = []
        for kind in ("b", "c"):
            wildcard = next(d for d in EVERY_DEVICE if d[0] == kind)
            if self.opens(*wildcard):
                found.append(f"{kind} *:*")
                continue
            found += [f"{k} {major}:{minor}" for k, major, minor in sorted(registered) if k == kind
                      and self.opens(k, major, minor)
                      and not any(_rule_allows(r, k, major, minor) for r in linux.DEFAULT_DEVICE_RULES)]
        return found

    def shown(self) -> str:
        if self.rules is not None and not self.programs:
            return "\n".join(self.rules)
        text = ("no device cgroup (v1) and no device program in effect (v2): nothing refuses a device"
                if self.programs is None else
                "no device program in effect on cgroup v2: every device is allowed" if not self.programs
                else f"{len(self.programs)} device program(s) in effect on cgroup v2 (run here, as the kernel runs "
                     "them): " + ", ".join(f"{len(p) // 8} instructions" for p in self.programs))
        return text if self.rules is None else "\n".join(self.rules) + "\nand " + text


def device_cgroup(ctr: ContainerFacts) -> DeviceCgroup:
    """The container's device cgroup as the kernel holds it; programs it cannot run are an error."""
    rules = ctr.outside["cgroups"].value.own.get("devices.list") if ctr.outside["cgroups"].readable else None
    # A program only ever refuses more: beside the v1 rules, one that cannot be read leaves
    # them the most the container may open. Alone, it leaves nothing known.
    programs = (ctr.outside["device_programs"].value if rules is not None
                else value(ctr.outside["device_programs"], "the cgroup v2 device programs in effect"))
    cgroup = DeviceCgroup(tuple(rules) if rules is not None else None,
                          tuple(programs) if programs is not None else None)
    try:
        cgroup.every_device()
    except devcgroup.Unknown as exc:
        raise Unobservable(f"a device program in effect cannot be run here ({exc}): its verdict is not known")
    return cgroup


def _opens(node, cgroup: DeviceCgroup, uid: int, gids: set[int], overrides: bool) -> bool:
    """Whether its processes can open `node`: the device cgroup must let them, and so must the
    node's permissions — unless they are root in the host's user namespace, with CAP_DAC_OVERRIDE."""
    if not cgroup.opens(node.kind, node.major, node.minor):
        return False
    if overrides:
        return True
    return bool(node.mode & 0o006 or node.uid == uid and node.mode & 0o600 or node.gid in gids and node.mode & 0o060)


def check_devices(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Every device node it can reach — created, bind-mounted, or under a mounted host /dev —
    judged by its numbers and by whether its processes can open it: the device cgroup, and
    where no cgroup refuses, the node's owner and permissions against their host ids. A
    pseudo-terminal is its own only on its own devpts, never on the host's."""
    listed = value(ctr.outside["devices"], "the container's devices")
    # A node on another filesystem than the container's mount at its path was reached
    # through a link swapped in while /dev was listed: the host's, not the container's.
    swapped = [d for d in listed.nodes
               if d.on != getattr(nearest_mount(mounts_seen_from(ctr, d.root), d.path), "major_minor", d.on)]
    nodes = [d for d in listed.nodes if d not in swapped]
    host_mounts = value(host["mounts"], "the host's mounts")
    host_terminals = {m.major_minor for m in host_mounts if m.fstype == "devpts"}
    cgroup = device_cgroup(ctr)
    rules = cgroup.rules
    own_userns = value(host["ns"], "the host's namespaces").get("user") != \
        value(ctr.outside["ns"], "the container's namespaces").get("user")
    fields = status(ctr)
    uid = int(fields.get("Uid", "0 0").split()[1])
    gids = {int(g) for g in fields.get("Gid", "").split()[:2] + fields.get("Groups", "").split() if g.isdigit()}
    overrides = not own_userns and "DAC_OVERRIDE" in linux.decode_capabilities(fields.get("CapEff", "0"))
    extra = [d for d in nodes if not linux.is_default_device(d) or d.on in host_terminals]
    try:
        reachable = [d for d in extra if _opens(d, cgroup, uid, gids, overrides)]
        registered = value(host["kernel_devices"], "the devices the host's kernel has")
        extra_rules = [] if own_userns else \
            sorted(set(rules or ()) - linux.DEFAULT_DEVICE_RULES) + cgroup.beyond_default(registered)
    except devcgroup.Unknown as exc:
        raise Unobservable(f"a device program in effect cannot be run here ({exc}): its verdict is not known")
    whole_dev = [m.mount_point for _, table in mount_views(ctr) for m in table
                 if m.fstype == "devtmpfs" and m.root == "/" and m.major_minor in {h.major_minor for h in host_mounts}]
    problems = []
    if reachable:
        problems.append("device nodes it can open beyond the default: " + ", ".join(
            f"{d.path} ({d.kind} {d.major}:{d.minor}"
            + (f", {linux.DANGEROUS_DEVICES[(d.kind, d.major, d.minor)]}" if (d.kind, d.major, d.minor)
               in linux.DANGEROUS_DEVICES else ", block device" if d.kind == "b" else
               ", a host terminal" if d.on in host_terminals else "") + ")"
            for d in reachable[:20]) + (f" and {len(reachable) - 20} more" if len(reachable) > 20 else ""))
    if whole_dev:
        problems.append("the host's whole /dev is mounted at " + ", ".join(dict.fromkeys(whole_dev)))
    if swapped:
        problems.append("its /dev changed while it was read (links swapped in, pointing out of its root): "
                        + ", ".join(d.path for d in swapped[:5]))
    if listed.more:  # a default /dev holds a dozen nodes: hundreds more are not the default
        problems.append(f"{listed.more} more device nodes, not listed")
    if extra_rules:
        problems.append("device cgroup allows beyond the default: " + ", ".join(extra_rules))
    summary = "; ".join(problems) or ("only the default device nodes it can open, and the default device "
                                      "cgroup rules")
    if not problems and extra:
        summary += f" ({len(extra)} other node(s) it cannot open: " + ", ".join(d.path for d in extra[:5]) + ")"
    node_text = "\n".join(f"{d.kind} {d.major}:{d.minor} {d.path}  owner {d.uid}:{d.gid} mode {d.mode:o}  "
                          f"{'opens' if d in reachable else 'cannot open' if d in extra else 'default'}"
                          for d in nodes) + (f"\n… and {listed.more} more, not listed" if listed.more else "")
    rules_text = cgroup.shown()
    if cgroup.programs:
        rules_text += "\nbeyond the default, it lets open: " + (", ".join(cgroup.beyond_default(registered))
                                                                 or "nothing")
    if own_userns:
        rules_text += "\n(extra rules not counted: in its own user namespace it can create no device node)"
    found = tuple(dict.fromkeys(f"{d.kind} {d.major}:{d.minor}" for d in reachable)) + tuple(extra_rules)
    if whole_dev:
        found += ("the host's /dev",)
    if swapped:
        found += ("its /dev changed while it was read",)
    if listed.more:  # unseen: a waiver accepting the listed ones does not cover these
        found += (f"{listed.more} device nodes not listed",)
    return Finding(not problems, summary, (),
                   (kernel(ctr, "device nodes under its /dev and every mount of the host's devtmpfs", node_text),
                    kernel(ctr, "its device cgroup: devices.list (v1), the device programs in effect (v2)",
                           rules_text)),
                   found)
