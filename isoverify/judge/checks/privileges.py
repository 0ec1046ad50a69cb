"""What the container's processes may do: capabilities, seccomp, no_new_privs, LSM, uid.

From /proc/<pid>/status and /proc/<pid>/attr read on the host, and the seccomp filters
the kernel hands to root (run by isoverify.kernel.seccomp); which capabilities exist comes from
the host's /proc/sys/kernel/cap_last_cap.
"""

from isoverify.judge.checks import filesystem
from isoverify.judge.checks.base import Evidence, Finding, Unobservable, kernel, shown, status, task, value, yardstick
from isoverify.kernel import linux, seccomp
from isoverify.model import ContainerFacts, HostFacts

CAP_SETS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def capability_sets(ctr: ContainerFacts) -> dict[str, frozenset[str]]:
    fields = status(ctr)
    return {name: linux.decode_capabilities(fields.get(name, "0")) for name in CAP_SETS}


def _caps_evidence(ctr: ContainerFacts, sets: dict[str, frozenset[str]]) -> Evidence:
    fields = status(ctr)
    lines = [f"{name}: {fields.get(name, '?')}  {', '.join(sorted(sets[name])) or '(none)'}"
             for name in CAP_SETS]
    return kernel(ctr, f"Cap* in /proc/{ctr.pid}/status, decoded", "\n".join(lines))


def _cap_last_cap(host: HostFacts) -> tuple[int, Evidence]:
    last = int(value(host["cap_last_cap"], "the host's last capability"))
    return last, Evidence("$ cat /proc/sys/kernel/cap_last_cap",
                          f"{last}: this kernel has {last + 1} capabilities")


def check_caps(host: HostFacts, ctr: ContainerFacts) -> Finding:
    last, host_ev = _cap_last_cap(host)
    sets = capability_sets(ctr)
    granted = frozenset().union(*sets.values())
    engine = yardstick(ctr)
    default = linux.DEFAULT_CAPABILITIES[engine]
    beyond = sorted(granted - default)
    dangerous = sorted(granted & linux.DANGEROUS_CAPABILITIES)
    if not beyond:
        summary = (f"{len(granted)} of the kernel's {last + 1} capabilities, all within "
                   f"{engine}'s default set of {len(default)}")
    else:
        summary = (f"{len(granted)} of the kernel's {last + 1} capabilities, beyond {engine}'s default: "
                   + ", ".join(beyond))
        if dangerous:
            summary += "; dangerous: " + ", ".join(dangerous)
    return Finding(not beyond, summary, (host_ev,), (_caps_evidence(ctr, sets),), tuple(beyond))


def _seccomp_mode(ctr: ContainerFacts) -> str:
    return status(ctr).get("Seccomp", "?")


SECCOMP_MODES = {"0": "disabled", "1": "strict", "2": "filter"}


def let_through(ctr: ContainerFacts, own_capabilities: bool = True) -> list[str]:
    """The guarded system calls its filters in force let through (seccomp.GUARDED), but for
    those its own capabilities are meant to open and its runtime's default profile lets
    through (unless `own_capabilities` is False: all of them); every one of them with no
    filter; none in strict mode (read, write, exit, sigreturn)."""
    mode = _seccomp_mode(ctr)
    if mode == "1":
        return []
    if mode == "0":
        return list(seccomp.GUARDED)
    filters = value(ctr.outside["filters"], "its seccomp filters").get(str(ctr.pid))
    if not isinstance(filters, list):
        why = (filters or "not read").removeprefix("unreadable").strip(" :")
        raise Unobservable(f"could not read the seccomp filters of {task(ctr)}: {why}")
    if not own_capabilities:
        return seccomp.let_through(filters)
    sets = capability_sets(ctr)
    engine = yardstick(ctr)
    return seccomp.let_through(filters, sets["CapEff"] | sets["CapBnd"], seccomp.DEFAULT_LETS_THROUGH[engine])


def _filter_evidence(ctr: ContainerFacts, through: list[str]) -> Evidence:
    fields = status(ctr)
    text = (f"Seccomp: {fields.get('Seccomp', '?')}, Seccomp_filters: {fields.get('Seccomp_filters', '?')}\n"
            f"let through, on x86-64, x32 or i386: {', '.join(through) or 'none of ' + str(len(seccomp.GUARDED))}")
    if through and fields.get("Seccomp") == "2":  # how, for which inputs
        text += "\n" + "\n".join(seccomp.explained(value(ctr.outside["filters"], "its seccomp filters")[str(ctr.pid)],
                                                     through))
    return kernel(ctr, f"the filters of process {ctr.pid}, judged on every input of the calls a default profile "
                       "refuses", text)


def writable_disks(host: HostFacts, ctr: ContainerFacts, cgroup: "filesystem.DeviceCgroup") -> list[str]:
    """The host's block devices its device cgroup lets it write, which it has a node for or
    can make one (CAP_MKNOD in the host's user namespace): it can rewrite what the host stores."""
    registered = value(host["kernel_devices"], "the devices the host's kernel has")
    listed = {(d.kind, d.major, d.minor) for d in value(ctr.outside["devices"], "the container's devices").nodes}
    host_userns = value(host["ns"], "the host's namespaces").get("user") == \
        value(ctr.outside["ns"], "the container's namespaces").get("user")
    makes_nodes = host_userns and "MKNOD" in capability_sets(ctr)["CapEff"]
    return [f"b {major}:{minor}" for kind, major, minor in sorted(registered)
            if kind == "b" and cgroup.opens(kind, major, minor, "w")
            and (makes_nodes or (kind, major, minor) in listed)]


