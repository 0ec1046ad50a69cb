"""Isolation properties: the catalogue, the profiles that enforce them, and verdicts.

Each property has a stable ID (select it with -k; compare reports across
versions by it), a title, the controls it evidences, and a check in one of
the modules beside this one.
"""

import datetime
import re
from dataclasses import dataclass, replace

from ..model import ContainerFacts, HostFacts
from ..untrusted import bounded, one_line
from ..verdicts import ADVISORY, ERROR, FAIL, PASS, WAIVED
from ..waivers import Waiver
from . import drift, filesystem, lesson, privileges, resources
from .base import CIS, NIST, PSS, PARTIAL, Control, Evidence, Finding, Property, Unobservable, shown, value
from ..severities import SEVERITIES
from .guidance import GUIDANCE, RUNTIMES, Guidance
from .namespaces import namespace_check

CATALOGUE: tuple[Property, ...] = (
    # The lesson's six.
    Property("root", "The container's / is not the host's /",
             (CIS("5.6"), NIST("4.5.4"), PSS("hostPath volumes")), lesson.check_root,
             each_process=lesson.check_root),
    Property("rootfs", "The container's / is a copy-on-write mount of its own",
             (CIS("5.6"), NIST("4.5.4")), lesson.check_rootfs, ("GraphDriver.Name",)),
    Property("pid", "Its own PID namespace, with its entrypoint as PID 1",
             (CIS("5.16"), NIST("4.4.3"), PSS("hostPID")), lesson.check_pid,
             ("HostConfig.PidMode", "Path", "Args"),
             each_process=namespace_check("pid")),
    Property("net", "Its own network namespace, none of the host's interfaces",
             (CIS("5.10"), NIST("4.4.2"), PSS("hostNetwork")), lesson.check_net, ("HostConfig.NetworkMode",),
             each_process=namespace_check("net")),
    Property("uts", "Its own UTS namespace and hostname",
             (CIS("5.21"), NIST("4.4.3")), lesson.check_uts, ("HostConfig.UTSMode", "Config.Hostname"),
             each_process=namespace_check("uts")),
    Property("user", "Root inside is not the host's root (a user namespace)",
             (CIS("5.31"), NIST("4.4.3"), Control("Kubernetes", "hostUsers")), lesson.check_user,
             ("HostConfig.UsernsMode", "Config.User"),
             each_process=lesson.check_user),
    # The other namespaces.
    Property("ipc", "Its own IPC namespace",
             (CIS("5.17"), NIST("4.4.3"), PSS("hostIPC")), namespace_check("ipc"), ("HostConfig.IpcMode",),
             each_process=namespace_check("ipc")),
    Property("cgroupns", "Its own cgroup namespace",
             (NIST("4.4.3"),), namespace_check("cgroup"), ("HostConfig.CgroupnsMode",),
             each_process=namespace_check("cgroup")),
    Property("mntns", "Its own mount namespace",
             (NIST("4.4.3"),), namespace_check("mnt"),
             each_process=namespace_check("mnt")),
    Property("timens", "Its own time namespace (informational)",
             (NIST("4.4.3"),), namespace_check("time"),
             each_process=namespace_check("time")),
    # What its processes may do.
    Property("caps", "No capabilities beyond the runtime's default",
             (CIS("5.4"), NIST("4.4.3"), PSS("capabilities")), privileges.check_caps,
             ("HostConfig.CapAdd", "HostConfig.CapDrop"),
             each_process=privileges.check_caps),
    Property("privileged", "Not privileged-equivalent, whatever the flag says",
             (CIS("5.5"), NIST("4.4.3"), PSS("privileged")), privileges.check_privileged,
             ("HostConfig.Privileged",),
             each_process=privileges.check_privileged),
    Property("seccomp", "A seccomp filter is on",
             (CIS("5.22"), NIST("4.4.3"), PSS("seccompProfile")), privileges.check_seccomp,
             ("HostConfig.SecurityOpt",),
             each_process=privileges.check_seccomp),
    Property("nnp", "no_new_privs is set",
             (CIS("5.26"), NIST("4.4.3"), PSS("allowPrivilegeEscalation")), privileges.check_nnp,
             ("HostConfig.SecurityOpt",),
             each_process=privileges.check_nnp),
    Property("lsm", "An AppArmor or SELinux label confines it",
             (CIS("5.2"), CIS("5.3"), NIST("4.4.3"), PSS("AppArmor"), PSS("SELinux")), privileges.check_lsm,
             ("AppArmorProfile", "ProcessLabel"),
             each_process=privileges.check_lsm),
    Property("nonroot", "Its processes do not run as the host's root",
             (NIST("4.4.3"), PSS("runAsNonRoot")), privileges.check_nonroot, ("Config.User",),
             each_process=privileges.check_nonroot),
    # Filesystems and devices.
    Property("masked-paths", "Sensitive /proc and /sys paths are masked",
             (NIST("4.4.3"), PSS("procMount")), filesystem.check_masked_paths, ("HostConfig.MaskedPaths",)),
    Property("readonly-paths", "Kernel tunables in /proc are read-only",
             (NIST("4.4.3"), PSS("procMount")), filesystem.check_readonly_paths, ("HostConfig.ReadonlyPaths",)),
    Property("readonly-rootfs", "The root filesystem is read-only",
             (CIS("5.13"), NIST("4.4.3")), filesystem.check_readonly_rootfs, ("HostConfig.ReadonlyRootfs",)),
    Property("host-mounts", "No sensitive host directory is mounted in",
             (CIS("5.6"), NIST("4.5.4"), PSS("hostPath volumes")), filesystem.check_host_mounts,
             ("HostConfig.Binds",)),
    Property("runtime-socket", "No container runtime socket is reachable",
             (CIS("5.32"), NIST("4.4.3")), filesystem.check_runtime_socket, ("HostConfig.Binds",)),
    Property("propagation", "No mount has shared propagation",
             (CIS("5.20"), NIST("4.4.3")), filesystem.check_propagation, ("HostConfig.Binds",)),
    Property("devices", "No host devices beyond the default",
             (CIS("5.18"), NIST("4.4.3"), PSS("privileged")), filesystem.check_devices,
             ("HostConfig.Devices", "HostConfig.DeviceCgroupRules")),
    # Resources.
    Property("memory-limit", "Memory is limited",
             (CIS("5.11"), NIST("4.4.3")), resources.check_memory_limit, ("HostConfig.Memory",)),
    Property("cpu-limit", "CPU time is limited",
             (NIST("4.4.3"),), resources.check_cpu_limit,
             ("HostConfig.NanoCpus", "HostConfig.CpuQuota", "HostConfig.CpuShares")),
    Property("pids-limit", "The number of processes is limited",
             (CIS("5.29"), NIST("4.4.3")), resources.check_pids_limit, ("HostConfig.PidsLimit",)),
    # Declaration against observation.
    Property("drift", "The kernel shows what the configuration declares",
             (CIS("5.25"), NIST("4.4.3")), drift.check_drift),
)

