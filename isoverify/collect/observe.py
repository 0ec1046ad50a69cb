"""Which facts each side reads, and the one round trip per host that reads them all.

One batched command per host, however many properties and containers:
- the host's own view, and its reference namespaces: those of kthreadd (PID 2),
  always the host's initial ones. A probe that is not in them (run inside a
  container, or under `unshare`) stops with one line instead of judging
  against its own namespaces;
- each container resolved as its engine resolves the name, and its main PID
  checked to be that container's before anything is read from `/proc/<pid>`;
- for each container, the kernel's view, read by one python3 per host
  (shell/kernel_view.py): files under `/proc/<pid>` and the host's cgroup tree,
  its other processes, anchors at the roots of their mount namespaces (which
  any process can hide by chroot), what they hold outside their mounts, their
  seccomp filters and device programs as the kernel hands them over, its links
  and hostname as the kernel tells them inside its namespaces, its root and `/dev`
  listed through `/proc/<pid>/root` without following a link. Nothing of the
  container's runs with the prober's privileges;
- for each container, its own view — the lesson's `ls /`, `df -h`, `ps aux`,
  `ip link`, `hostname`, `id` — read by the host the same way (the default),
  or run by the container's own shell through the engine's exec, which keeps
  it confined as the container is (`--iso-inside=exec`). Shown beside the
  rest, never trusted to make a property pass.
Each container's readings are taken by a process of their own, under a timeout
and cut at a bound of their own, and come back base64-encoded: a container
that floods, hangs or prints hostile names costs its own verdicts only.
"""

import base64
import binascii
import shlex
from dataclasses import replace
from importlib import resources

from isoverify.collect import facts, probe
from isoverify.collect.cri.client import EXITED, RUNNING
from isoverify.collect.targets import ContainerTarget, HostTarget, explain_engine_failure
from isoverify.errors import TargetError
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts, Reading
from isoverify.untrusted import decode, one_line

DEFAULT_TIMEOUT = 60
INSIDE_PATHS = ("host", "exec")  # how the lesson's commands are read: by the host, or the engine's exec
CONTAINER_LIMIT = 16 * 1024 * 1024  # bytes of all one container's readings (each is bounded at 2 MiB: kernel_view.py)
INSIDE_LIMIT = 512 * 1024  # bytes of one container's own view through exec; a flood beyond is cut, and said so


def _shell(name: str) -> str:
    return resources.files("isoverify.collect").joinpath("shell", name).read_text()


def host_facts(engines: tuple[str, ...], refs: dict[str, list[str]], timeout: int) -> dict[str, facts.Fact]:
    """The host's own view; `engines` are those whose containers this run verifies there,
    `refs` the containers each engine is asked about (all at once)."""
    return {
        **{f"engine:{engine}": facts.EngineVersion(engine, timeout) for engine in engines},
        **{f"containers:{engine}": facts.Containers(engine, [shlex.quote(r) for r in names])
           for engine, names in refs.items() if names},
        "kernel": facts.Fact("uname -r"),
        # Where the probe stands: PID 2 must be kthreadd, and this shell in its namespaces.
        "kthread": facts.KernelThread(),
        "ns": facts.Namespaces("/proc/2"),
        "own_ns": facts.Namespaces("/proc/self"),
        "same_net": facts.SameObject("stat -L -c %i /proc/2/net/dev /proc/self/net/dev",
                                   "stat -L -c %i /proc/2/net/dev /proc/self/net/dev"),
        "same_mnt": facts.SameObject("awk 'FNR == 1 { print $1 }' /proc/2/mountinfo /proc/self/mountinfo",
                                   "the first mount ID in /proc/2/mountinfo and /proc/self/mountinfo"),
        "same_root": facts.SameObject("stat -L -c %d:%i / /proc/2/root/", "stat -L -c %d:%i / /proc/2/root/"),
        "root_id": facts.FileIdentity("/"),
        "ls": facts.Listing(),
        "df": facts.DiskFree("df -h /", "df -h /"),
        "mounts": facts.Mounts("/proc/self"),
        "process_table": facts.ProcessTable(),
        "links": facts.Links("ip -o link", "ip link"),
        "hostname": facts.Hostname(),
        "id": facts.Identity(),
        "uid_map": facts.IdMap("/proc/self"),
        "cap_last_cap": facts.Fact("cat /proc/sys/kernel/cap_last_cap"),
        "capacity": facts.Capacity(),
        "kernel_devices": facts.KernelDevices(),
        "lsm": facts.LsmSupport(),
        "kernel_paths": facts.ExistingPaths(linux.MASKED_PATHS + linux.READONLY_PATHS),
        "sockets": facts.ExistingPaths(linux.RUNTIME_SOCKETS),
        "listeners": facts.UnixListeners(),
    }


