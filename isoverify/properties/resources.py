"""Resource limits, read in the container's cgroups on the host (v1 and v2)."""

from .. import linux
from ..observe import ContainerFacts, HostFacts
from .base import Finding, Unobservable, shown, value


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


def check_memory_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    found = _first(_files(ctr), "memory.limit_in_bytes", "memory.max")
    if found is None:
        raise _missing("memory")
    name, limit = found
    unlimited = limit == "max" or (limit.isdigit() and int(limit) >= linux.UNLIMITED_MEMORY_V1)
    summary = (f"no memory limit ({name} = {limit})" if unlimited
               else f"memory limited to {int(limit) // 2 ** 20} MiB ({name} = {limit})")
    return Finding(not unlimited, summary, (), (shown(ctr.outside["cgroups"]),))


def check_pids_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    found = _first(_files(ctr), "pids.max")
    if found is None:
        raise _missing("pids")
    _, limit = found
    summary = ("no limit on the number of processes (pids.max = max)" if limit == "max"
               else f"at most {limit} processes (pids.max)")
    return Finding(limit != "max", summary, (), (shown(ctr.outside["cgroups"]),))


def check_cpu_limit(host: HostFacts, ctr: ContainerFacts) -> Finding:
    files = _files(ctr)
    quota = _first(files, "cpu.cfs_quota_us")
    period = _first(files, "cpu.cfs_period_us")
    if quota is not None and period is not None:
        limited = quota[1] not in ("-1", "max")
        amount = f"{int(quota[1]) / int(period[1]):.2f} CPUs" if limited else ""
        setting = f"cpu.cfs_quota_us = {quota[1]}, cpu.cfs_period_us = {period[1]}"
    else:
        cpu_max = _first(files, "cpu.max")
        if cpu_max is None:
            raise _missing("cpu")
        quota_text, _, period_text = cpu_max[1].partition(" ")
        limited = quota_text != "max"
        amount = f"{int(quota_text) / int(period_text):.2f} CPUs" if limited else ""
        setting = f"cpu.max = {cpu_max[1]}"
    summary = f"CPU time limited to {amount} ({setting})" if limited else f"no CPU quota ({setting})"
    return Finding(limited, summary, (), (shown(ctr.outside["cgroups"]),))
