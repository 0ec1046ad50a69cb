"""Which facts each side reads, and the one round trip per host that reads them all.

One batched command per host, however many properties and containers:
- the host's own view, from the probing shell's `/proc/$$` (PID 1 may be
  unreadable even for root, and the shell shares the host's namespaces);
- for each container, the kernel's view, read *on the host* from
  `/proc/<pid>` and by the host's own tools entering its namespaces:
  evidence the container cannot forge;
- for each container, its own view — the lesson's commands run inside it,
  by entering its namespaces from the host (`nsenter`, a few milliseconds)
  or through the engine (`docker exec`, the path users know) — shown beside
  the rest, never trusted to make a property pass. It comes back as a nested
  probe, base64-encoded, so nothing it prints can disturb the framing of the
  host's own sections.
"""

import base64
import binascii
import shlex
from dataclasses import dataclass

from . import facts, linux, probe
from .facts import Reading
from .targets import ContainerTarget, HostTarget, TargetError, explain_engine_failure
from .untrusted import decode, one_line

DEFAULT_TIMEOUT = 60
INSIDE_PATHS = ("nsenter", "exec")  # how the inside view is reached
INSIDE_LIMIT = 512 * 1024  # bytes of one container's own view; a flood beyond is cut, and said so


def host_facts(engines: tuple[str, ...], refs: dict[str, list[str]], timeout: int) -> dict[str, facts.Fact]:
    """The host's own view; `engines` are those whose containers this run verifies there,
    `refs` the containers each engine is asked about (all at once)."""
    me = "/proc/$$"
    return {
        **{f"engine:{engine}": facts.EngineVersion(engine, timeout) for engine in engines},
        **{f"inspect:{engine}": facts.Inspect(engine, [shlex.quote(r) for r in names], timeout)
           for engine, names in refs.items() if names},
        "kernel": facts.Fact("uname -r"),
        "ns": facts.Namespaces(me),
        "root_id": facts.FileIdentity("/"),
        "ls": facts.Listing(),
        "df": facts.DiskFree("df -h /", "df -h /"),
        "mounts": facts.Mounts(me),
        "process_table": facts.ProcessTable(),
        "links": facts.Links("ip -o link", "ip link"),
        "hostname": facts.Hostname(),
        "id": facts.Identity(),
        "uid_map": facts.UidMap(me),
        "cap_last_cap": facts.Fact("cat /proc/sys/kernel/cap_last_cap"),
        "lsm": facts.LsmSupport(),
        "kernel_paths": facts.ExistingPaths(linux.MASKED_PATHS + linux.READONLY_PATHS),
        "sockets": facts.ExistingPaths(linux.RUNTIME_SOCKETS),
    }


# Which of `$pid`'s namespaces differ from this shell's (`test -ef` compares the namespace
# files themselves, without a process): nsenter must enter only those — entering one's own
# namespace fails, and an unprivileged prober (a rootless engine's user) may enter nothing
# its user namespace does not own. Sets `$enter_all` (for the inside view) and `$enter_user`
# (-U when the container has a user namespace of its own, for the host's own tools).
NS_FLAGS = (
    "ns_flags() { enter_all= enter_user=; for pair in user:U mnt:m uts:u ipc:i net:n pid:p cgroup:C time:T; "
    "do [ \"/proc/$pid/ns/${pair%:*}\" -ef \"/proc/$$/ns/${pair%:*}\" ] || "
    "enter_all=\"$enter_all -${pair#*:}\"; done; "
    "[ \"/proc/$pid/ns/user\" -ef /proc/$$/ns/user ] || enter_user=-U; }"
)


