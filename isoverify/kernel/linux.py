"""What the kernel's numbers mean: capability names, device numbers, LSM labels, runtime defaults.

Names come from include/uapi/linux/capability.h and Documentation/admin-guide/
devices.txt; the defaults are those the runtimes document (Docker's
`oci/caps/defaults.go` and masked paths, which containerd's CRI shares, Podman's
containers.conf). Which
capabilities exist is never taken from here: the host's cap_last_cap says.
"""

import re

CAPABILITIES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)

_DOCKER_CAPABILITIES = frozenset({"CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID",
                                  "SETUID", "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL",
                                  "AUDIT_WRITE"})
# What each runtime grants a container that asks for nothing more: an engine's, and a pod's
# CRI runtime's by the name it gives itself (containerd's CRI grants Docker's fourteen).
DEFAULT_CAPABILITIES = {
    "docker": _DOCKER_CAPABILITIES,
    "podman": frozenset({"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
                         "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}),
    "containerd": _DOCKER_CAPABILITIES,
}

# Each of these alone is a known way out of a container, or into the host's kernel.
DANGEROUS_CAPABILITIES = frozenset({
    "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "DAC_READ_SEARCH", "NET_ADMIN",
    "SYS_BOOT", "SYS_TIME", "MAC_ADMIN", "MAC_OVERRIDE", "BPF", "PERFMON", "SYSLOG",
    "LINUX_IMMUTABLE", "AUDIT_CONTROL", "CHECKPOINT_RESTORE", "SYS_RESOURCE",
})


# Capabilities newer than CAP_AUDIT_READ (Linux 3.16): runtimes older than the
# kernel do not know them, so their "ALL" and --privileged leave them out.
NEWER_CAPABILITIES = frozenset({"PERFMON", "BPF", "CHECKPOINT_RESTORE"})


def capability_name(bit: int) -> str:
    return CAPABILITIES[bit] if bit < len(CAPABILITIES) else f"CAP_{bit}"


def all_capabilities(last_cap: int) -> frozenset[str]:
    """Every capability this kernel has: bits 0..cap_last_cap."""
    return frozenset(capability_name(bit) for bit in range(last_cap + 1))


def decode_capabilities(mask: str) -> frozenset[str]:
    """A /proc/<pid>/status Cap* hex mask as capability names."""
    value = int(mask, 16)
    return frozenset(capability_name(bit) for bit in range(value.bit_length()) if value >> bit & 1)


# AppArmor modes in which a profile refuses nothing: complain only logs what it would refuse.
APPARMOR_UNENFORCED = ("unconfined", "complain")


def label_confines(label: str) -> bool:
    """Whether a task's LSM label (/proc/PID/attr/current) confines it. AppArmor's reads
    "PROFILE (MODE)", or "unconfined" alone: it confines in a mode that enforces, whatever
    the profile is called. SELinux's reads user:role:type[:level]: spc_t and the unconfined
    types confine nothing."""
    label = label.strip()
    if label in ("", "unconfined"):
        return False
    if apparmor := re.fullmatch(r".+ \((\w+)\)", label):
        return apparmor[1] not in APPARMOR_UNENFORCED
    fields = label.split(":")
    if len(fields) >= 3:
        return fields[2] != "spc_t" and "unconfined" not in fields[2]
    return "unconfined" not in label


# The device nodes a default container gets (type, major, minor); /dev/pts/* and
# the console, which is one of them, are the container's own devpts.
DEFAULT_DEVICES = {
    ("c", 1, 3): "null", ("c", 1, 5): "zero", ("c", 1, 7): "full", ("c", 1, 8): "random",
    ("c", 1, 9): "urandom", ("c", 5, 0): "tty", ("c", 5, 1): "console", ("c", 5, 2): "ptmx",
}
DANGEROUS_DEVICES = {
    ("c", 1, 1): "mem", ("c", 1, 2): "kmem", ("c", 1, 4): "port", ("c", 10, 232): "kvm",
    ("c", 10, 229): "fuse", ("c", 10, 200): "net/tun",
}


def is_default_device(device) -> bool:
    """A node every container has, judged by its numbers (a path is the container's word):
    the standard character devices, or a pseudo-terminal (its own devpts, its console)."""
    return ((device.kind, device.major, device.minor) in DEFAULT_DEVICES
            or device.kind == "c" and device.major in PTY_MAJORS)


# Unix98 pseudo-terminal slaves (Documentation/admin-guide/devices.txt: 136-143).
PTY_MAJORS = range(136, 144)


# The device cgroup rules a default Docker container has (cgroup v1 devices.list).
DEFAULT_DEVICE_RULES = frozenset({
    "b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm",
})

# What runtimes hide or make read-only in /proc and /sys; only those the host's
# kernel has are expected to be covered.
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# What a host mount hands a container, judged in properties/filesystem.py (host-mounts):
# - any path of a filesystem that is one of the kernel's control surfaces;
KERNEL_FILESYSTEMS = frozenset({
    "proc", "sysfs", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "bpf", "configfs",
    "efivarfs", "pstore", "binfmt_misc", "fusectl", "devtmpfs", "devpts", "hugetlbfs", "mqueue",
})
# - the system's own trees, anything under them, and any directory holding one (the
#   host's / itself, not all below it: that is the rest of this list);
SYSTEM_TREES = (
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/root",
    "/run", "/sbin", "/sys", "/usr", "/var/lib", "/var/run",
)
# - every container engine's and runtime's state (also outside those trees, where a data
#   root is moved: the engine's own rootfs path shows it); their volumes' data are the
#   users' (an advisory), and the files the engine makes for this container its own.
ENGINE_STATE = (
    "/var/lib/docker", "/var/lib/containers", "/var/lib/containerd", "/var/lib/kubelet", "/var/lib/crio",
    "/run/docker", "/run/containerd", "/run/containers", "/run/crio", "/run/podman", "/run/runc",
    "/run/libpod", "/var/lib/lxd", "/var/lib/incus", "/var/lib/libvirt", "/run/libvirt",
)
VOLUME_DATA = re.compile(r"/volumes/[^/]+/_data(/|$)")
OWN_ENGINE_FILES = ("hosts", "hostname", "resolv.conf", ".containerenv", "shm", "secrets")
# The init an engine binds into a container that asks for one (`--init`): where it puts it,
# and the host files it may be (the host's names: no container chooses them).
ENGINE_INIT_AT = {"docker": "/sbin/docker-init", "podman": "/run/podman-init"}
ENGINE_INITS = tuple(f"{directory}/{name}"
                     for directory in ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/libexec/docker",
                                       "/usr/libexec/podman")
                     for name in ("docker-init", "tini", "tini-static", "catatonit", "dumb-init"))

# The processes that speak for an engine or runtime: a unix socket one of them listens on,
# reachable from a container, hands it the host (ss shows each listener's command, cut at
# 15 characters by the kernel).
ENGINE_PROCESSES = (
    "dockerd", "containerd", "containerd-shim", "docker-proxy", "podman", "conmon", "crio", "cri-dockerd",
    "kubelet", "buildkitd", "libvirtd", "virtqemud", "lxd", "incusd", "runc", "crun",
)

# Shell patterns: the rootless ones live under each user's runtime directory.
RUNTIME_SOCKETS = (
    "/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock",
    "/run/podman/podman.sock", "/run/crio/crio.sock", "/run/docker/containerd/containerd.sock",
    "/run/dockershim.sock", "/run/user/*/docker.sock", "/run/user/*/podman/podman.sock",
)

# The inode numbers the kernel gives its initial namespaces (include/linux/proc_ns.h);
# the network and mount ones are fixed only on recent kernels, so they are not here.
INITIAL_NAMESPACE_INODES = {
    "ipc": 0xEFFFFFFF, "uts": 0xEFFFFFFE, "user": 0xEFFFFFFD, "pid": 0xEFFFFFFC,
    "cgroup": 0xEFFFFFFB, "time": 0xEFFFFFFA,
}

# cgroup v1 reports "no memory limit" as the largest page-aligned counter value.
UNLIMITED_MEMORY_V1 = 2 ** 62
