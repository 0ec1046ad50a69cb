"""Which facts each side reads, and the one round trip that reads them.

Three probes, each one batched command however many properties use it:
- the host's own view, from the probing shell's `/proc/$$` (PID 1 may be
  unreadable even for root, and the shell shares the host's namespaces);
- the kernel's view of a container, read *on the host* from `/proc/<pid>`
  and by the host's own tools entering its namespaces: evidence the
  container cannot forge;
- the container's own view, the lesson's commands run inside it: shown
  beside the rest, never trusted to make a property pass.
"""

import shlex
from dataclasses import dataclass

from . import facts, linux, probe
from .facts import Reading
from .targets import ContainerTarget, HostTarget, TargetError, explain_engine_failure
from .untrusted import decode, one_line

DEFAULT_TIMEOUT = 60


def host_facts(engines: tuple[str, ...]) -> dict[str, facts.Fact]:
    """The host's own view; `engines` are those whose containers this run verifies there."""
    me = "/proc/$$"
    return {
        **{f"engine:{engine}": facts.EngineVersion(engine) for engine in engines},
        "kernel": facts.Fact("uname -r"),
        "ns": facts.Namespaces(me),
        "root_id": facts.FileIdentity("/"),
        "ls": facts.Listing(),
        "df": facts.DiskFree("df -h /", "df -h /"),
        "mounts": facts.Mounts(me),
        "processes": facts.ProcessCount(me),
        "links": facts.Links("ip -o link", "ip link"),
        "hostname": facts.Hostname(),
        "id": facts.Identity(),
        "uid_map": facts.UidMap(me),
        "cap_last_cap": facts.Fact("cat /proc/sys/kernel/cap_last_cap"),
        "lsm": facts.LsmSupport(),
        "kernel_paths": facts.ExistingPaths(linux.MASKED_PATHS + linux.READONLY_PATHS),
        "sockets": facts.ExistingPaths(linux.RUNTIME_SOCKETS),
    }


def outside_facts(target: ContainerTarget) -> dict[str, facts.Fact]:
    proc = "/proc/$pid"
    enter = "nsenter -t $pid"
    locate = (facts.Inspect(target.engine, shlex.quote(target.ref)) if target.has_engine
              else facts.Fact(f"pid={int(target.ref)}; cat /proc/$pid/comm", f"cat /proc/{target.ref}/comm"))
    return {
        "locate": locate,
        "ns": facts.Namespaces(proc),
        "root_id": facts.FileIdentity(f"{proc}/root/"),
        "mounts": facts.Mounts(proc),
        "status": facts.Status(proc),
        "cmdline": facts.Cmdline(proc),
        "members": facts.PidNamespaceMembers(proc),
        "links": facts.Links(f"{enter} -n ip -o link", f"{enter} -n ip link", sysfs=False),
        "hostname": facts.Hostname(f"{enter} -u "),
        "uid_map": facts.UidMap(proc),
        "label": facts.SecurityLabel(proc),
        "cgroups": facts.Cgroups("$pid"),
        "devices": facts.Devices(proc),
    }


def inside_facts() -> dict[str, facts.Fact]:
    """The lesson's second terminal: what `docker run -it busybox` shows."""
    return {
        "ls": facts.Listing(),
        "df": facts.DiskFree(),
        "ps": facts.Processes(),
        "links": facts.Links(),
        "hostname": facts.Hostname(),
        "id": facts.Identity(),
    }


@dataclass(frozen=True)
class HostFacts:
    target: HostTarget
    readings: dict[str, Reading]

    def __getitem__(self, name: str) -> Reading:
        return self.readings[name]


@dataclass(frozen=True)
class ContainerFacts:
    target: ContainerTarget
    outside: dict[str, Reading]
    inside: dict[str, Reading] | None
    inside_error: str  # why the inside view is missing, when it is

    @property
    def pid(self) -> int:
        """The container's main process, as the host numbers it."""
        if not self.outside:
            raise KeyError("no host view")
        if not self.target.has_engine:
            return int(self.target.ref)
        return self.outside["locate"].value["State"]["Pid"]

    @property
    def declared(self) -> dict | None:
        """The engine's declared configuration (inspect), where there is an engine."""
        return self.outside["locate"].value if self.target.has_engine else None