BY_ID = {prop.id: prop for prop in CATALOGUE}

SEED = ("root", "rootfs", "pid", "net", "uts")
BASELINE = SEED + ("ipc", "mntns", "caps", "privileged", "seccomp", "masked-paths", "readonly-paths",
                   "host-mounts", "runtime-socket", "devices")
HARDENED = BASELINE + ("user", "readonly-rootfs", "nnp", "memory-limit", "pids-limit", "cpu-limit",
                       "nonroot", "cgroupns")
# Which properties each profile enforces; the others still run, as advisories.
PROFILES = {"seed": SEED, "baseline": BASELINE, "hardened": HARDENED}
DEFAULT_PROFILE = "baseline"
PROPERTY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # what a property ID may be: -k and waivers name it


def enforced(prop: Property, profile: str) -> bool:
    """Whether `profile` enforces `prop`: a failure fails the run, else it is an advisory."""
    if prop.enforced_in is not None:
        return profile in prop.enforced_in
    return prop.id in PROFILES[profile]


def own_property(property_id: str, title: str, controls=(), profile: str = "seed", advisory: bool = False,
                 severity: str | None = None, rationale: str = "", remediation: str | dict = "") -> Property:
    """A property the user's own test decides: enforced from `profile` up (every profile
    by default), or never, as an advisory. Controls are Control values or "CIS 5.7",
    "NIST 4.4.3", "PSS hostPID". With a severity, its guidance: why it matters and how to
    fix a failure (what to change, or that keyed by runtime as guidance.py keys it).
    ValueError names what is wrong."""
    if not isinstance(property_id, str) or not PROPERTY_ID.fullmatch(property_id):
        raise ValueError(f"property ID {property_id!r}: use lowercase letters, digits and -, e.g. \"no-sshd\"")
    if property_id in BY_ID:
        raise ValueError(f"property ID {property_id!r} is the catalogue's own: choose another")
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"property {property_id!r} needs a title: what holds when it passes")
    if profile not in PROFILES:
        raise ValueError(f"property {property_id!r}: profile {profile!r}; choose one of {', '.join(PROFILES)}")
    levels = list(PROFILES)
    return Property(property_id, title, tuple(_control(c, property_id) for c in controls), None,
                    enforced_in=() if advisory else tuple(levels[levels.index(profile):]),
                    guidance=_guidance(property_id, severity, rationale, remediation))