def kernel_view(inside: str, own_facts: dict[str, facts.Fact]) -> dict[str, facts.Fact]:
    """One container's readings on the host, from its main process `$pid`: each the function
    of its name in shell/kernel_view.py, then the user's own facts (see isoverify.own) in
    one shell of the host's, in that order."""
    proc = "/proc/$pid"
    view = {
        "locate": facts.ProcessId("locate", "the container's main process, checked to be its own"),
        "ns": facts.Namespaces(proc).shown_as(f"readlink {proc}/ns/*"),
        "root_id": facts.FileIdentity(f"{proc}/root/").shown_as(f"stat -L -c %d:%i {proc}/root/"),
        "mounts": facts.MountViews(),
        "process_mounts": facts.Mounts(proc),
        "status": facts.Status(proc),
        "cmdline": facts.Cmdline(proc),
        "uid_map": facts.IdMap(proc),
        "gid_map": facts.IdMap(proc, "gid"),
        "label": facts.SecurityLabel(proc).shown_as(f"cat {proc}/attr/apparmor/current or {proc}/attr/current"),
        "cgroup": facts.CgroupPaths(proc),
        "cgroups": facts.Cgroups(),
        "links": facts.Links("links", "the links of its network namespace, as the kernel lists them "
                                      "(if_nameindex, SIOCGIFHWADDR)", sysfs=False),
        "hostname": facts.Hostname().shown_as("uname -n, in its UTS namespace (setns)"),
        "ls": facts.Listing().shown_as("ls -1b /proc/$root_pid/root/  (listed by the host)"),
        "devices": facts.Devices(),
        "members": facts.Members(),
        "held": facts.HeldOutsideMounts(),
        "filters": facts.Filters(),
        "device_programs": facts.DevicePrograms(),
        "settled": facts.Fact("settled", "its other processes the same at the end of its readings"),
    }
    view.update(own_facts)
    if inside == "exec":
        view["inside"] = facts.Fact("inside", "the lesson's commands, through the engine's exec")
    view["end"] = facts.Fact("end", "the same process at the end")
    return view


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