def _run(host: HostTarget, shell: str, fact_set: dict[str, facts.Fact], timeout: int) -> dict[str, Reading]:
    """One round trip: all of `fact_set` read by `shell` (run on `host`), or ProbeError."""
    nonce = probe.new_nonce()
    script = probe.script({name: fact.command for name, fact in fact_set.items()}, nonce)
    _, out, err = host.run(probe.command_line(shell, script, nonce, timeout))
    status = probe.exit_status(err, nonce)
    try:
        sections = probe.parse(out, nonce, list(fact_set))
    except probe.ProbeError as exc:
        if status == 124:
            raise probe.ProbeError(f"timed out after {timeout}s") from exc
        if status not in (None, 0):
            raise probe.ProbeError(f"exit status {status}: {one_line(decode(out))}") from exc
        raise
    return {name: fact_set[name].read(s.output, s.rc) for name, s in sections.items()}


def observe_host(host: HostTarget, engines: tuple[str, ...], timeout: int = DEFAULT_TIMEOUT) -> HostFacts:
    try:
        readings = _run(host, "sh -s", host_facts(engines), timeout)
    except probe.ProbeError as exc:
        raise TargetError(f"cannot observe host {host.label}: {exc}") from exc
    if not readings["ns"].readable:
        raise TargetError(f"cannot read the namespaces of a shell on {host.label}: {readings['ns'].output.strip()}")
    return HostFacts(host, readings)


def observe_container(target: ContainerTarget, timeout: int = DEFAULT_TIMEOUT) -> ContainerFacts:
    """The kernel's view from the host, then the container's own view."""
    if not target.has_host_view:
        return _observe_inside_only(target, timeout)
    host = target.host
    try:
        outside = _run(host, "sh -s", outside_facts(target), timeout)
    except probe.ProbeError as exc:
        raise TargetError(f"cannot observe {target.label} from {host.label}: {exc}") from exc
    _require_running(target, outside)
    try:
        inside = _run(host, target.exec_command("sh -s"), inside_facts(), timeout)
        inside_error = ""
    except probe.ProbeError as exc:
        reason = str(exc)
        if "executable file not found" in reason or "no such file or directory" in reason:
            reason = "the container has no shell (sh) to run the lesson's commands in"
        inside, inside_error = None, f"no view from inside: {reason}; judged from the host's view"
    return ContainerFacts(target, outside, inside, inside_error)


def _require_running(target: ContainerTarget, outside: dict[str, Reading]) -> None:
    """Fail closed: a container the host cannot see running is an error, never a pass."""
    where = target.host.label
    if not target.has_engine:
        if not outside["locate"].readable:
            raise TargetError(f"process {target.ref} does not exist on {where}")
        _require_namespaces(target.ref, where, outside)
        return
    inspect = outside["locate"]
    if not inspect.readable:
        text = inspect.output
        if "no such" in text.lower():
            raise TargetError(f"container {target.ref} does not exist on {where}: "
                              f"check `{target.engine} ps -a` there")
        raise TargetError(explain_engine_failure(target.engine, target.host, text))
    state = inspect.value.get("State", {})
    if not state.get("Running") or not state.get("Pid"):
        raise TargetError(f"container {target.ref} on {where} is not running "
                          f"(status: {one_line(str(state.get('Status', '?')), 40)}): "
                          "start it, or name a running container")
    _require_namespaces(state["Pid"], where, outside)


def _require_namespaces(pid, where: str, outside: dict[str, Reading]) -> None:
    if not outside["ns"].readable:
        raise TargetError(f"cannot read /proc/{pid}/ns on {where}: the host-side view "
                          "needs root there (run as root, or add ?sudo=true to the --iso-host URL)")


def _observe_inside_only(target: ContainerTarget, timeout: int) -> ContainerFacts:
    """A pod reached by kubectl: testinfra's kubectl backend runs the inside probe in it."""
    pod = HostTarget(target.label)
    try:
        inside = _run(pod, "sh -s", inside_facts(), timeout)
    except probe.ProbeError as exc:
        raise TargetError(f"cannot observe {target.label}: {exc}") from exc
    return ContainerFacts(target, {}, inside, "")