def _guidance(property_id: str, severity: str | None, rationale: str, remediation: str | dict) -> Guidance | None:
    if severity is None and not rationale and not remediation:
        return None
    if severity not in SEVERITIES:
        raise ValueError(f"property {property_id!r}: severity {severity!r}; choose one of {', '.join(SEVERITIES)}")
    fixes = {"action": remediation} if isinstance(remediation, str) else dict(remediation)
    unknown = set(fixes) - {"action", *RUNTIMES}
    if unknown or not all(isinstance(how, str) for how in fixes.values()):
        raise ValueError(f"property {property_id!r}: remediation keys are action, {', '.join(RUNTIMES)} (text each)")
    return Guidance(severity, rationale, fixes.pop("action", ""), **fixes)


def _control(control, property_id: str) -> Control:
    if isinstance(control, Control):
        return control
    framework, _, item = str(control).partition(" ")
    make = {"CIS": CIS, "NIST": NIST, "PSS": PSS}.get(framework)
    if make is None or not item.strip():
        raise ValueError(f"property {property_id!r}: control {control!r}; write \"CIS 5.7\", \"NIST 4.4.3\", "
                         "\"PSS hostPID\" or a Control")
    return make(item.strip())

SUMMARY_CHARS = 800  # summaries quote targets: a container with a thousand mounts stays one paragraph


@dataclass(frozen=True, repr=False)
class Verdict:
    """A property judged on one container: the record every report is made from."""

    property: Property
    target: str
    status: str
    enforced: bool
    summary: str
    host: tuple[Evidence, ...] = ()
    container: tuple[Evidence, ...] = ()
    items: tuple[str, ...] = ()  # the finding's specific things found wrong (Finding.items)
    waiver: dict | None = None  # the waiver that decided a failure: waived, or declined (the summary says why)
    matching_waivers: tuple[int, ...] = ()  # the lines of all waivers matching it: the others are stale

    def under(self, waivers: list[Waiver], today: datetime.date) -> "Verdict":
        """This verdict under the waivers matching its property and target: a failure is
        waived by the first that holds and accepts every finding, else it still fails, saying why."""
        noted = replace(self, matching_waivers=tuple(w.line for w in waivers))
        if self.status != FAIL or not waivers:
            return noted
        declined = []
        for waiver in waivers:
            why = waiver.declines(self.items, today)
            if why is None:
                return replace(noted, status=WAIVED, waiver=waiver.as_record(today))
            declined.append(why)
        note = one_line("; ".join(declined), SUMMARY_CHARS)
        return replace(noted, summary=f"{self.summary} ({note})", waiver=waivers[0].as_record(today))

    def __repr__(self):  # tracebacks show it: keep the evidence out
        return f"<Verdict {self.property.id} on {self.target}: {self.status}>"

    def as_record(self) -> dict:
        guidance = self.property.guidance or GUIDANCE.get(self.property.id)  # a check of your own may have none
        return {
            "target": self.target,
            "property": self.property.id,
            "title": self.property.title,
            "verdict": self.status,
            "enforced": self.enforced,
            "summary": self.summary,
            "controls": [str(control) for control in self.property.controls],
            "findings": list(self.items),
            "waiver": self.waiver,
            "matching_waivers": list(self.matching_waivers),
            "evidence": {
                side: [{"label": e.label, "text": e.text} for e in evidence]
                for side, evidence in (("host", self.host), ("container", self.container))
            },
            **({"severity": guidance.severity, "rationale": guidance.rationale,
                "remediation": guidance.remediation()} if guidance else {}),
        }