def check_privileged(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Privileged-equivalent is what the kernel shows, whatever the --privileged flag says:
    (nearly) every capability, no filter worth the name, and the host's devices or its
    kernel's tunables at hand — or, whatever else it lacks, the host's disks to write."""
    last, host_ev = _cap_last_cap(host)
    sets = capability_sets(ctr)
    missing = sorted(linux.all_capabilities(last) - sets["CapBnd"])
    nearly_all_caps = len(set(missing) - linux.NEWER_CAPABILITIES) <= 2
    through = let_through(ctr, own_capabilities=False)
    unfiltered = len(through) == len(seccomp.GUARDED)
    cgroup = filesystem.device_cgroup(ctr)
    all_devices = cgroup.every_device()
    extra_devices = [d.path for d in value(ctr.outside["devices"], "the container's devices").nodes
                     if not linux.is_default_device(d)]
    open_kernel = bool(filesystem.exposed_kernel_paths(host, ctr))
    signs = {
        "(nearly) all capabilities": nearly_all_caps,
        "no seccomp filter, or one that lets every guarded call through": unfiltered,
        "device cgroup allows every device, or /proc and /sys unmasked and writable": all_devices or open_kernel,
    }
    disks = writable_disks(host, ctr, cgroup)
    privileged = all(signs.values()) or bool(disks)
    shown_signs = "; ".join(f"{name}: {'yes' if seen else 'no'}" for name, seen in signs.items())
    summary = (f"privileged-equivalent: {shown_signs}" if all(signs.values())
               else f"not privileged-equivalent ({shown_signs})")
    if disks and not all(signs.values()):
        summary = (f"privileged-equivalent: its device cgroup lets it write the host's block devices "
                   f"({', '.join(disks[:5])}{' and more' if len(disks) > 5 else ''}) and it can open them, "
                   f"so it can rewrite every file the host stores (besides: {shown_signs})")
    device_text = "\n".join(extra_devices) or "(only the default devices)"
    return Finding(
        not privileged, summary, (host_ev,),
        (_caps_evidence(ctr, sets),
         kernel(ctr, "capabilities missing from the bounding set", ", ".join(missing) or "(none)"),
         _filter_evidence(ctr, through),
         kernel(ctr, "its device cgroup: devices.list (v1), the device programs in effect (v2)",
                cgroup.shown() + f"\nevery device: {'allowed' if all_devices else 'not allowed'}"
                + f"\nthe host's block devices it can write: {', '.join(disks) or 'none'}"),
         kernel(ctr, "device nodes beyond the default in the container's /dev", device_text)),
    )


def check_seccomp(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """The filter in force, not its presence: run on the calls a runtime's default profile
    refuses, it must refuse them too (but those the process's capabilities are meant to open)."""
    mode = _seccomp_mode(ctr)
    name = SECCOMP_MODES.get(mode, "unknown")
    through = let_through(ctr)
    if mode == "0":
        summary = f"seccomp {name} (mode 0): every system call reaches the host's kernel"
    elif not through:
        opened = len(let_through(ctr, own_capabilities=False))
        summary = (f"seccomp in {name} mode ({mode}): the filter in force refuses the calls a default profile "
                   f"refuses" + (f", but {opened} its capabilities open by design" if opened else
                                 f", all {len(seccomp.GUARDED)}"))
    else:  # which calls, where and for which inputs
        filters = value(ctr.outside["filters"], "its seccomp filters")[str(ctr.pid)]
        summary = (f"seccomp in {name} mode, but the filter lets every call a default profile refuses through: "
                   if len(through) == len(seccomp.GUARDED) else
                   "the seccomp filter in force lets through calls a default profile refuses: ")
        summary += seccomp.described(filters, through)
    return Finding(not through, summary, (), (_filter_evidence(ctr, through),), tuple(through))


def check_nnp(host: HostFacts, ctr: ContainerFacts) -> Finding:
    flag = status(ctr).get("NoNewPrivs", "?")
    summary = ("no_new_privs is set: setuid binaries and file capabilities cannot raise privileges"
               if flag == "1" else "no_new_privs is not set: a setuid binary inside can gain privileges")
    return Finding(flag == "1", summary, (),
                   (kernel(ctr, f"NoNewPrivs in /proc/{ctr.pid}/status", flag),))


def check_lsm(host: HostFacts, ctr: ContainerFacts) -> Finding:
    available = value(host["lsm"], "the host's security modules")
    label_reading = ctr.outside["label"]
    label = label_reading.value or ""
    host_ev = (shown(host["lsm"]),)
    ctr_ev = (shown(label_reading),)
    if not available:
        return Finding(False, "not available: the host's kernel runs neither AppArmor nor SELinux, "
                              "so no security module confines the container", host_ev, ctr_ev)
    unconfined = not linux.label_confines(label)
    summary = (f"confined by {' and '.join(sorted(available))}: {label}" if not unconfined
               else f"unconfined although the host runs {' and '.join(sorted(available))} "
                    f"(label: {label or 'none'})")
    return Finding(not unconfined, summary, host_ev, ctr_ev)


def check_nonroot(host: HostFacts, ctr: ContainerFacts) -> Finding:
    uids = status(ctr).get("Uid", "").split()
    if len(uids) != 4:
        raise ValueError("no Uid line in the container's status")
    root_ids = [kind for kind, uid in zip(("real", "effective", "saved", "filesystem"), uids) if uid == "0"]
    summary = (f"process {ctr.pid} runs as host uid {uids[1]}, not root"
               if not root_ids else f"process {ctr.pid} has host uid 0 ({', '.join(root_ids)}): root on the host")
    return Finding(not root_ids, summary, (),
                   (kernel(ctr, f"Uid (real, effective, saved, fs) in /proc/{ctr.pid}/status", " ".join(uids)),
                    shown(ctr.outside["uid_map"])))
