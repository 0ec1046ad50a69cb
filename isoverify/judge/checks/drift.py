"""Drift: where the declared configuration (`<engine> inspect`, or for a pod's container the
OCI runtime spec its CRI runtime holds) and the kernel disagree.

Tools that read only the declaration miss what changed after start, what the
daemon added, and what a runtime silently could not apply. Each compared
field is one row, declared beside observed; every disagreement is a finding.
"""

from typing import TYPE_CHECKING

from isoverify.judge.checks import filesystem
from isoverify.judge.checks.base import Finding, Unobservable, kernel, status, value
from isoverify.judge.checks.privileges import capability_sets
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts

if TYPE_CHECKING:  # what a pod's CRI runtime said of it: only named here
    from isoverify.collect.cri import PodContainer

NAMESPACE_MODES = (("pid", "PidMode"), ("net", "NetworkMode"), ("uts", "UTSMode"),
                   ("ipc", "IpcMode"), ("cgroup", "CgroupnsMode"), ("user", "UsernsMode"))


def _cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def declared_capabilities(inspect: dict, engine: str, last_cap: int) -> frozenset[str]:
    """The bounding set the declaration asks for: the runtime's default, plus adds, minus drops."""
    config = inspect["HostConfig"]
    everything = linux.all_capabilities(last_cap)
    if config.get("Privileged"):
        return everything
    add = {_cap(c) for c in config.get("CapAdd") or []}
    drop = {_cap(c) for c in config.get("CapDrop") or []}
    if "ALL" in drop:
        return everything if "ALL" in add else frozenset(add)
    base = everything if "ALL" in add else linux.DEFAULT_CAPABILITIES[engine] | add
    return frozenset(base - drop)


def _security_opt(config: dict, *names: str) -> bool:
    return any(opt.replace(":", "=") in names for opt in config.get("SecurityOpt") or [])


def _first(files: dict[str, list[str]], *names: str) -> str | None:
    """The first line of the first of `names` the cgroup has."""
    return next((files[name][0] for name in names if files.get(name)), None)


def _limit_rows(config: dict, files: dict[str, list[str]]) -> list[tuple[str, str, str, bool]]:
    rows = []
    memory = _first(files, "memory.limit_in_bytes", "memory.max")
    if memory is not None:
        declared = config.get("Memory") or 0
        observed = 0 if memory == "max" or int(memory) >= linux.UNLIMITED_MEMORY_V1 else int(memory)
        rows.append(("HostConfig.Memory", str(declared or "unlimited"), str(observed or "unlimited"),
                     declared == observed))
    pids = _first(files, "pids.max")
    if pids is not None:
        declared = config.get("PidsLimit") or 0
        declared = 0 if declared < 0 else declared
        observed = 0 if pids == "max" else int(pids)
        # systemd gives each unit a tasks limit of its own (TasksMax): one the engine was not
        # asked for is the host's, and only narrows what was declared
        rows.append(("HostConfig.PidsLimit", str(declared or "unlimited"),
                     str(observed or "unlimited") + (" (not the engine's: set by the host)"
                                                     if observed and not declared else ""),
                     declared in (observed, 0)))
    quota = _first(files, "cpu.cfs_quota_us")
    if quota is not None:
        period = int((files.get("cpu.cfs_period_us") or ["100000"])[0])
        declared = config.get("CpuQuota") or (config.get("NanoCpus") or 0) * period // 10 ** 9
        observed = max(int(quota), 0)
        rows.append(("HostConfig.NanoCpus / CpuQuota", f"{declared} µs per {period} µs" if declared else "unlimited",
                     f"{observed} µs per {period} µs" if observed else "unlimited", declared == observed))
    return rows


# The OCI spec's name of each namespace the kernel shows.
OCI_NAMESPACES = (("pid", "pid"), ("net", "network"), ("uts", "uts"), ("ipc", "ipc"), ("cgroup", "cgroup"),
                  ("user", "user"))


def _pod_drift(host: HostFacts, ctr: ContainerFacts, pod: "PodContainer") -> Finding:
    """A pod's container: its runtime spec (what the kubelet asked for) against the kernel."""
    spec = pod.spec
    if spec is None:
        raise Unobservable(f"the CRI runtime holds no runtime spec for it to compare with: {pod.info_error}")
    host_ns = value(host["ns"], "the host's namespaces")
    ctr_ns = value(ctr.outside["ns"], "the container's namespaces")
    rows: list[tuple[str, str, str, bool]] = []
    for kind, oci in OCI_NAMESPACES:
        asked = spec.namespaces.get(oci)
        if asked or kind not in host_ns or kind not in ctr_ns:
            continue  # one it joins is its pod's sandbox's: the namespace properties judge where that stands
        shared = host_ns[kind] == ctr_ns[kind]
        rows.append((f"linux.namespaces {oci}", "its own" if asked == "" else "none (the node's)",
                     "the host's" if shared else "its own", (asked is None) == shared))

    wanted = frozenset(_cap(c) for c in spec.capabilities["bounding"])
    bounding = capability_sets(ctr)["CapBnd"]
    differences = [f"+{c}" for c in sorted(bounding - wanted)] + [f"-{c}" for c in sorted(wanted - bounding)]
    rows.append(("process.capabilities.bounding", f"{len(wanted)} capabilities",
                 f"{len(bounding)} capabilities" + (f" ({' '.join(differences)})" if differences else ""),
                 not differences))

    proc = status(ctr)
    mode = proc.get("Seccomp", "?")
    rows.append(("linux.seccomp", "filtered" if spec.seccomp else "none (unconfined)",
                 {"0": "unconfined"}.get(mode, f"mode {mode}"), (mode == "0") == (spec.seccomp is None)))
    nnp = proc.get("NoNewPrivs") == "1"
    rows.append(("process.noNewPrivileges", "on" if spec.no_new_privileges else "off", "on" if nnp else "off",
                 nnp == spec.no_new_privileges))
    read_only = all("ro" in root.options.split(",") for _, root in filesystem.root_filesystems(ctr))
    rows.append(("root.readonly", str(spec.readonly_rootfs).lower(), str(read_only).lower(),
                 spec.readonly_rootfs == read_only))
    if spec.uid is not None and host_ns.get("user") == ctr_ns.get("user"):
        uid = (proc.get("Uid", "?").split()[1:2] or ["?"])[0]
        rows.append(("process.user.uid", str(spec.uid), uid, str(spec.uid) == uid))
    return _drift_finding(ctr, rows, "the CRI runtime spec")