class Script:
    """The probe of one host: its own sections, then one section per container."""

    def __init__(self, engines: tuple[str, ...], targets: list[ContainerTarget], timeout: int, inside: str,
                 own_facts: dict[str, facts.Fact] | None = None):
        self.nonce, self.container_nonce, self.inside_nonce = (probe.new_nonce() for _ in range(3))
        refs = {engine: list(dict.fromkeys(t.ref for t in targets if t.engine == engine)) for engine in engines}
        self.host = {f"host.{name}": fact for name, fact in host_facts(engines, refs, timeout).items()}
        self.view = kernel_view(inside, own_facts or {})
        self.targets, self.timeout, self.inside = targets, timeout, inside
        self.names = [*sum(self._host_sections(), []), "read", "views"]

    def text(self) -> str:
        inside_script = probe.script({name: fact.command for name, fact in inside_facts().items()},
                                     self.inside_nonce)
        own = {name: _of_every_process(fact.command) for name, fact in self.view.items() if name.startswith(OWN)}
        readings = [name for name in self.view if not name.startswith(OWN)]
        if own:
            readings.insert(readings.index("inside" if "inside" in readings else "end"), "own")
        settings = (f"iso_timeout={int(self.timeout)} iso_container_timeout={self.container_timeout} "
                    f"iso_limit={CONTAINER_LIMIT} iso_inside_limit={INSIDE_LIMIT} "
                    f"iso_section_limit={facts.SECTION_LIMIT} iso_probe_timeout={self.probe_timeout} "
                    f"iso_readings={','.join(readings)} iso_container_nonce={self.container_nonce}\n")
        parts = [
            settings + _shell("common.sh") + _shell("host.sh"),
            _heredoc("iso_inside_script", inside_script, self.inside_nonce),
            _heredoc("iso_own_facts", _shell("common.sh") + _shell("own.sh") + probe.script(own, self.container_nonce)
                     if own else "", self.inside_nonce),
            _heredoc("iso_view_program", _shell("kernel_view.py"), self.inside_nonce),
            # whichever way the probe ends, its kept readings go with it
            "trap 'release >/dev/null 2>&1' EXIT\ntrap 'exit 143' TERM INT HUP\n",
        ]
        every = " ".join(t.probe_words for t in self.targets)
        # the containers are read while the host's own facts are, once the engines have named them
        named, rest = self._host_sections()
        calls = {"read": "containers_read", "views": "show_containers"}
        return (probe.script({name: _bounded(self.host[name]) for name in named}, self.nonce, tuple(parts))
                + f"start_reading {every}\n"
                + probe.script({name: _bounded(self.host[name]) for name in rest}, self.nonce)
                + probe.script(calls, self.nonce))

    def _host_sections(self) -> tuple[list[str], list[str]]:
        """The host's sections that name its containers (the engines'), and the others."""
        named = [name for name in self.host if name.startswith("host.containers:")]
        return named, [name for name in self.host if name not in named]

    @property
    def probe_timeout(self) -> int:
        """Seconds the whole probe may take: each engine call, then each container's readings."""
        return int(self.timeout) * 3 + self.container_timeout * len(self.targets)

    @property
    def container_timeout(self) -> int:
        """Seconds one container's readings may take: its exec's timeout, and as long again."""
        return 2 * int(self.timeout) + 5

    @property
    def limit(self) -> int:
        """Every container's readings are bounded on their own; the whole, by their sum (base64: 4/3)."""
        return probe.OUTPUT_LIMIT + len(self.targets) * (CONTAINER_LIMIT * 4 // 3 + 4)


OWN = "own."  # the names of the user's own facts (own.py)


def _of_every_process(command: str) -> str:
    """A user's fact may read `$members`: where not all were examined, it is unreadable."""
    return f'if [ -n "$unread" ]; then echo "$unread of its processes not examined"; false; else {command}\nfi'


def _bounded(fact: facts.Fact) -> str:
    """The fact's command, its output cut by the host's `head` just past the fact's bound."""
    if fact.limit is None or fact.keeps_state:
        return fact.command
    return f"{{ {fact.command}\n}} 2>&1 | head -c {fact.limit + 1}"


def _heredoc(variable: str, text: str, nonce: str) -> str:
    end = f"ISOVERIFY_{variable}_{nonce}"
    return f"{variable}=$(cat <<'{end}'\n{text}\n{end}\n)\n"


def observe(host: HostTarget, engines: tuple[str, ...], targets: list[ContainerTarget],
            timeout: int = DEFAULT_TIMEOUT, inside: str = "host", own_facts: dict[str, facts.Fact] | None = None
            ) -> tuple[HostFacts, dict[ContainerTarget, ContainerFacts | TargetError]]:
    """The host and all of `targets` on it, in one round trip; `own_facts` are the user's
    facts of each container, read beside the suite's."""
    stopped = [target for target in targets if target.pod is not None and not target.pod.pid]
    targets = [target for target in targets if target not in stopped]
    script = Script(engines, targets, timeout, inside, own_facts)
    sections = _run(host, script.text(), script.nonce, script.names, script.probe_timeout, script.limit)
    own = {name.removeprefix("host."): fact.read(sections[name].output, sections[name].rc)
           for name, fact in script.host.items()}
    _check_vantage(host, own)
    table = own.pop("process_table")
    own["processes"] = _host_processes(own, table)
    observed: dict[ContainerTarget, ContainerFacts | TargetError] = {}
    read = sections["read"]
    # kernel_view.py's own lines, "N BASE64" for the Nth container
    views = dict(line.split(" ", 1) for line in sections["views"].output.splitlines() if " " in line)
    for number, target in enumerate(targets):
        try:
            if read.rc != 0:
                raise TargetError(f"{target.label} on {host.label}: its readings were not taken: "
                                  f"{one_line(read.output)}")
            if str(number) not in views:
                raise TargetError(f"{target.label} on {host.label}: its readings were not kept by the host's "
                                  f"python3: {one_line(read.output) or 'it ended before'}")
            observed[target] = _container(target, views[str(number)], script, own, table)
        except TargetError as exc:
            observed[target] = exc
    observed.update((target, _not_running(target)) for target in stopped)
    return HostFacts(host, own), observed


def _not_running(target: ContainerTarget) -> TargetError:
    """A pod's container with no process to read: never a pass."""
    pod = target.pod
    where = f"{target.label} on {target.host.label}"
    if pod is None or pod.state == RUNNING:
        return TargetError(f"{where}: the CRI runtime names no process of it "
                           f"({pod.info_error if pod and pod.info_error else 'no PID in its verbose info'})")
    exited = f", exit code {pod.exit_code}" if pod.state == EXITED else ""
    if pod.init:
        return TargetError(f"{where}: an init container that ran to completion{exited}: no process of it is "
                           "left to read")
    return TargetError(f"{where}: it is {pod.state}{exited}, not running: a pod's container that is not an "
                       f"init container that ran must run to be judged (see `crictl ps -a --id {pod.short_id}`)")


def _run(host: HostTarget, text: str, nonce: str, names: list[str], timeout: int,
         limit: int) -> dict[str, probe.Section]:
    """One round trip: run the probe `text` on `host` and split it into its sections."""
    _, out, err = host.run(probe.command_line("sh -s", text, nonce, timeout, limit))
    status = probe.exit_status(err, nonce)
    try:
        return probe.parse(out, nonce, names, limit)
    except probe.ProbeError as exc:
        if status == 124:
            reason = f"timed out after {timeout}s"
        elif status not in (None, 0):
            reason = f"exit status {status}: {one_line(decode(out))}"
        else:
            reason = str(exc)
        raise TargetError(f"cannot observe host {host.label}: {reason}") from exc


def _check_vantage(host: HostTarget, own: dict[str, Reading]) -> None:
    """The host's reference namespaces are its initial ones, and the probe stands in them.

    With root, they are kthreadd's (PID 2). Without it, /proc/2/ns is closed: the kernel's
    fixed inode numbers of the initial namespaces stand in, and two files of PID 2 the
    kernel lets anyone compare show the network and mount namespaces.
    """
    fix = ("run isoverify on the host itself, in its initial namespaces "
           "(not inside a container, a `unshare` or a chroot)")
    if own["kthread"].value is not True:
        raise TargetError(f"on {host.label}, PID 2 is not the kernel's kthreadd: the probe runs in a PID "
                          f"namespace of its own, or /proc hides other users' processes; {fix}")
    mine = own["own_ns"].value
    if mine is None:
        raise TargetError(f"cannot read the namespaces of a shell on {host.label}: {one_line(own['own_ns'].output)}")
    reference = own["ns"].value
    if reference is None:  # an unprivileged prober
        reference = {kind: f"{kind}:[{inode}]" for kind, inode in linux.INITIAL_NAMESPACE_INODES.items()
                     if kind in mine}
        for kind in ("net", "mnt"):
            if own[f"same_{kind}"].value is True:
                reference[kind] = mine[kind]
            elif kind in mine:
                reference[kind] = "another"
        own["ns"] = Reading("the host's initial namespaces: the kernel's fixed inodes, and PID 2's net and mnt",
                            "\n".join(f"{kind} -> {ns}" for kind, ns in sorted(reference.items())), 0, reference)
    apart = sorted(kind for kind in reference if kind in mine and mine[kind] != reference[kind])
    if own["same_root"].value is False:
        apart.append("root directory")
    if apart:
        raise TargetError(f"on {host.label}, the probe runs apart from the host's initial namespaces "
                          f"({', '.join(apart)}), so it would judge containers against its own; {fix}")


def _container(target: ContainerTarget, output: str, script: Script, own: dict[str, Reading],
               table: Reading) -> ContainerFacts:
    """One container's facts from its section of the probe, or a TargetError naming it."""
    where = target.host.label
    declared = _declared(target, own) if target.has_engine else None
    try:
        raw = base64.b64decode(output.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise TargetError(f"{target.label} on {where}: its readings came back garbled: {one_line(output)}") from None
    if len(raw) >= CONTAINER_LIMIT:
        raise TargetError(f"{target.label} on {where}: its readings exceeded {CONTAINER_LIMIT} bytes "
                          "(thousands of mounts, devices or names?) and were cut")
    # A container whose processes changed while it was read is read again: the last attempt counts.
    last = raw.rfind(f"\n{probe.MARK}:{script.container_nonce}:begin:attempt\n".encode())
    raw = raw[max(last, 0):]
    names = ["attempt", *script.view]
    try:
        sections = probe.parse(raw, script.container_nonce, names, CONTAINER_LIMIT)
    except probe.ProbeError as exc:
        located = _located(raw, script.container_nonce)
        if located is not None and located.rc != 0:
            raise _not_located(target, decode(located.output.encode())) from None
        if "before finishing section" in str(exc):
            stopped = str(exc).rsplit(" ", 1)[-1]
            reading = f"reading `{script.view[stopped].label}`" if stopped in script.view else "its readings"
            raise TargetError(f"{target.label} on {where}: {reading} did not finish "
                              f"within {script.container_timeout}s (it hangs, or it was killed)") from None
        raise TargetError(f"{target.label} on {where}: its readings cannot be trusted: {exc}") from None
    sections.pop("attempt")
    pid, _, root_pid = (sections["locate"].output.split() + ["", "", "-"])[:3]
    mine = {name: _named(script.view[name].read(s.output, s.rc), pid, root_pid) for name, s in sections.items()}
    if root_pid == "-":
        for name in AT_NAMESPACE_ROOT:
            mine[name] = Reading(mine[name].label, "its processes and the roots of its mount namespaces are found "
                                 "by the host's python3, and there is none on the host (or it could not join)", 1, None)
    if not mine["end"].readable:
        raise TargetError(f"{target.label} on {where}: {one_line(mine['end'].output, 200)} "
                          "while it was being observed")
    if not mine["settled"].readable:  # judged on the processes read; what holds on them alone is not proven
        why = one_line(mine["settled"].output, 300)
        for name in EVERY_PROCESS:
            mine[name] = replace(mine[name], partial=why)
    if not mine["ns"].readable:
        raise TargetError(f"cannot read /proc/{mine['locate'].value}/ns on {where}: the host-side view "
                          "needs root there (run as root, or add ?sudo=true to the --iso-host URL)")
    mine["visible"] = _visible(mine, table)
    through_exec = mine.pop("inside", None)
    mine.pop("end")
    mine.pop("settled")
    by_host = through_exec is None or not target.has_engine
    if through_exec is not None and not by_host:
        seen, error = _inside(through_exec, script.inside_nonce, inside_facts())
    else:
        seen = _read_by_host(mine)
        error = ("read by the host's own tools, nothing run inside: --iso-inside=exec is not available "
                 "for a bare process or a pod's container, which no engine's CLI here enters"
                 if script.inside == "exec" else "")
    return ContainerFacts(target, mine, seen, error, declared, by_host)


def _named(reading: Reading, pid: str, root_pid: str) -> Reading:
    """The reading, its label naming the container's process by its number, and the anchor
    standing at its namespace's root (a process of the host's, never the container's own)."""
    label = reading.label
    if "$root_pid" in label:
        label += "  (an anchor of the host's at the root of its mount namespace)"
    return replace(reading, label=label.replace("$root_pid", root_pid).replace("$pid", pid))


# The readings taken through the root of its mount namespace (locate's root_pid, kernel_view.py).
AT_NAMESPACE_ROOT = ("mounts", "ls", "devices", "members")
# The readings of each of its processes and threads: where they changed while read, partial.
EVERY_PROCESS = ("mounts", "devices", "members", "held", "filters")


def _located(raw: bytes, nonce: str) -> probe.Section | None:
    try:
        return probe.parse(raw, nonce, ["attempt", "locate"], CONTAINER_LIMIT)["locate"]
    except probe.ProbeError:
        return None


def _not_located(target: ContainerTarget, said: str) -> TargetError:
    where = target.host.label
    if target.pod is not None:
        return TargetError(f"{target.label} on {where}: the process its CRI runtime named is not its own, or gone "
                           f"({one_line(said, 160)}): it exited or restarted since the run was planned?")
    if not target.has_engine:
        return TargetError(f"process {target.ref} does not exist on {where}")
    if "is not container" in said:
        return TargetError(f"{target.label} on {where}: the PID its engine reports is not that container's "
                           f"process ({one_line(said, 160)}): it exited and its PID was reused?")
    return TargetError(f"{target.label} on {where}: its process exited while it was being observed")


def _declared(target: ContainerTarget, own: dict[str, Reading]) -> dict:
    """Fail closed: a container the engine does not name as one running container is an
    error, never a pass. Returns the engine's inspect document."""
    where = target.host.label
    containers = own.get(f"containers:{target.engine}")
    engine = own.get(f"engine:{target.engine}")
    if containers is None or engine is None or not engine.readable:
        raise TargetError(explain_engine_failure(target.engine, target.host, engine.output if engine else ""))
    resolution = containers.value["refs"].get(target.ref)
    if resolution is None:
        raise TargetError(explain_engine_failure(target.engine, target.host, containers.output))
    if resolution.candidates:
        shown = ", ".join(c[:12] for c in resolution.candidates[:5])
        raise TargetError(f"{target.label} on {where} is ambiguous: it is the beginning of the IDs of "
                          f"{shown}; name one container by its full ID or its name")
    if resolution.id is None:
        raise TargetError(f"container {target.ref} does not exist on {where}: check `{target.engine} ps -a` there")
    found = containers.value["details"].get(resolution.id)
    if found is None:
        raise TargetError(f"container {target.ref} on {where} vanished before it could be inspected")
    pid, document = found
    if document is None:
        raise TargetError(f"{target.label} on {where}: its configuration as `{target.engine} inspect` "
                          "gives it cannot be read (over 64 KiB, or not JSON)")
    state = document["State"]
    if not state.get("Running") or not pid:
        raise TargetError(f"container {target.ref} on {where} is not running "
                          f"(status: {one_line(str(state.get('Status', '?')), 40)}): "
                          "start it, or name a running container")
    return document


def _inside(reading: Reading, nonce: str, view: dict[str, facts.Fact]) -> tuple[dict[str, Reading] | None, str]:
    """The nested probe's readings through the engine's exec, or why there are none."""
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


def _read_by_host(mine: dict[str, Reading]) -> dict[str, Reading]:
    """The lesson's six as the host reads them, from readings it already took: nothing of
    the container's runs, so nothing of it can lie or act with the prober's privileges."""
    pid = mine["locate"].value
    return {
        "ls": mine["ls"],
        "df": _mount_table(mine["mounts"], pid),
        "ps": _process_list(mine["visible"]),
        "links": mine["links"],
        "hostname": mine["hostname"],
        "id": _identity(mine, pid),
    }


def _mount_table(mounts: Reading, pid: int) -> Reading:
    label = f"df, as the host reads /proc/{pid}/mountinfo"
    if not mounts.readable:
        return Reading(label, mounts.output, 1, None)
    rows = [{"filesystem": m.source, "size": "-", "used": "-", "type": m.fstype, "mounted_on": m.mount_point}
            for m in mounts.value[0].mounts]  # as seen from the root of its mount namespace
    text = "Filesystem  Type  Mounted on\n" + "\n".join(
        f"{r['filesystem']}  {r['type']}  {r['mounted_on']}" for r in rows)
    return Reading(label, text, 0, rows)


def _process_list(members: Reading) -> Reading:
    label = "ps, as the host reads /proc/*/status of its PID namespace"
    if not members.readable:
        return Reading(label, members.output, 1, None)
    processes = [facts.Process(p.inner_pid, str(p.uid), p.name) for p in members.value["processes"]]
    text = "PID   UID   COMMAND\n" + "\n".join(f"{p.pid:<5} {p.user:<5} {p.command}" for p in processes)
    return Reading(label, text, 0, processes)


def _inner_id(outer: int, id_map: list[tuple[int, int, int]]) -> int | None:
    """A host id as the process's user namespace names it (None: unmapped there)."""
    return next((inner + outer - start for inner, start, count in id_map if start <= outer < start + count), None)


def _identity(mine: dict[str, Reading], pid: int) -> Reading:
    label = f"id, as the host reads /proc/{pid}/status, uid_map and gid_map"
    status, uids, gids = mine["status"].value, mine["uid_map"].value, mine["gid_map"].value
    if not (status and uids and gids):
        return Reading(label, "", 1, None)
    try:
        uid = _inner_id(int(status["Uid"].split()[1]), uids)
        gid = _inner_id(int(status["Gid"].split()[1]), gids)
    except (KeyError, IndexError, ValueError):
        return Reading(label, "", 1, None)
    if uid is None or gid is None:
        return Reading(label, "unmapped", 1, None)
    return Reading(label, f"uid={uid} gid={gid}", 0, {"uid": uid, "user": "", "gid": gid})


def _host_processes(own: dict[str, Reading], table: Reading) -> Reading:
    inode = own["ns"].value.get("pid", "") if own["ns"].readable else ""
    count = sum(1 for p in table.value or () if f"pid:[{p.pid_namespace}]" == inode) if table.readable else None
    return Reading("processes in the host's PID namespace", str(count), table.rc, count)


def _visible(mine: dict[str, Reading], table: Reading) -> Reading:
    """The host's processes in the container's PID namespace: what it can see."""
    inode = (mine["ns"].value or {}).get("pid")
    if not table.readable or inode is None:
        return Reading("processes in its PID namespace", table.output, 1, None)
    members = [p for p in table.value if f"pid:[{p.pid_namespace}]" == inode]
    members.sort(key=lambda p: p.inner_pid)
    shown = members[:50]
    text = "\n".join(f"{p.pid} {p.name}" for p in shown)
    return Reading(f"processes in the PID namespace of /proc/{mine['locate'].value}", text, 0,
                   {"total": len(members), "named": [(p.pid, p.name) for p in shown], "processes": shown})


def observe_pod(target: ContainerTarget, timeout: int = DEFAULT_TIMEOUT) -> ContainerFacts:
    """A pod reached by kubectl: testinfra's kubectl backend runs the inside probe in it,
    through `kubectl exec`, which keeps the pod's confinement."""
    pod = HostTarget(target.label)
    nonce, view = probe.new_nonce(), inside_facts()
    sections = _run(pod, probe.script({name: f.command for name, f in view.items()}, nonce), nonce, list(view),
                    timeout, probe.OUTPUT_LIMIT)
    return ContainerFacts(target, {}, {name: view[name].read(s.output, s.rc) for name, s in sections.items()}, "")

