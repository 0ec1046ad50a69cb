"""The canary matrix, one definition for every host it runs on (this machine, the lab VM).

Each canary is one real container weakening (or hardening) one thing, as `docker run`
arguments: started by the CLI here, through one ssh command in the VM. What differs
by host is only what the host has (its hostname, a device node, where the repo's files
are); the properties each canary breaks are the same on both, and those the kernel
judges differently by host (cgroup v1 or v2, an LSM or none) are said in the README.
"""

import os
import shlex
import socket
from dataclasses import dataclass
from pathlib import Path

from isoverify.collect.targets import LABEL

IMAGE = "busybox:latest"
ALL_CAPS = ("--cap-add=ALL", "--cap-drop=SYS_RESOURCE")  # see PRIVILEGED_REFUSED
# On some machines runc cannot grant every capability (the host's own bounding set
# lacks one, e.g. CAP_SYS_RESOURCE in some VMs): --privileged and --cap-add=ALL fail.
PRIVILEGED_REFUSED = "unable to apply caps"


@dataclass(frozen=True)
class Place:
    """What the canaries need of the host they run on."""

    hostname: str
    repo: str  # where the repo's files are there (the allow-all seccomp profile)
    device: str | None  # a device node beyond the default that it has, if any
    disk_major: int  # the major number of the disk holding its /
    shared: str  # a directory the start script makes a shared mount there (propagation)
    cgroup2: bool  # whether it runs cgroup v2 alone (see the README: cgroup v1 and v2)
    cpus: int  # what it has: a limit at or above it limits nothing
    pid_max: int


def this_host(shared: Path) -> Place:
    """This machine, as the canaries see it; `shared` is made a shared mount there."""
    device = next((d for d in ("/dev/fuse", "/dev/kvm", "/dev/net/tun") if Path(d).exists()), None)
    return Place(socket.gethostname(), str(Path(__file__).resolve().parents[2]), device, root_disk_major(),
                 str(shared), Path("/sys/fs/cgroup/cgroup.controllers").exists(), os.cpu_count(),
                 int(Path("/proc/sys/kernel/pid_max").read_text()))


def root_disk_major() -> int:
    """The major of the device the host's / is mounted from (an overlay's st_dev is none)."""
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return int(fields[2].split(":")[0])
    raise AssertionError("no / in the host's mountinfo")


@dataclass(frozen=True)
class Canary:
    args: tuple[str, ...]  # docker run options
    breaks: frozenset[str] = frozenset()
    hardens: frozenset[str] = frozenset()
    command: tuple[str, ...] = ()  # instead of the image's sh
    tty: bool = True
    image: str = IMAGE


def canary(*args: str, breaks=(), hardens=(), command=(), tty=True, image=IMAGE) -> Canary:
    return Canary(tuple(args), frozenset(breaks), frozenset(hardens), tuple(command), tty, image)


