"""Resource limits, read in the container's cgroups on the host (v1 and v2).

A limit is a limit only below what the host has: a memory limit at or above the host's
memory, a CPU quota of all its CPUs or more, a pids limit at or above its pid_max limit
nothing, and the summary says what the host has.
"""

from .. import linux
from ..model import ContainerFacts, HostFacts
from .base import Evidence, Finding, Unobservable, shown, value


def _files(ctr: ContainerFacts) -> dict[str, list[str]]:
    return value(ctr.outside["cgroups"], "the container's cgroups")


def _first(files: dict[str, list[str]], *names: str) -> tuple[str, str] | None:
    """The first of `names` the cgroup has, with its first line."""
    for name in names:
        if files.get(name):
            return name, files[name][0].strip()
    return None


def _missing(controller: str) -> Unobservable:
    return Unobservable(f"no {controller} controller for the container's cgroup, neither v1 nor v2")


def _capacity(host: HostFacts) -> tuple[dict[str, int], Evidence]:
    have = value(host["capacity"], "what the host has")
    return have, Evidence(f"$ {host['capacity'].label}",
                          f"memory {have['memory']} bytes ({have['memory'] // 2 ** 20} MiB), "
                          f"{have['cpus']} CPUs, pid_max {have['pid_max']}")


def check_memory_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    have, host_ev = _capacity(host)
    found = _first(_files(ctr), "memory.limit_in_bytes", "memory.max")
    if found is None:
        raise _missing("memory")
    name, limit = found
    if limit == "max" or (limit.isdigit() and int(limit) >= linux.UNLIMITED_MEMORY_V1):
        holds, summary = False, f"no memory limit ({name} = {limit})"
    elif int(limit) >= have["memory"]:
        holds, summary = False, (f"a memory limit of {int(limit) // 2 ** 20} MiB limits nothing: the host has "
                                 f"{have['memory'] // 2 ** 20} MiB ({name} = {limit})")
    else:
        holds, summary = True, (f"memory limited to {int(limit) // 2 ** 20} MiB of the host's "
                                f"{have['memory'] // 2 ** 20} MiB ({name} = {limit})")
    return Finding(holds, summary, (host_ev,), (shown(ctr.outside["cgroups"]),))


def check_pids_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    have, host_ev = _capacity(host)
    found = _first(_files(ctr), "pids.max")
    if found is None:
        raise _missing("pids")
    _, limit = found
    if limit == "max":
        holds, summary = False, "no limit on the number of processes (pids.max = max)"
    elif int(limit) >= have["pid_max"]:
        holds, summary = False, (f"a limit of {limit} processes limits nothing: the host's pid_max is "
                                 f"{have['pid_max']} (pids.max)")
    else:
        holds, summary = True, f"at most {limit} processes (pids.max; the host's pid_max is {have['pid_max']})"
    return Finding(holds, summary, (host_ev,), (shown(ctr.outside["cgroups"]),))


def check_cpu_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """The CFS quota (CPU time per period): a hard cap, unlike CPU shares, which only weigh
    containers against each other when the CPUs are busy."""
    have, host_ev = _capacity(host)
    files = _files(ctr)
    quota = _first(files, "cpu.cfs_quota_us")
    period = _first(files, "cpu.cfs_period_us")
    if quota is not None and period is not None:
        quota_text, period_text = quota[1], period[1]
        setting = f"cpu.cfs_quota_us = {quota[1]}, cpu.cfs_period_us = {period[1]}"
    else:
        cpu_max = _first(files, "cpu.max")
        if cpu_max is None:
            raise _missing("cpu")
        quota_text, _, period_text = cpu_max[1].partition(" ")
        setting = f"cpu.max = {cpu_max[1]}"
    if quota_text in ("-1", "max"):
        holds, summary = False, f"no CPU quota ({setting})"
    else:
        cpus = int(quota_text) / int(period_text)
        holds = cpus < have["cpus"]
        summary = (f"CPU time limited to {cpus:.2f} CPUs of the host's {have['cpus']} ({setting})" if holds
                   else f"a CPU quota of {cpus:.2f} CPUs limits nothing: the host has {have['cpus']} ({setting})")
    return Finding(holds, summary, (host_ev,), (shown(ctr.outside["cgroups"]),))