def declared(prop: Property, ctr: ContainerFacts) -> tuple[Evidence, ...]:
    """Which container was judged (its full ID: a name or a short ID may mean another to a
    reader), the declared values of the property's fields, shown beside the kernel's, and
    its labels as read (a cut one marked so)."""
    inspect = ctr.declared
    if not inspect:
        return ()
    lines = []
    for path in ("Id", "Name", "Image") + prop.declared + ("Config.Labels",):
        node = inspect
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        lines.append(f"{path}: {node if node not in (None, '', [], {}) else '(not set)'}")
    if not_read := (inspect.get("Config") or {}).get("LabelsNotRead"):
        lines.append(f"({not_read} more labels, not read: over 64 KiB of them)")
    return (Evidence(f"declared ({ctr.target.engine} inspect)", bounded("\n".join(lines))),)


def _every_process(prop: Property, host: HostFacts, ctr: ContainerFacts, main: Finding) -> Finding:
    """The main thread's finding, unless another thread or process of the container breaks it."""
    others = ctr.others()
    if others is None:
        said = ctr.outside["members"].output
        if unread := re.match(r"unread (\d+)\n", said):
            raise Unobservable(f"{unread[1]} of its processes and threads were not examined (more than the suite "
                               "reads of one container): judged on the others alone, a hidden one could break it")
        raise Unobservable("could not find the container's other processes: " + one_line(said))
    value(ctr.outside["members"], "its other processes")  # noted where they may not be all of them
    for other in others:
        found = prop.each_process(host, other)
        if not found.holds:
            return Finding(False, f"{_task(ctr, other)}, not its main one: {found.summary}",
                           found.host, found.container, found.items)
    threads = sum(1 for other in others if _status(other).get("Tgid", str(other.pid)) != str(other.pid))
    if others:
        return replace(main, summary=f"{main.summary}; so do its {len(others) - threads} other process(es) and "
                                     f"{threads} other thread(s)")
    return main


def _status(ctr: ContainerFacts) -> dict:
    return ctr.outside["status"].value or {}


def _task(ctr: ContainerFacts, other: ContainerFacts) -> str:
    """The task that breaks a property, by number and name: "its process 42 (sh)", or
    "its thread 43 (worker) of process 42 (app)" — each thread has credentials of its own."""
    tid, status = str(other.pid), _status(other)
    name = one_line(status.get("Name", "?"), 40)
    process = status.get("Tgid", tid)
    if process == tid:
        return f"its process {tid} ({name})"
    if process == str(ctr.pid):
        leader = one_line(_status(ctr).get("Name", "?"), 40)
    else:
        leader = next((one_line(_status(o).get("Name", "?"), 40) for o in ctr.others() or ()
                       if str(o.pid) == process), "?")
    return f"its thread {tid} ({name}) of process {process} ({leader})"


def judge(prop: Property, target: str, enforced: bool, host: HostFacts, ctr: ContainerFacts) -> Verdict:
    if not ctr.outside:
        inside_view = tuple(shown(r) for r in (ctr.inside or {}).values())
        return Verdict(prop, target, ERROR, enforced,
                       "not observable from inside alone: judging it needs the kernel's view from the "
                       "container's host; run the suite on the node, with docker:// or pid://", (), inside_view)
    partial: list[str] = []
    used = PARTIAL.set(partial)
    try:
        finding = prop.check(host, ctr)
        if finding.holds and prop.each_process is not None:
            finding = _every_process(prop, host, ctr, finding)
    except (Unobservable, ValueError) as exc:
        return Verdict(prop, target, ERROR, enforced, str(exc), (), declared(prop, ctr))
    finally:
        PARTIAL.reset(used)
    summary = finding.summary
    if partial:  # what was read stands; a process it could not read might break it
        if finding.holds:
            return Verdict(prop, target, ERROR, enforced,
                           one_line(f"it holds for every process read, but not all could be: {partial[0]}",
                                    SUMMARY_CHARS), finding.host, finding.container + declared(prop, ctr))
        summary = f"{summary} (and not all its processes could be read: {partial[0]})"
    status = PASS if finding.holds else FAIL if enforced else ADVISORY
    return Verdict(prop, target, status, enforced, one_line(summary, SUMMARY_CHARS), finding.host,
                   finding.container + declared(prop, ctr), finding.items)