def check_drift(host: HostFacts, ctr: ContainerFacts) -> Finding:
    if ctr.target.pod is not None:
        return _pod_drift(host, ctr, ctr.target.pod)
    inspect = ctr.declared
    if inspect is None:
        return Finding(False, "not available: a bare process has no declared configuration to "
                              "compare the kernel with", (), ())
    config, declared_config = inspect.get("HostConfig"), inspect.get("Config", {})
    if not isinstance(config, dict):
        raise Unobservable("the engine's inspect output has no HostConfig")
    engine = ctr.target.engine
    host_ns = value(host["ns"], "the host's namespaces")
    ctr_ns = value(ctr.outside["ns"], "the container's namespaces")
    rows: list[tuple[str, str, str, bool]] = []

    for kind, field in NAMESPACE_MODES:
        mode = config.get(field) or ""
        if kind not in host_ns or kind not in ctr_ns or mode.startswith("container:") or field not in config:
            continue
        shared = host_ns[kind] == ctr_ns[kind]
        if kind == "user" and not mode:
            continue  # the daemon's userns-remap decides; nothing declared per container
        rows.append((f"HostConfig.{field}", mode or "(default: its own)",
                     "the host's" if shared else "its own", (mode == "host") == shared))

    last_cap = int(value(host["cap_last_cap"], "the host's last capability"))
    wanted = declared_capabilities(inspect, engine, last_cap)
    bounding = capability_sets(ctr)["CapBnd"]
    if config.get("Privileged") or "ALL" in {_cap(c) for c in config.get("CapAdd") or []}:
        wanted, bounding = wanted - linux.NEWER_CAPABILITIES, bounding - linux.NEWER_CAPABILITIES
    differences = [f"+{c}" for c in sorted(bounding - wanted)] + [f"-{c}" for c in sorted(wanted - bounding)]
    rows.append(("HostConfig.CapAdd / CapDrop / Privileged", f"{len(wanted)} capabilities",
                 f"{len(bounding)} capabilities" + (f" ({' '.join(differences)})" if differences else ""),
                 not differences))

    proc = status(ctr)
    unconfined = config.get("Privileged") or _security_opt(config, "seccomp=unconfined")
    mode = proc.get("Seccomp", "?")
    rows.append(("HostConfig.SecurityOpt seccomp", "unconfined" if unconfined else "filtered",
                 {"0": "unconfined"}.get(mode, f"mode {mode}"), (mode == "0") == bool(unconfined)))
    nnp = _security_opt(config, "no-new-privileges", "no-new-privileges=true")
    rows.append(("HostConfig.SecurityOpt no-new-privileges", "on" if nnp else "off",
                 "on" if proc.get("NoNewPrivs") == "1" else "off", (proc.get("NoNewPrivs") == "1") == nnp))

    read_only = all("ro" in root.options.split(",") for _, root in filesystem.root_filesystems(ctr))
    rows.append(("HostConfig.ReadonlyRootfs", str(bool(config.get("ReadonlyRootfs"))).lower(),
                 str(read_only).lower(), bool(config.get("ReadonlyRootfs")) == read_only))

    if ctr.outside["cgroups"].readable:
        rows.extend(_limit_rows(config, ctr.outside["cgroups"].value.own))

    user = (declared_config.get("User") or "0").split(":")[0]
    if user.isdigit() and host_ns.get("user") == ctr_ns.get("user"):
        uid = proc.get("Uid", "?").split()[1:2] or ["?"]
        rows.append(("Config.User", user, uid[0], user == uid[0]))

    observed_name = ctr.outside["hostname"].value
    if observed_name is not None and config.get("UTSMode") != "host" and declared_config.get("Hostname"):
        rows.append(("Config.Hostname", declared_config["Hostname"], observed_name,
                     declared_config["Hostname"] == observed_name))

    return _drift_finding(ctr, rows, f"{engine} inspect")


def _drift_finding(ctr: ContainerFacts, rows: list[tuple[str, str, str, bool]], declaration: str) -> Finding:
    drifted = [row for row in rows if not row[3]]
    summary = (f"the kernel shows what the declaration ({declaration}) says, on all {len(rows)} compared fields"
               if not drifted else "; ".join(f"{field}: declared {d}, observed {o}" for field, d, o, _ in drifted))
    table = "\n".join(f"{'  ' if agree else '≠ '}{field}: declared {d} | observed {o}" for field, d, o, agree in rows)
    return Finding(not drifted, summary, (),
                   (kernel(ctr, f"declared ({declaration}) against observed", table),))
