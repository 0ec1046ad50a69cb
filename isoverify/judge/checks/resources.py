"""Resource limits, read in the container's cgroups on the host (v1 and v2).

A cgroup's limit bounds every cgroup below it: the limit in force is the lowest from
the container's own cgroup up to its hierarchy's root, and the summary says which
cgroup sets it — its own, by the engine's flag or by the host's init system (systemd
gives each unit a tasks limit of its own), or one above it. A limit is a limit only
below what the host has: a memory limit at or above the host's memory, a CPU quota of
all its CPUs or more, a pids limit at or above its pid_max limit nothing, and the
summary says what the host has.
"""

from isoverify.judge.checks.base import Evidence, Finding, Unobservable, shown, value
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts


def _chain(ctr: ContainerFacts, *names: str) -> tuple[str, list[tuple[str, str]]] | None:
    """The first of `names` its cgroup has, with its value in each cgroup up to the root."""
    files = value(ctr.outside["cgroups"], "the container's cgroups")
    for name in names:
        if files.chain.get(name):
            return name, files.chain[name]
    return None


def _missing(controller: str) -> Unobservable:
    return Unobservable(f"no {controller} controller for the container's cgroup, neither v1 nor v2")


def _capacity(host: HostFacts) -> tuple[dict[str, int], Evidence]:
    have = value(host["capacity"], "what the host has")
    return have, Evidence(f"$ {host['capacity'].label}",
                          f"memory {have['memory']} bytes ({have['memory'] // 2 ** 20} MiB), "
                          f"{have['cpus']} CPUs, pid_max {have['pid_max']}")


def _lowest(chain: list[tuple[str, str]], amount) -> tuple[float | None, str]:
    """The lowest limit along the chain (None: none), and the cgroup that sets it."""
    limits = [(amount(text), where) for where, text in chain]
    limits = [(limit, where) for limit, where in limits if limit is not None]
    return min(limits, key=lambda pair: pair[0]) if limits else (None, "")


def _source(ctr: ContainerFacts, chain: list[tuple[str, str]], where: str, field: str) -> str:
    """Who set the limit in force: the engine's flag on its own cgroup, the host on its own
    cgroup (systemd's TasksMax, say), or a cgroup above it."""
    config = (ctr.declared or {}).get("HostConfig") or {}
    declared = config.get(field) or 0
    if where != chain[0][0]:
        return f"set above it, on {where}"
    if isinstance(declared, int) and declared > 0:
        return f"on its own cgroup, the engine's flag (HostConfig.{field} = {declared})"
    return ("on its own cgroup, not by the engine (HostConfig." + field + " is unset): the host's init system "
            "sets it (systemd's default for each unit)" if ctr.declared is not None else "on its own cgroup")


def _evidence(ctr: ContainerFacts, name: str, chain: list[tuple[str, str]]) -> Evidence:
    base = shown(ctr.outside["cgroups"])
    return Evidence(base.label, f"{name}, from its own cgroup up to the root:\n"
                    + "\n".join(f"{where}: {text}" for where, text in chain))


def _memory(text: str) -> int | None:
    return None if text == "max" or not text.isdigit() or int(text) >= linux.UNLIMITED_MEMORY_V1 else int(text)


def check_memory_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    have, host_ev = _capacity(host)
    found = _chain(ctr, "memory.limit_in_bytes", "memory.max")
    if found is None:
        raise _missing("memory")
    name, chain = found
    limit, where = _lowest(chain, _memory)
    if limit is None:
        holds, summary = False, f"no memory limit ({name} = {chain[0][1]}, and none above it)"
    else:
        source = f"{name} = {limit}, {_source(ctr, chain, where, 'Memory')}"
        holds = limit < have["memory"]
        summary = (f"memory limited to {limit // 2 ** 20} MiB of the host's {have['memory'] // 2 ** 20} MiB ({source})"
                   if holds else f"a memory limit of {limit // 2 ** 20} MiB limits nothing: the host has "
                                 f"{have['memory'] // 2 ** 20} MiB ({source})")
    return Finding(holds, summary, (host_ev,), (_evidence(ctr, name, chain),))


def check_pids_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    have, host_ev = _capacity(host)
    found = _chain(ctr, "pids.max")
    if found is None:
        raise _missing("pids")
    name, chain = found
    limit, where = _lowest(chain, lambda text: int(text) if text.isdigit() else None)
    if limit is None:
        holds, summary = False, "no limit on the number of processes (pids.max = max, and none above it)"
    else:
        source = f"pids.max = {limit}, {_source(ctr, chain, where, 'PidsLimit')}"
        holds = limit < have["pid_max"]
        summary = (f"at most {limit} processes ({source}; the host's pid_max is {have['pid_max']})" if holds
                   else f"a limit of {limit} processes limits nothing: the host's pid_max is {have['pid_max']} "
                        f"({source})")
    return Finding(holds, summary, (host_ev,), (_evidence(ctr, name, chain),))


def _cpus(quota: str, period: str) -> float | None:
    if quota in ("-1", "max") or not quota.isdigit() or not period.isdigit() or not int(period):
        return None
    return int(quota) / int(period)


def check_cpu_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """The CFS quota (CPU time per period): a hard cap, unlike CPU shares, which only weigh
    containers against each other when the CPUs are busy."""
    have, host_ev = _capacity(host)
    quotas, periods = _chain(ctr, "cpu.cfs_quota_us"), _chain(ctr, "cpu.cfs_period_us")
    if quotas is not None and periods is not None:
        period_of = dict(periods[1])
        name, chain = quotas[0], [(where, f"{quota} per {period_of.get(where, '100000')}")
                                  for where, quota in quotas[1]]
    else:
        found = _chain(ctr, "cpu.max")
        if found is None:
            raise _missing("cpu")
        name, chain = found
    cpus, where = _lowest(chain, lambda text: _cpus(*(text.replace(" per ", " ").split() + ["100000"])[:2]))
    field = "NanoCpus" if ((ctr.declared or {}).get("HostConfig") or {}).get("NanoCpus") else "CpuQuota"
    if cpus is None:
        holds, summary = False, f"no CPU quota ({name} = {chain[0][1]}, and none above it)"
    else:
        source = f"{name} = {dict(chain)[where]}, {_source(ctr, chain, where, field)}"
        holds = cpus < have["cpus"]
        summary = (f"CPU time limited to {cpus:.2f} CPUs of the host's {have['cpus']} ({source})" if holds
                   else f"a CPU quota of {cpus:.2f} CPUs limits nothing: the host has {have['cpus']} ({source})")
    return Finding(holds, summary, (host_ev,), (_evidence(ctr, name, chain),))