def outside_facts() -> dict[str, facts.Fact]:
    """The kernel's view of one container, read on the host, from its main process `$pid`."""
    proc = "/proc/$pid"
    enter = "nsenter -t $pid $enter_user"
    locate = facts.ProcessId("[ -d \"/proc/$pid\" ] && ns_flags && echo \"$pid\"", "ls -d /proc/PID")
    locate.prelude = NS_FLAGS
    return {
        "locate": locate,
        "ns": facts.Namespaces(proc),
        "root_id": facts.FileIdentity(f"{proc}/root/"),
        "mounts": facts.Mounts(proc),
        "status": facts.Status(proc),
        "cmdline": facts.Cmdline(proc),
        "links": facts.Links(f"{enter} -n ip -o link", f"{enter} -n ip link", sysfs=False),
        "hostname": facts.Hostname(f"{enter} -u "),
        "uid_map": facts.UidMap(proc),
        "label": facts.SecurityLabel(proc),
        "cgroups": facts.Cgroups("$pid"),
        "devices": facts.Devices(proc),
        "inside": facts.Fact("view_inside \"$2\" \"$3\"", "the lesson's commands, inside"),
    }


def find_pid(target: ContainerTarget) -> str:
    """Shell that sets `$pid` to the container's main process, as the host numbers it."""
    if target.has_engine:
        return f"pid_of \"$inspect_{target.engine}\" {shlex.quote(target.ref)}"
    return f"pid={int(target.ref)}"


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


# nsenter keeps the caller's root unless told: enter as the container's main process's
# user and group, translated into its user namespace through uid_map and gid_map.
CONTAINER_IDS = (
    "awk 'FNR == 1 { f++ } f == 1 { u[n++] = $0 } f == 2 { g[m++] = $0 } "
    "f == 3 && /^Uid:/ { uid = $2 } f == 3 && /^Gid:/ { gid = $2 } "
    "END { printf \"-S %d -G %d\", inner(uid, u, n), inner(gid, g, m) } "
    "function inner(id, map, k,   i, a) { for (i = 0; i < k; i++) { split(map[i], a, \" \"); "
    "if (id >= a[2] && id < a[2] + a[3]) return id - a[2] + a[1] } return 0 }' "
    "/proc/$pid/uid_map /proc/$pid/gid_map /proc/$pid/status"
)


def inside_prelude(path: str, nonce: str, timeout: int) -> str:
    """The shell function `view_inside ENGINE REF`: it runs the nested probe of the
    lesson's commands in the container `$pid` — through nsenter, or the engine's exec —
    and hands back its output cut at INSIDE_LIMIT bytes by the host's `head`,
    base64-encoded: one line of letters, in which nothing the container prints can
    pass for a marker of the probe around it."""
    view = inside_facts()
    end = f"ISOVERIFY_{nonce}"
    inner = probe.script({name: fact.command for name, fact in view.items()}, nonce)
    return (
        "view_inside() { "
        f"if [ \"$1\" = - ] || [ {path} = nsenter ]; then "
        f"set -- timeout -k 5 {int(timeout)} nsenter -t \"$pid\" $enter_all $({CONTAINER_IDS}) sh -s; "
        f"else set -- timeout -k 5 {int(timeout)} \"$1\" exec -i \"$2\" sh -s; fi; "
        f"\"$@\" 2>&1 <<'{end}' | head -c {INSIDE_LIMIT} | base64 -w0\n{inner}{end}\n}}"
    )


@dataclass(frozen=True)
class HostFacts:
    target: HostTarget
    readings: dict[str, Reading]

    def __getitem__(self, name: str) -> Reading:
        return self.readings[name]


@dataclass(frozen=True)
class ContainerFacts:
    target: ContainerTarget
    outside: dict[str, Reading]  # empty: no host can read this container (a pod seen by kubectl)
    inside: dict[str, Reading] | None
    inside_error: str  # why the inside view is missing, when it is
    declared: dict | None = None  # the engine's inspect document, where there is an engine

    @property
    def pid(self) -> int:
        """The container's main process, as the host numbers it."""
        return self.outside["locate"].value


