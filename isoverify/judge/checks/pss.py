"""The Pod Security Standards' controls that no other property judges to the standard's letter.

Capabilities and host paths are judged from the kernel (capability sets, the host path each
mount really shows), and so is AppArmor where the host runs it (each task's label). Host
ports, sysctls, and whether a seccomp or AppArmor profile was named Unconfined or left unset
exist only in what was declared — a pod's CRI configs as
its runtime holds them, a container's inspect document — and say so in their summaries;
beside each stands what the kernel shows. A bare process declares nothing: those are errors.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from isoverify.judge.checks import filesystem
from isoverify.judge.checks.base import Evidence, Finding, Unobservable, kernel, shown, status, task, value, yardstick
from isoverify.judge.checks.privileges import SECCOMP_MODES, _caps_evidence, capability_sets
from isoverify.kernel import linux
from isoverify.model import ContainerFacts, HostFacts

if TYPE_CHECKING:  # what a pod's CRI runtime said of it: only named here
    from isoverify.collect.cri import PodContainer

# Baseline: adding capabilities beyond these is disallowed.
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
# Restricted: drop ALL, add back only this.
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                          "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
                          "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
                          "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"})
SELINUX_TYPES = frozenset({"container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
# Restricted's volume types, by the directory a kubelet keeps each in under the pod's
# (PODS/UID/volumes/kubernetes.io~PLUGIN/NAME); a claim shows as its volume's plugin.
ALLOWED_VOLUME_PLUGINS = {"configmap": "configMap", "secret": "secret", "projected": "projected",
                          "downward-api": "downwardAPI", "empty-dir": "emptyDir", "csi": "csi or ephemeral"}
DECLARED = "declared by the pod, not observable in the kernel"


@dataclass(frozen=True)
class Declared:
    """What a pod (or a container's engine) was asked for, in the standard's terms."""

    source: str  # where it was read, for evidence
    said: str  # how a summary says it was declared, not seen
    seccomp: str  # "" unset, else RuntimeDefault, Unconfined or Localhost
    apparmor: str
    selinux: dict[str, str]
    added_capabilities: tuple[str, ...]
    host_ports: tuple[str, ...]
    sysctls: dict[str, str]

    def shown(self) -> str:
        return "\n".join((
            f"seccomp profile: {self.seccomp or '(not set)'}",
            f"AppArmor profile: {self.apparmor or '(not set)'}",
            f"SELinux options: {' '.join(f'{k}={v}' for k, v in sorted(self.selinux.items())) or '(not set)'}",
            f"capabilities added: {' '.join(self.added_capabilities) or '(none)'}",
            f"host ports: {' '.join(self.host_ports) or '(none)'}",
            f"sysctls: {' '.join(f'{k}={v}' for k, v in sorted(self.sysctls.items())) or '(none)'}"))


def declared(ctr: ContainerFacts) -> Declared:
    """The pod's CRI configs, or the engine's inspect document; a bare process has neither."""
    pod = ctr.target.pod
    if pod is not None:
        config = pod.config
        if config is None:
            raise Unobservable(f"the CRI runtime holds no config of it: {pod.info_error or 'none in its verbose info'}")
        return Declared("the CRI configs its runtime holds (ContainerConfig, PodSandboxConfig)", DECLARED,
                        config.seccomp, config.apparmor, dict(config.selinux),
                        tuple(_cap(c) for c in config.added_capabilities), config.host_ports, dict(config.sysctls))
    if ctr.declared is None:
        raise Unobservable("a bare process declares nothing: judge it as the pod or container it is")
    return _from_inspect(ctr.declared, ctr.target.engine)


def _cap(name: str) -> str:
    return name.upper().removeprefix("CAP_")


def _from_inspect(inspect: dict, engine: str) -> Declared:
    """An engine's inspect document in the standard's terms: --privileged and
    seccomp=unconfined are Unconfined, a profile of one's own Localhost, none the engine's default."""
    config = inspect.get("HostConfig") or {}
    options = dict(_security_opts(config))
    privileged = bool(config.get("Privileged"))

    def profile(name: str) -> str:
        given = options.get(name)
        return "Unconfined" if privileged or given == "unconfined" else \
            "RuntimeDefault" if given in (None, "", "default", "docker-default") else "Localhost"
    selinux = {key: text for key, _, text in (label.partition(":") for label in
                                               [v for k, v in _security_opts(config) if k == "label"])
               if key in ("user", "role", "type", "level")}
    if privileged or "disable" in [v for k, v in _security_opts(config) if k == "label"]:
        selinux["type"] = "spc_t"
    ports = [f"{binding.get('HostPort') or 'any'}/{spec.partition('/')[2].upper() or 'TCP'}"
             for spec, bindings in (config.get("PortBindings") or {}).items() for binding in bindings or []]
    if config.get("PublishAllPorts"):
        ports.append("every exposed port (--publish-all)")
    return Declared(f"{engine} inspect", f"declared in {engine} inspect, not observable in the kernel",
                    profile("seccomp"), profile("apparmor"), selinux,
                    tuple(_cap(c) for c in config.get("CapAdd") or []), tuple(ports),
                    dict(config.get("Sysctls") or {}))


def _security_opts(config: dict) -> list[tuple[str, str]]:
    """Each --security-opt as (key, value): `seccomp=unconfined`, and the older `seccomp:unconfined`."""
    return [(found[1], found[2]) for found in (re.match(r"([^=:]*)[=:]?(.*)", opt, re.S)
                                               for opt in config.get("SecurityOpt") or [] if isinstance(opt, str))
            if found]


def _declared_evidence(found: Declared) -> Evidence:
    return Evidence(f"declared ({found.source}): {found.said}", found.shown())


# -- capabilities, from the kernel ---------------------------------------------------------

def _runtime_default(ctr: ContainerFacts) -> frozenset[str]:
    return linux.DEFAULT_CAPABILITIES[yardstick(ctr)]


def check_caps_baseline(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Baseline forbids adding a capability beyond its list: what the kernel grants beyond the
    list and the runtime's default was added, and so was one the declaration adds (NET_RAW is
    the runtime's default, not on the list: added, it fails; by default, it does not)."""
    sets = capability_sets(ctr)
    granted = frozenset().union(*sets.values())
    allowed = BASELINE_CAPABILITIES | _runtime_default(ctr)
    beyond = set(granted - allowed)
    said = ""
    try:
        added = set(declared(ctr).added_capabilities) - BASELINE_CAPABILITIES
        beyond |= added & granted  # an addition the kernel does not show adds nothing
        said = f"; declared added beyond the list: {', '.join(sorted(added))}" if added else ""
    except Unobservable as why:  # the kernel alone still judges
        said = f"; the declaration could not be read ({why})"
    beyond_sorted = sorted(beyond)
    summary = (f"capabilities added beyond the baseline's list: {', '.join(beyond_sorted)}" if beyond_sorted
               else f"no capability beyond the baseline's list and the runtime's default ({len(granted)} held)")
    return Finding(not beyond_sorted, summary + said,
                   (Evidence("the baseline's list", " ".join(sorted(BASELINE_CAPABILITIES))),),
                   (_caps_evidence(ctr, sets),), tuple(beyond_sorted))


def check_caps_restricted(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Restricted: every capability dropped but NET_BIND_SERVICE, in every set the kernel holds
    (the bounding set too: a setuid binary or an exec as root gets it back). The pod's sandbox
    is the runtime's process, which no container's capabilities describe: of it, only what it
    can ever use counts — its bounding set too unless it runs as a user other than root with
    no_new_privs (then no exec can raise it)."""
    sets = capability_sets(ctr)
    held = frozenset().union(*sets.values())
    sandbox = _is_sandbox(ctr)
    fields = status(ctr)
    bounded = fields.get("NoNewPrivs") == "1" and "0" not in fields.get("Uid", "0").split()
    if sandbox and bounded:
        held = frozenset().union(*(caps for name, caps in sets.items() if name != "CapBnd"))
    beyond = sorted(held - RESTRICTED_CAPABILITIES)
    summary = (f"capabilities not dropped: {', '.join(beyond)}" if beyond
               else "every capability dropped but NET_BIND_SERVICE, in every set")
    if sandbox and bounded and not beyond:
        summary = ("the pod's sandbox holds no capability it can use: it runs as a user other than root with "
                   f"no_new_privs, its bounding set ({len(sets['CapBnd'])}) out of reach")
    return Finding(not beyond, summary, (), (_caps_evidence(ctr, sets),), tuple(beyond))


# -- host paths and volume types, from the kernel ----------------------------------------------

def _host_paths(host: HostFacts, ctr: ContainerFacts) -> list[tuple["filesystem.Exposure", str | None]]:
    """Each host mount with what it is: the pod's own volume ("empty-dir", …; "" another of the
    kubelet's files for the pod), or None, a hostPath. Left out: its engine's own files, a Docker
    or Podman container's named volumes (a pod has none: one of an engine's, mounted into a pod,
    is another workload's data), and what the runtime mounts, where it mounts it, for a host
    namespace the pod shares — the node's /dev/shm at /dev/shm with hostIPC, the whole read-only
    sysfs of the node's network namespace at /sys with hostNetwork — which `ipc` and `net` judge.
    The same pieces mounted elsewhere, or another directory of them there, are hostPaths."""
    host_ns = value(host["ns"], "the host's namespaces")
    ctr_ns = value(ctr.outside["ns"], "the container's namespaces")

    def shares(kind: str) -> bool:
        return kind in host_ns and host_ns.get(kind) == ctr_ns.get(kind)

    def runtimes_own(exposure: "filesystem.Exposure") -> bool:
        mount = exposure.mount
        if exposure.kind == "ipc":  # the node's /dev/shm or /dev/mqueue, where the runtime mounts it
            return mount.mount_point == exposure.path and shares("ipc")
        return (mount.fstype == "sysfs" and mount.mount_point == "/sys" and mount.root == "/"
                and "ro" in mount.options.split(",") and shares("net"))
    found = []
    for exposure in filesystem.exposures(host, ctr):
        plugin = filesystem.pod_volume(ctr, exposure.path)
        if plugin is None and (exposure.kind == "own" or runtimes_own(exposure)
                               or (exposure.why == filesystem.VOLUME_WHY and ctr.target.pod is None)):
            continue
        found.append((exposure, plugin))
    return found


def _mount_evidence(ctr: ContainerFacts, rows: list[tuple["filesystem.Exposure", str | None]]) -> Evidence:
    table = "\n".join(f"{e.mount.mount_point}  <-  host {e.path}: "
                      + ("a hostPath" if plugin is None else f"the pod's own {plugin or 'kubelet file'}")
                      for e, plugin in rows)
    return kernel(ctr, "its host mounts as the kernel maps them (but its engine's own files)", table or "(none)")


def check_host_path(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Baseline: no hostPath volume at all — any piece of the host's filesystems mounted in that
    is not one of the pod's own volumes or its runtime's files, judged by the host path the
    kernel shows, whatever the volume was called; and none held after it was unmounted."""
    rows = _host_paths(host, ctr)
    paths = [e for e, plugin in rows if plugin is None]
    held = filesystem.held_host_files(host, ctr)
    summary = "; ".join((["host paths mounted in (hostPath volumes): " + "; ".join(e.shown for e in paths)]
                         if paths else []) + held) or "no host path mounted in but its own volumes"
    return Finding(not paths and not held, summary, (), (_mount_evidence(ctr, rows), shown(ctr.outside["held"])),
                   tuple(dict.fromkeys(e.path for e in paths)) + (("held outside its mounts",) if held else ()))


def check_volume_types(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Restricted: only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim,
    projected and secret volumes, by the kubelet directory each host mount really is."""
    rows = _host_paths(host, ctr)
    wrong = [(e, plugin) for e, plugin in rows if plugin not in (*ALLOWED_VOLUME_PLUGINS, "")]
    summary = ("volumes of a type restricted does not allow: "
               + "; ".join(f"{e.mount.mount_point} ({'hostPath ' + e.path if plugin is None else plugin})"
                           for e, plugin in wrong) if wrong
               else "every volume is of a type restricted allows (" + ", ".join(ALLOWED_VOLUME_PLUGINS.values())
               + ", a claim's)")
    return Finding(not wrong, summary, (), (_mount_evidence(ctr, rows),),
                   tuple(dict.fromkeys(e.path if plugin is None else plugin for e, plugin in wrong)))


# -- declared only ---------------------------------------------------------------------------

def check_host_ports(host: HostFacts, ctr: ContainerFacts) -> Finding:
    found = declared(ctr)
    summary = (f"host ports {', '.join(found.host_ports)}: {found.said}" if found.host_ports
               else f"no host port: {found.said}")
    return Finding(not found.host_ports, summary, (), (_declared_evidence(found),), found.host_ports)


def check_sysctls(host: HostFacts, ctr: ContainerFacts) -> Finding:
    found = declared(ctr)
    unsafe = sorted(name for name in found.sysctls if name not in SAFE_SYSCTLS)
    summary = (f"sysctls beyond the safe set: {', '.join(unsafe)} ({found.said})" if unsafe
               else f"only safe sysctls, if any ({found.said})")
    return Finding(not unsafe, summary, (Evidence("the safe set", " ".join(sorted(SAFE_SYSCTLS))),),
                   (_declared_evidence(found),), tuple(unsafe))


def _kernel_seccomp(ctr: ContainerFacts) -> tuple[str, Evidence]:
    fields = status(ctr)
    mode = fields.get("Seccomp", "?")
    return mode, kernel(ctr, f"Seccomp in /proc/{ctr.pid}/status ({task(ctr)})",
                        f"{mode} ({SECCOMP_MODES.get(mode, 'unknown')}), filters: {fields.get('Seccomp_filters', '?')}")


def check_seccomp_baseline(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Baseline, to the letter: the profile must not be Unconfined; left unset it is allowed,
    though the kernel may show no filter (which the evidence says)."""
    found = declared(ctr)
    mode, kernel_ev = _kernel_seccomp(ctr)
    none_in_force = "" if mode != "0" else "; the kernel shows no filter in force"
    if found.seccomp == "Unconfined":
        summary = f"seccomp profile Unconfined ({found.said}){none_in_force}"
    else:
        summary = (f"seccomp profile {found.seccomp or 'not set (allowed at baseline)'} "
                   f"({found.said}){none_in_force}")
    return Finding(found.seccomp != "Unconfined", summary, (), (_declared_evidence(found), kernel_ev),
                   ("Unconfined",) if found.seccomp == "Unconfined" else ())


def check_seccomp_restricted(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """Restricted: RuntimeDefault or Localhost must be named, and the kernel must show a filter
    in force on each task (a named profile the runtime did not apply confines nothing; one
    task started unfiltered is not confined). The pod's sandbox counts where its containers
    share its PID namespace: there they can trace it and run as it; elsewhere it is out of
    their reach, and it is only shown (a kubelet filters it by the pod's profile alone)."""
    mode, kernel_ev = _kernel_seccomp(ctr)
    if _is_sandbox(ctr) and not _shares_pid_namespace(ctr):
        return Finding(True, f"the pod's sandbox ({task(ctr)}) {'unfiltered' if mode == '0' else 'filtered'}, in a "
                             "PID namespace its containers do not share: out of their reach", (), (kernel_ev,))
    found = declared(ctr)
    named = found.seccomp in ("RuntimeDefault", "Localhost")
    holds = named and mode in ("1", "2")
    summary = (f"seccomp profile {found.seccomp} ({found.said}), a filter in force" if holds else
               f"seccomp profile {found.seccomp or 'not set'} ({found.said}): restricted needs RuntimeDefault "
               "or Localhost" if not named else
               f"seccomp profile {found.seccomp} ({found.said}), but the kernel shows no filter in force on "
               f"{task(ctr)}")
    return Finding(holds, summary, (), (_declared_evidence(found), kernel_ev),
                   () if holds else (found.seccomp or "not set",))


def check_apparmor(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """AppArmor must not be disabled: the declaration must not say Unconfined, and where the
    host's kernel runs AppArmor, the label it shows on each of the container's tasks must not
    be `unconfined` (a profile asked for and not applied confines nothing); the pod's sandbox's
    is shown beside it. Elsewhere only the declaration speaks, and the summary says so."""
    found = declared(ctr)
    host_ev, ctr_ev = (shown(host["lsm"]),), (_declared_evidence(found), shown(ctr.outside["label"]))
    if "apparmor" not in (value(host["lsm"], "the host's security modules") or ()):
        wrong = found.apparmor == "Unconfined"
        summary = (f"AppArmor profile Unconfined ({found.said})" if wrong
                   else f"AppArmor profile {found.apparmor or 'not set'} ({found.said})")
        return Finding(not wrong, summary, host_ev, ctr_ev, ("Unconfined",) if wrong else ())
    label = (value(ctr.outside["label"], "its AppArmor label") or "").strip()
    asked = f"AppArmor profile {found.apparmor or 'not set'} (declared)"
    if found.apparmor != "Unconfined" and _is_sandbox(ctr):
        return Finding(True, f"{asked}; {_sandbox_label(ctr)}", host_ev, ctr_ev)
    if found.apparmor == "Unconfined" or _unconfined(label):
        return Finding(False, f"{asked}; the kernel shows {task(ctr)} {_label_words(label)}",
                       host_ev, ctr_ev, ("Unconfined",))
    sandbox = next((_sandbox_label(other) for other in ctr.others() or () if _is_sandbox(other)), "")
    return Finding(True, f"{asked}; the kernel confines {task(ctr)}: {label}" + (f"; {sandbox}" if sandbox else ""),
                   host_ev, ctr_ev)


def _unconfined(label: str) -> bool:
    return not linux.label_confines(label)


def _label_words(label: str) -> str:
    if label in ("", "unconfined"):
        return "unconfined"
    return f"{label}, a mode that refuses nothing" if _unconfined(label) else label


def _is_sandbox(one: ContainerFacts) -> bool:
    """The pod's sandbox process, or one of its threads."""
    pod = one.target.pod
    return pod is not None and status(one).get("Tgid", str(one.pid)) == str(pod.sandbox_pid)


def _shares_pid_namespace(task_view: ContainerFacts) -> bool:
    """Whether another task of the container (ContainerFacts.others) is in its main process's
    PID namespace, where the main process can see, signal and trace it."""
    main = task_view.outside.get("main_ns")
    if main is None:
        return True
    return value(main, "its main process's namespaces").get("pid") == \
        value(task_view.outside["ns"], "the task's namespaces").get("pid")


def _sandbox_label(sandbox: ContainerFacts) -> str:
    """The pod's sandbox is the runtime's process: no container's appArmorProfile describes it
    (containerd starts it with none), so its label is shown, not judged."""
    label = (sandbox.outside["label"].value or "").strip() if sandbox.outside["label"].readable else "unread"
    return (f"the pod's sandbox ({task(sandbox)}), the runtime's own process, which no container's "
            f"profile describes, shows {_label_words(label)}")


def check_selinux(host: HostFacts, ctr: ContainerFacts) -> Finding:
    """SELinux may set only the level and one of the container types: no user, no role."""
    found = declared(ctr)
    wrong = _selinux_beyond(found.selinux)
    summary = (f"SELinux options beyond the standard: {', '.join(wrong)} ({found.said})" if wrong
               else f"SELinux options within the standard ({found.said})")
    return Finding(not wrong, summary, (shown(host["lsm"]),), (_declared_evidence(found), shown(ctr.outside["label"])),
                   tuple(wrong))


# -- a container that ran and exited: what its runtime still holds -----------------------------

# The properties a container's CRI config and runtime spec answer alone; the rest need a
# process for the kernel to show, and a container that exited has none.
FROM_DECLARATION = frozenset({"pss-caps", "pss-caps-restricted", "pss-seccomp", "pss-seccomp-restricted",
                              "pss-apparmor", "pss-selinux", "pss-host-ports", "pss-sysctls", "pss-host-path",
                              "nonroot", "nnp"})
HELD = "as its CRI runtime still holds it"
# Mount types of a runtime spec that bind no host path: filesystems the runtime makes.
_NOT_BOUND = ("proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2")


def from_declaration(prop_id: str, pod: "PodContainer") -> Finding | None:
    """A control judged from what a container that ran and exited was given — its CRI config
    and the runtime spec the runtime still holds — for the properties in FROM_DECLARATION;
    None for any other, or when the runtime holds nothing to judge it by."""
    config, spec = pod.config, pod.spec
    if prop_id not in FROM_DECLARATION or config is None or spec is None:
        return None
    evidence = (Evidence("declared (the CRI runtime spec)", spec.describe()),)
    granted = frozenset().union(*spec.capabilities.values())
    if prop_id == "pss-caps":
        beyond = sorted({_cap(c) for c in config.added_capabilities} - BASELINE_CAPABILITIES)
        return _held(not beyond, f"capabilities added beyond the baseline's list: {', '.join(beyond)}" if beyond
                     else "no capability added beyond the baseline's list", evidence, beyond)
    if prop_id == "pss-caps-restricted":
        beyond = sorted({_cap(c) for c in granted} - RESTRICTED_CAPABILITIES)
        return _held(not beyond, f"capabilities not dropped: {', '.join(beyond)}" if beyond
                     else "every capability dropped but NET_BIND_SERVICE", evidence, beyond)
    if prop_id == "pss-seccomp":
        return _held(config.seccomp != "Unconfined", f"seccomp profile {config.seccomp or 'not set'}", evidence,
                     [config.seccomp])
    if prop_id == "pss-seccomp-restricted":
        holds = config.seccomp in ("RuntimeDefault", "Localhost") and spec.seccomp is not None
        return _held(holds, f"seccomp profile {config.seccomp or 'not set'}, "
                            f"{'a filter' if spec.seccomp else 'no filter'} in its runtime spec", evidence,
                     [config.seccomp or "not set"])
    if prop_id == "pss-apparmor":
        return _held(config.apparmor != "Unconfined", f"AppArmor profile {config.apparmor or 'not set'}", evidence,
                     ["Unconfined"])
    if prop_id == "pss-selinux":
        wrong = _selinux_beyond(config.selinux)
        return _held(not wrong, f"SELinux options beyond the standard: {', '.join(wrong)}" if wrong
                     else "SELinux options within the standard", evidence, wrong)
    if prop_id == "pss-host-ports":
        return _held(not config.host_ports, f"host ports {', '.join(config.host_ports)}" if config.host_ports
                     else "no host port", evidence, list(config.host_ports))
    if prop_id == "pss-sysctls":
        unsafe = sorted(name for name in config.sysctls if name not in SAFE_SYSCTLS)
        return _held(not unsafe, f"sysctls beyond the safe set: {', '.join(unsafe)}" if unsafe
                     else "only safe sysctls, if any", evidence, unsafe)
    if prop_id == "pss-host-path":
        node_ipc = "ipc" not in spec.namespaces  # hostIPC: the runtime binds the node's /dev/shm, `ipc` judges it
        paths = [m["source"] for m in spec.mounts if m["type"] not in _NOT_BOUND and m["source"].startswith("/")
                 and not _pods_own(pod, m["source"]) and not (m["source"] == "/dev/shm" and node_ipc)]
        return _held(not paths, f"host paths bound in: {', '.join(paths)}" if paths
                     else "no host path bound in but its pod's own", evidence, paths)
    if prop_id == "nonroot":
        if spec.uid is None:
            return None
        return _held(spec.uid != 0, f"its runtime spec runs it as uid {spec.uid}", evidence, [str(spec.uid)])
    return _held(spec.no_new_privileges, "no_new_privs " + ("set" if spec.no_new_privileges else "not set"),
                 evidence, ["allowPrivilegeEscalation"])


def _held(holds: bool, summary: str, evidence: tuple[Evidence, ...], items) -> Finding:
    return Finding(holds, f"{summary} ({HELD})", (), evidence, () if holds else tuple(items))


def _selinux_beyond(options: dict[str, str]) -> list[str]:
    wrong = [f"type {options['type']}"] if options.get("type", "") not in ("", *SELINUX_TYPES) else []
    return wrong + [f"{key} {options[key]}" for key in ("user", "role") if options.get(key)]


def _pods_own(pod: "PodContainer", source: str) -> bool:
    """A kubelet's file or volume of this pod (under its UID), or a file its runtime made for
    this sandbox or container (its hosts, hostname, resolv.conf, /dev/shm: under a directory
    named after either's ID). Both are drawn when the pod is made: no hostPath names them before."""
    return (bool(pod.pod_uid) and f"/pods/{pod.pod_uid}/" in source) or \
        any(f"/{own}/" in source for own in (pod.sandbox_id, pod.container_id) if own)