def canaries(place: Place) -> dict[str, Canary | None]:
    """name: the canary (None: this host cannot have it)."""
    allow_all = f"--security-opt=seccomp={place.repo}/tests/data/seccomp-allow-all.json"
    hardened = ("--user=1000:1000", "--cap-drop=ALL", "--read-only", "--security-opt=no-new-privileges",
                "--memory=64m", "--pids-limit=64", "--cpus=0.5", "--cgroupns=private")
    return {
        "default": canary(),
        "pid=host": canary("--pid=host", breaks={"pid"}),
        # Docker gives a --net=host container the host's hostname, but in a UTS namespace of
        # its own: it cannot rename the host, and `uts` holds. sysfs belongs to a network
        # namespace: its /sys is the host's sysfs itself.
        "net=host": canary("--network=host", breaks={"net", "host-mounts"}),
        "uts=host": canary("--uts=host", breaks={"uts"}),
        "ipc=host": canary("--ipc=host", breaks={"ipc"}),
        # on cgroup v2 the host's cgroup namespace shows its whole cgroup tree at /sys/fs/cgroup
        "cgroupns=host": canary("--cgroupns=host",
                                breaks={"cgroupns"} | ({"host-mounts"} if place.cgroup2 else set())),
        "cgroupns=private": canary("--cgroupns=private", hardens={"cgroupns"}),
        # PID 1 chroots into the host's / (bind-mounted with its submounts): the kernel shows
        # the host's root as its /, and under it the host's /proc, /sys, /dev and runtime socket.
        "chroot into host /": canary("--volume=/:/host", command=("chroot", "/host", "sleep", "infinity"),
                                     tty=False, breaks={"root", "rootfs", "host-mounts", "runtime-socket",
                                                        "masked-paths", "readonly-paths", "devices"}),
        "cap-add SYS_PTRACE": canary("--cap-add=SYS_PTRACE", breaks={"caps"}),
        "all capabilities": canary(*ALL_CAPS, breaks={"caps"}),
        "seccomp=unconfined": canary("--security-opt=seccomp=unconfined", breaks={"seccomp"}),
        "systempaths=unconfined": canary("--security-opt=systempaths=unconfined",
                                         breaks={"masked-paths", "readonly-paths"}),
        "no-new-privileges": canary("--security-opt=no-new-privileges", hardens={"nnp"}),
        "read-only root": canary("--read-only", hardens={"readonly-rootfs"}),
        "limits": canary("--memory=64m", "--pids-limit=64", "--cpus=0.5",
                         hardens={"memory-limit", "pids-limit", "cpu-limit"}),
        # read-only at /host, but not its submounts: the host's /proc shows at /host/proc, its
        # whole /dev (terminals included) at /host/dev
        "host / mounted": canary("--volume=/:/host:ro", breaks={"host-mounts", "runtime-socket", "masked-paths",
                                                                "readonly-paths", "devices"}),
        "docker socket mounted": canary("--volume=/var/run/docker.sock:/var/run/docker.sock",
                                        breaks={"runtime-socket"}),
        "device": canary(f"--device={place.device}", breaks={"devices"}) if place.device else None,
        # the device cgroup alone: every device, or the host's disks, to create and open
        "device rule for every device": canary("--device-cgroup-rule=a *:* rwm", breaks={"devices", "privileged"}),
        "device rule for the host's disk": canary(f"--device-cgroup-rule=b {place.disk_major}:* rwm",
                                                  breaks={"devices", "privileged"}),
        # limits at or above what the host has (Docker refuses more CPUs than there are)
        "limits beyond the host's": canary("--memory=1000g", f"--pids-limit={place.pid_max}", f"--cpus={place.cpus}",
                                           breaks={"memory-limit", "pids-limit", "cpu-limit"}),
        "user 1000": canary("--user=1000:1000", hardens={"nonroot"}),
        # everything hardened at once: no rule of the catalogue over-corrects against it
        "hardened": canary(*hardened, hardens={"nonroot", "readonly-rootfs", "nnp", "memory-limit", "pids-limit",
                                               "cpu-limit", "cgroupns"}),
        "privileged-equivalent": canary(*ALL_CAPS, "--security-opt=seccomp=unconfined",
                                        "--device-cgroup-rule=a *:* rwm", "--volume=/dev:/dev",
                                        breaks={"privileged", "caps", "seccomp", "devices", "host-mounts"}),
        # AppArmor's profile too is gone: `lsm` fails where the kernel runs one (it is
        # "not available", never a pass, where it runs none); its own cgroup is mounted writable
        "--privileged": canary("--privileged", breaks={"privileged", "caps", "seccomp", "devices", "masked-paths",
                                                       "readonly-paths", "lsm", "host-mounts"}),
        "apparmor=unconfined": canary("--security-opt=apparmor=unconfined", breaks={"lsm"}),
        "shared propagation": canary(f"--mount=type=bind,source={place.shared},target=/shared,bind-propagation=shared",
                                     breaks={"propagation"}),
        # Reach, not names: what each mounted host path really is.
        "host /proc/sys mounted": canary("--volume=/proc/sys:/hostsys", breaks={"host-mounts", "readonly-paths"}),
        "host cgroup tree mounted": canary("--volume=/sys/fs/cgroup:/cg", breaks={"host-mounts"}),
        "engine state mounted": canary("--volume=/var/lib/docker/containers:/c", breaks={"host-mounts"}),
        # /lib is a link on the host: the mount is /usr/lib, as the kernel resolved it
        "host /lib mounted": canary("--volume=/lib:/l", breaks={"host-mounts"}),
        "host data mounted": canary("--volume=/srv:/data"),
        # the engine's socket under a name of its own, or the directory holding it
        "engine socket renamed": canary("--volume=/var/run/docker.sock:/tmp/not-docker.sock",
                                        breaks={"runtime-socket"}),
        "host /run mounted": canary("--volume=/run:/r:ro", breaks={"host-mounts", "runtime-socket"}),
        "allow-all seccomp profile": canary(allow_all, breaks={"seccomp"}),
        "privileged without the flag": canary(*ALL_CAPS, allow_all, "--device-cgroup-rule=a *:* rwm",
                                              "--security-opt=systempaths=unconfined",
                                              breaks={"privileged", "caps", "seccomp", "devices", "masked-paths",
                                                      "readonly-paths"}),
        # Built to mislead: a main process that leaves the host's network namespace after
        # forking one that stays (the kernel shows it apart from what was declared); a chroot
        # into a read-only bind of its own /; a host / held after unmounting it; links out of
        # its root (which change nothing). AppArmor's docker-default profile refuses mount and
        # umount even with CAP_SYS_ADMIN: those two run unconfined by it.
        "a process left in the host's network": canary(
            "--network=host", "--cap-add=SYS_ADMIN", tty=False,
            command=("sh", "-c", "sleep infinity & exec unshare -n sleep infinity"),
            breaks={"net", "host-mounts", "caps", "drift"}),
        "chroot into a bind of its own /": canary(
            "--cap-add=SYS_ADMIN", "--security-opt=apparmor=unconfined", "--volume=/:/host:ro", tty=False,
            command=("sh", "-c", "mkdir /x && mount --bind / /x && mount -o remount,ro,bind /x && "
                                 "exec chroot /x sleep infinity"),
            breaks={"caps", "host-mounts", "runtime-socket", "masked-paths", "readonly-paths", "devices", "lsm"}),
        "host / held after unmounting it": canary(
            "--cap-add=SYS_ADMIN", "--security-opt=apparmor=unconfined", "--volume=/:/host:ro", tty=False,
            command=("sh", "-c", "exec 3</host && umount -l /host && exec sleep infinity"),
            breaks={"caps", "host-mounts", "lsm"}),
        "links out of its root": canary(command=(
            "sh", "-c", "ln -s /dev/vda /dev/hostdisk && ln -s / /dev/hostroot && ln -s /proc /dev/proc && "
                        "mkdir /dev/d && ln -s /dev /dev/d/dev && ln -sf /etc/shadow /etc/passwd2 && "
                        "exec sleep infinity")),
        # Docker gives its own UTS namespace: the host's name, but it cannot rename the host
        "host's hostname": canary(f"--hostname={place.hostname}"),
        # The hostname it declares is not the one it runs with: only the kernel shows it.
        "drift": canary("--cap-add=SYS_ADMIN", command=("sh", "-c", "hostname drifted && exec sh"),
                        breaks={"caps", "drift"}),
    }