def observe(host: HostTarget, engines: tuple[str, ...], targets: list[ContainerTarget],
            timeout: int = DEFAULT_TIMEOUT, inside: str = "nsenter"
            ) -> tuple[HostFacts, dict[ContainerTarget, ContainerFacts | TargetError]]:
    """The host and all of `targets` on it, in one round trip.

    The container sections are one shell function, `container_view N ENGINE REF`,
    called once per container: the script stays small however many there are."""
    nonce, inner_nonce = probe.new_nonce(), probe.new_nonce()
    refs = {engine: [t.ref for t in targets if t.engine == engine] for engine in engines}
    own_facts = {f"host.{name}": fact for name, fact in host_facts(engines, refs, timeout).items()}
    kernel_view = outside_facts()
    function = "container_view() {\n" + "\n".join(
        probe.section(f"c$1.{name}", fact.command, nonce) for name, fact in kernel_view.items()) + "\n}"
    preludes = [fact.prelude for fact in (*own_facts.values(), *kernel_view.values())]
    preludes += [inside_prelude(inside, inner_nonce, timeout), function]
    calls = [f"{find_pid(t)}; container_view {n} {t.engine if t.has_engine else '-'} {shlex.quote(t.ref)}"
             for n, t in enumerate(targets)]
    text = probe.script({name: fact.command for name, fact in own_facts.items()}, nonce, tuple(preludes))
    text += "\n".join(calls) + "\n"
    fact_set = dict(own_facts)
    for n in range(len(targets)):
        fact_set.update({f"c{n}.{name}": fact for name, fact in kernel_view.items()})
    # every container's view is bounded on its own; the whole, by their sum
    limit = probe.OUTPUT_LIMIT + len(targets) * 2 * INSIDE_LIMIT
    try:
        readings = _read(host, text, nonce, fact_set, timeout * (2 + len(targets)), limit)
    except probe.ProbeError as exc:
        raise TargetError(f"cannot observe host {host.label}: {exc}") from exc
    sides: dict[str, dict[str, Reading]] = {}  # "host", "c0", "c1", …: each side's readings
    for name, reading in readings.items():
        side, _, fact = name.partition(".")
        sides.setdefault(side, {})[fact] = reading
    own = sides["host"]
    if not own["ns"].readable:
        raise TargetError(f"cannot read the namespaces of a shell on {host.label}: {one_line(own['ns'].output)}")
    table = own.pop("process_table")
    own["processes"] = _host_processes(own, table)
    observed = {}
    view = inside_facts()
    for number, target in enumerate(targets):
        mine = sides[f"c{number}"]
        try:
            declared = _require_running(target, mine, own)
        except TargetError as exc:
            observed[target] = exc
            continue
        mine["members"] = _members(mine, table)
        seen, error = _inside(mine.pop("inside"), inner_nonce, view)
        observed[target] = ContainerFacts(target, mine, seen, error, declared)
    return HostFacts(host, own), observed


def _read(host: HostTarget, text: str, nonce: str, fact_set: dict[str, facts.Fact], timeout: int,
          limit: int) -> dict[str, Reading]:
    """One round trip: run the probe `text` on `host`, read every section, or ProbeError."""
    _, out, err = host.run(probe.command_line("sh -s", text, nonce, timeout, limit))
    status = probe.exit_status(err, nonce)
    try:
        sections = probe.parse(out, nonce, list(fact_set), limit)
    except probe.ProbeError as exc:
        if status == 124:
            raise probe.ProbeError(f"timed out after {timeout}s") from exc
        if status not in (None, 0):
            raise probe.ProbeError(f"exit status {status}: {one_line(decode(out))}") from exc
        raise
    return {name: fact_set[name].read(s.output, s.rc) for name, s in sections.items()}


