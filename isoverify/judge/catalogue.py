"""The catalogue: every isolation property as data — its stable ID (select it with -k;
compare reports across versions by it), its title, the controls it evidences and the
check that decides it (judge/checks/) — and the profiles that enforce them. What runs
the checks is judge/verdict.py, apart from this table.
"""

import re

from isoverify.judge.checks import drift, filesystem, lesson, privileges, pss, resources
from isoverify.judge.checks.base import CIS, NIST, PSS, Control, Property
from isoverify.judge.checks.namespaces import namespace_check
from isoverify.judge.guidance import RUNTIMES, Guidance
from isoverify.judge.words import SEVERITIES

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
             (NIST("4.4.3"), PSS("runAsNonRoot"), PSS("runAsUser")), privileges.check_nonroot, ("Config.User",),
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
    # The Pod Security Standards' controls judged to their letter (judge/checks/pss.py).
    Property("pss-caps", "No capability added beyond the Pod Security Standards' baseline list",
             (PSS("capabilities"),), pss.check_caps_baseline, ("HostConfig.CapAdd",),
             each_process=pss.check_caps_baseline),
    Property("pss-caps-restricted", "Every capability dropped but NET_BIND_SERVICE",
             (PSS("capabilities"),), pss.check_caps_restricted, ("HostConfig.CapAdd", "HostConfig.CapDrop"),
             each_process=pss.check_caps_restricted),
    Property("pss-host-path", "No host path mounted in but the pod's own volumes (no hostPath volume)",
             (PSS("hostPath volumes"),), pss.check_host_path, ("HostConfig.Binds", "HostConfig.Mounts")),
    Property("pss-volume-types", "Only the volume types the restricted level allows",
             (PSS("volume types"),), pss.check_volume_types, ("HostConfig.Binds", "HostConfig.Mounts")),
    Property("pss-host-ports", "No host port (declared)",
             (PSS("hostPorts"), CIS("5.8")), pss.check_host_ports, ("HostConfig.PortBindings",)),
    Property("pss-sysctls", "Only safe sysctls (declared)",
             (PSS("sysctls"),), pss.check_sysctls, ("HostConfig.Sysctls",)),
    Property("pss-seccomp", "The seccomp profile is not Unconfined (declared; unset allowed)",
             (PSS("seccompProfile"),), pss.check_seccomp_baseline, ("HostConfig.SecurityOpt",)),
    Property("pss-seccomp-restricted", "A RuntimeDefault or Localhost seccomp profile, in force",
             (PSS("seccompProfile"),), pss.check_seccomp_restricted, ("HostConfig.SecurityOpt",),
             each_process=pss.check_seccomp_restricted),
    Property("pss-apparmor", "AppArmor is not disabled (declared; the kernel's label where AppArmor runs)",
             (PSS("AppArmor"),), pss.check_apparmor, ("HostConfig.SecurityOpt", "AppArmorProfile"),
             each_process=pss.check_apparmor),
    Property("pss-selinux", "SELinux sets no user or role, and only a container type (declared)",
             (PSS("SELinux"),), pss.check_selinux, ("HostConfig.SecurityOpt", "ProcessLabel")),
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
# The Pod Security Standards' levels, each control by the properties that judge it: the host
# namespaces, privileged, capabilities, hostPath volumes, host ports, AppArmor and SELinux,
# the /proc mount, seccomp, sysctls (HostProcess is Windows' alone); restricted adds volume
# types, privilege escalation, non-root, and its own capabilities and seccomp in place of baseline's.
# hostPath volumes is pss-host-path's: host-mounts' reading of each mount, to the letter (every
# host path, host data too), but what the runtime mounts for a host namespace the pod shares.
PSS_BASELINE = ("net", "pid", "ipc", "privileged", "pss-caps", "pss-host-path", "pss-host-ports",
                "pss-apparmor", "pss-selinux", "masked-paths", "readonly-paths", "pss-seccomp", "pss-sysctls")
PSS_RESTRICTED = tuple(p for p in PSS_BASELINE if p not in ("pss-caps", "pss-seccomp")) + (
    "pss-caps-restricted", "pss-seccomp-restricted", "pss-volume-types", "nnp", "nonroot")
# The standards' own letter: judged in a run under one of their profiles only. Under the other
# profiles caps, seccomp, host-mounts and lsm already say what these would, in Docker's terms.
PSS_LETTER = ("pss-caps", "pss-caps-restricted", "pss-host-path", "pss-volume-types", "pss-host-ports",
              "pss-sysctls", "pss-seccomp", "pss-seccomp-restricted", "pss-apparmor", "pss-selinux")
# Which properties each profile enforces; the others still run, as advisories.
PROFILES = {"seed": SEED, "baseline": BASELINE, "hardened": HARDENED,
            "pss-baseline": PSS_BASELINE, "pss-restricted": PSS_RESTRICTED}
# Each ladder's profiles, each enforcing what the one before does and more.
PSS_LADDER = ("pss-baseline", "pss-restricted")
LADDERS = (("seed", "baseline", "hardened"), PSS_LADDER)
DEFAULT_PROFILE = "baseline"


def judged_in(profile: str) -> tuple[Property, ...]:
    """The catalogue's properties a run under `profile` judges."""
    return tuple(p for p in CATALOGUE if p.id not in PSS_LETTER or profile in PSS_LADDER)
PROPERTY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # what a property ID may be: -k and waivers name it


def own_property(property_id: str, title: str, controls=(), profile: str = "seed", advisory: bool = False,
                 severity: str | None = None, rationale: str = "", remediation: str | dict = "") -> Property:
    """A property the user's own test decides: enforced from `profile` up its ladder (every
    profile by default: `seed`), or never, as an advisory. Controls are Control values or "CIS 5.7",
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
    ladder = next(ladder for ladder in LADDERS if profile in ladder)
    enforced = tuple(PROFILES) if profile == "seed" else ladder[ladder.index(profile):]
    return Property(property_id, title, tuple(_control(c, property_id) for c in controls), None,
                    enforced_in=() if advisory else enforced,
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