def docker_run(name: str, item: Canary, labels: tuple[str, ...]) -> list[str]:
    """The `docker run` command line that starts it, detached, with these labels."""
    return ["docker", "run", "-d", *(["-it"] if item.tty else ["-i"]), f"--name={name}",
            f"--label={LABEL}=selftest", *(f"--label={label}" for label in labels), *item.args, item.image,
            *item.command]


def start_all_script(place: Place, names: dict[str, str], items: dict[str, Canary], labels: tuple[str, ...],
                     lanes: int = 1) -> str:
    """One shell script starting every canary: "started NAME" or "refused NAME: WHY" for each,
    so one refused start (e.g. --privileged where runc cannot grant every capability) stops
    no other. `names` maps each canary to its container's name. The starts run in `lanes`
    side by side, each lane one after another: where a start costs seconds of CPU (software
    emulation), a host with two CPUs starts two at a time."""
    shared = shlex.quote(place.shared)
    starts = []
    for canary_name, item in items.items():
        command = shlex.join(docker_run(names[canary_name], item, labels))
        quoted = shlex.quote(canary_name)
        starts.append(f"if why=$({command} 2>&1 >/dev/null); then echo started {quoted}; "
                      f"else docker rm -f {names[canary_name]} >/dev/null 2>&1; "
                      f"echo refused {quoted}: \"$(printf %s \"$why\" | tr '\\n' ' ')\"; fi")
    return "\n".join([f"mkdir -p {shared} && {{ mountpoint -q {shared} || mount --bind {shared} {shared}; }}"
                      f" && mount --make-shared {shared}",
                      *("(\n" + "\n".join(starts[lane::lanes]) + "\n) &" for lane in range(lanes)), "wait"]) + "\n"


def parse_started(output: str, items) -> tuple[set[str], dict[str, str]]:
    """Which canaries started, and why each other was refused."""
    started, refused = set(), {}
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word == "started" and rest in items:
            started.add(rest)
        elif word == "refused":
            name, _, why = rest.partition(": ")
            if name in items:
                refused[name] = why
    return started, refused
