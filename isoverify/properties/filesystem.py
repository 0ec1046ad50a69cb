"""What of the host's filesystems and devices the container can reach.

Judged from the container's /proc/<pid>/mountinfo read on the host: a mount
whose device is one of the host's is mapped back to the host path it shows,
so `-v /:/host` is seen as "the host's / is mounted at /host" whatever the
declared configuration says.
"""

import posixpath
import re

from .. import linux
from ..facts import Mount
from ..observe import ContainerFacts, HostFacts
from .base import (Evidence, Finding, kernel, mount_line, mount_views, mounts, nearest_mount, own_root, shown,
                   value)


def host_path(mount: Mount, host_mounts: list[Mount]) -> str | None:
    """The host path a container mount shows, when it is a piece of a host filesystem."""
    candidates = [h for h in host_mounts if h.major_minor == mount.major_minor
                  and (mount.root == h.root or mount.root.startswith(h.root.rstrip("/") + "/"))]
    if not candidates:
        return None
    best = max(candidates, key=lambda h: len(h.root))
    below = mount.root[len(best.root):].lstrip("/")
    return posixpath.normpath(posixpath.join(best.mount_point, below))


def host_mounts_in(host: HostFacts, ctr: ContainerFacts) -> list[tuple[Mount, str]]:
    """Every container mount that is a piece of a host filesystem, with its host path."""
    own = value(host["mounts"], "the host's mounts")
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


def _unprotected(host: HostFacts, ctr: ContainerFacts, paths: tuple[str, ...], protects, how: str
                 ) -> tuple[list[str], int, Evidence, Evidence]:
    """Which of `paths` (those this kernel has) the mount covering each inside leaves unprotected."""
    expected = sorted(value(host["kernel_paths"], "the host's /proc and /sys paths") & set(paths))
    failing, lines = [], []
    for view, table in mount_views(ctr):
        for path in expected:
            cover = nearest_mount(table, path)
            safe = cover is not None and protects(cover)
            lines.append(f"{view}{path}: {how if safe else 'EXPOSED'} ({mount_line(cover) if cover else 'no mount'})")
            if not safe and path not in failing:
                failing.append(path)
    return (failing, len(expected), shown(host["kernel_paths"]),
            kernel(ctr, f"what covers each path: {ctr.outside['mounts'].label}", "\n".join(lines)))


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


def check_readonly_rootfs(host: HostFacts, ctr: ContainerFacts) -> Finding:
    root = own_root(ctr)
    read_only = _read_only(root)
    summary = ("the container's / is mounted read-only" if read_only
               else f"the container's / is writable ({root.options})")
    return Finding(read_only, summary, (),
                   (kernel(ctr, f"/ in /proc/{ctr.pid}/mountinfo", mount_line(root)),))


def check_host_mounts(host: HostFacts, ctr: ContainerFacts) -> Finding:
    rows = host_mounts_in(host, ctr)
    sensitive = [(m, path) for m, path in rows
                 if any(_is_below(s, path) for s in linux.SENSITIVE_HOST_PATHS)
                 or any(_is_below(path, tree) for tree in linux.SENSITIVE_TREES)]
    summary = ("no sensitive host directory is mounted in" if not sensitive else
               "host paths mounted in: " + ", ".join(
                   f"{path} at {m.mount_point}" + (" (read-only)" if _read_only(m) else "")
                   for m, path in sensitive))
    return Finding(not sensitive, summary, (Evidence("sensitive host paths", " ".join(linux.SENSITIVE_HOST_PATHS)),),
                   (_mount_table(ctr, rows),), tuple(dict.fromkeys(path for _, path in sensitive)))


def _sockets(host: HostFacts) -> list[str]:
    found = value(host["sockets"], "the host's runtime sockets")
    return sorted({re.sub(r"^/var/run/", "/run/", path) for path in found})