def _inside(reading: Reading, nonce: str, view: dict[str, facts.Fact]) -> tuple[dict[str, Reading] | None, str]:
    """The nested probe's readings, or why there are none."""
    try:
        output = base64.b64decode(reading.output.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None, f"no view from inside: {one_line(reading.output)}"
    try:
        sections = probe.parse(output, nonce, list(view), INSIDE_LIMIT)
    except probe.ProbeError as exc:
        text = decode(output)
        if "executable file not found" in text or "No such file or directory" in text and " sh" in text:
            reason = "the container has no shell (sh) to run the lesson's commands in"
        elif len(output) >= INSIDE_LIMIT:
            reason = f"its output exceeded {INSIDE_LIMIT} bytes and was cut"
        elif not output:
            reason = "it printed nothing (timed out, or the container is gone)"
        elif "before finishing section" in str(exc):
            stopped = str(exc).rsplit(" ", 1)[-1]
            reason = (f"the lesson's commands stopped at `{view[stopped].label}`: hung past the "
                      "--iso-timeout, or killed")
        else:
            reason = f"{exc}: {one_line(text)}"
        return None, f"no view from inside: {reason}; judged from the host's view"
    return {name: view[name].read(s.output, s.rc) for name, s in sections.items()}, ""


def _host_processes(own: dict[str, Reading], table: Reading) -> Reading:
    inode = own["ns"].value.get("pid", "")
    count = sum(1 for _, ns, _ in table.value or () if f"pid:[{ns}]" == inode) if table.readable else None
    return Reading("processes in the host's PID namespace", str(count), table.rc, count)


def _members(mine: dict[str, Reading], table: Reading) -> Reading:
    """The host's processes in the container's PID namespace: what it can see."""
    inode = (mine["ns"].value or {}).get("pid")
    if not table.readable or inode is None:
        return Reading("processes in its PID namespace", table.output, 1, None)
    members = [(pid, name) for pid, ns, name in table.value if f"pid:[{ns}]" == inode]
    shown = members[:50]
    text = "\n".join(f"{pid} {name}" for pid, name in shown)
    return Reading(f"processes in the PID namespace of /proc/{mine['locate'].value}", text, 0,
                   {"total": len(members), "named": shown})


def _require_running(target: ContainerTarget, mine: dict[str, Reading], own: dict[str, Reading]) -> dict | None:
    """Fail closed: a container the host cannot see running is an error, never a pass.

    Returns the engine's inspect document (None for a bare process)."""
    where = target.host.label
    declared = None
    if not target.has_engine:
        if not mine["locate"].readable:
            raise TargetError(f"process {target.ref} does not exist on {where}")
    else:
        inspect = own.get(f"inspect:{target.engine}")
        found = facts.Inspect.find(inspect.value, target.ref) if inspect is not None else None
        if found is None:
            text = inspect.output if inspect is not None else ""
            if "no such" in text.lower() or (inspect is not None and inspect.value):
                raise TargetError(f"container {target.ref} does not exist on {where}: "
                                  f"check `{target.engine} ps -a` there")
            raise TargetError(explain_engine_failure(target.engine, target.host, text))
        declared = found[1]
        state = declared.get("State", {})
        if not state.get("Running") or not state.get("Pid"):
            raise TargetError(f"container {target.ref} on {where} is not running "
                              f"(status: {one_line(str(state.get('Status', '?')), 40)}): "
                              "start it, or name a running container")
    if not mine["locate"].readable or "No such file" in mine["ns"].output:
        raise TargetError(f"{target.label} on {where}: its process exited while it was being observed")
    if not mine["ns"].readable:
        raise TargetError(f"cannot read /proc/{mine['locate'].value}/ns on {where}: the host-side view "
                          "needs root there (run as root, or add ?sudo=true to the --iso-host URL)")
    return declared


def observe_pod(target: ContainerTarget, timeout: int = DEFAULT_TIMEOUT) -> ContainerFacts:
    """A pod reached by kubectl: testinfra's kubectl backend runs the inside probe in it."""
    pod = HostTarget(target.label)
    nonce, view = probe.new_nonce(), inside_facts()
    try:
        inside = _read(pod, probe.script({name: f.command for name, f in view.items()}, nonce), nonce, view,
                       timeout, probe.OUTPUT_LIMIT)
    except probe.ProbeError as exc:
        raise TargetError(f"cannot observe {target.label}: {exc}") from exc
    return ContainerFacts(target, {}, inside, "")