def check_runtime_socket(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """A socket is reachable when it, or a directory above it on the same filesystem, is mounted in."""
    sockets = _sockets(host)
    own = value(host["mounts"], "the host's mounts")
    reachable = []  # (socket, the host path mounted in, where)
    for mount, path in host_mounts_in(host, ctr):
        for socket in sockets:
            home = nearest_mount(own, socket)
            if _is_below(socket, path) and home is not None and home.major_minor == mount.major_minor:
                reachable.append((socket, path, mount.mount_point))
    summary = ("no container runtime socket is reachable inside" if not reachable
               else "runtime socket reachable inside: " + ", ".join(
                   f"{socket} (host {path} at {point})" for socket, path, point in reachable))
    return Finding(not reachable, summary, (shown(host["sockets"]),),
                   (_mount_table(ctr, host_mounts_in(host, ctr)),),
                   tuple(dict.fromkeys(socket for socket, _, _ in reachable)))


def check_propagation(host: HostFacts, ctr: ContainerFacts) -> Finding:
    shared = [m for m in mounts(ctr) if "shared:" in m.propagation]
    summary = ("no mount propagates events to or from the host (none is shared)" if not shared
               else "shared mount propagation: " + ", ".join(m.mount_point for m in shared))
    lines = "\n".join(f"{m.mount_point}: {m.propagation or 'private'}" for m in mounts(ctr))
    return Finding(not shared, summary, (),
                   (kernel(ctr, f"propagation of each mount in /proc/{ctr.pid}/mountinfo", lines),),
                   tuple(dict.fromkeys(m.mount_point for m in shared)))


def check_devices(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Device nodes it has, and the device cgroup that lets it create or open others.

    In a user namespace of its own the cgroup's rules do not matter: the kernel
    lets no user namespace but the host's create device nodes.
    """
    listed = value(ctr.outside["devices"], "the container's devices")

    def seen_from(device) -> list:  # the mounts of the root it was listed from
        if device.root == str(ctr.pid):
            return value(ctr.outside["process_mounts"], "its main process's mounts")
        return mounts(ctr)

    # A node on another filesystem than the container's mount at its path was reached
    # through a link swapped in while /dev was listed: the host's, not the container's.
    swapped = [d for d in listed.nodes
               if d.on != getattr(nearest_mount(seen_from(d), d.path), "major_minor", d.on)]
    nodes = [d for d in listed.nodes if d not in swapped]
    extra = [d for d in nodes if not linux.is_default_device(d)]
    rules = (ctr.outside["cgroups"].value or {}).get("devices.list")
    own_userns = value(host["ns"], "the host's namespaces").get("user") != \
        value(ctr.outside["ns"], "the container's namespaces").get("user")
    extra_rules = sorted(set(rules) - linux.DEFAULT_DEVICE_RULES) if rules is not None and not own_userns else []
    problems = []
    if extra:
        problems.append("device nodes beyond the default: " + ", ".join(
            f"{d.path} ({d.kind} {d.major}:{d.minor}"
            + (f", {linux.DANGEROUS_DEVICES[(d.kind, d.major, d.minor)]}" if (d.kind, d.major, d.minor)
               in linux.DANGEROUS_DEVICES else ", block device" if d.kind == "b" else "") + ")"
            for d in extra[:20]) + (f" and {len(extra) - 20} more" if len(extra) > 20 else ""))
    if swapped:
        problems.append("its /dev changed while it was read (links swapped in, pointing out of its root): "
                        + ", ".join(d.path for d in swapped[:5]))
    if listed.more:  # a default /dev holds a dozen nodes: hundreds more are not the default
        problems.append(f"{listed.more} more device nodes, not listed")
    if extra_rules:
        problems.append("device cgroup allows beyond the default: " + ", ".join(extra_rules))
    summary = "; ".join(problems) or "only the default device nodes, and the default device cgroup rules"
    node_text = "\n".join(f"{d.kind} {d.major}:{d.minor} {d.path}" for d in nodes) + (
        f"\n… and {listed.more} more, not listed" if listed.more else "")
    rules_text = ("\n".join(rules) if rules is not None
                  else "cgroup v2: the rules are an eBPF program the host does not list here")
    if own_userns:
        rules_text += "\n(not counted: in its own user namespace it can create no device node)"
    found = tuple(dict.fromkeys(f"{d.kind} {d.major}:{d.minor}" for d in extra)) + tuple(extra_rules)
    if swapped:
        found += ("its /dev changed while it was read",)
    if listed.more:  # unseen: a waiver accepting the listed ones does not cover these
        found += (f"{listed.more} device nodes not listed",)
    return Finding(not problems, summary, (),
                   (kernel(ctr, f"device nodes in /proc/{ctr.pid}/root/dev", node_text),
                    kernel(ctr, "devices.list of its cgroup", rules_text)), found)
