"""The adversaries, one definition for every host they run on (this machine, the lab VM):
containers built to mislead the verifier, as `docker run` arguments like the canary
matrix's, and what must be seen of each.

The matrix holds the adversaries whose whole set of broken properties is known (a process
left in the host's network, a chroot into a bind of its own /, a host / held after
unmounting it, links out of its root); these are judged by what their records say
instead: a flooded reading is an error of its own, a hang is cut, a crowd hides nothing,
and a trap — every binary a script that records who runs it and tries to escape — runs
nothing of the verifier's and nothing with more than its container has.
"""

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from matrix import Canary, canary

TRAP_IMAGE = "isoverify-selftest-trap:latest"
TRAP_CMD = 'CMD ["/bin/busybox", "sleep", "infinity"]'
# What the containers run to start (a hand-made one: umount, rmdir, sleep) is left untrapped,
# so that every record is the verifier's doing.
UNTRAPPED = {"busybox", "sleep", "umount", "rmdir"}
# More processes than the probe examines (500): the rest are never judged by the first.
CROWD = 520


def settled(script: str, *args: str) -> Canary:
    """A container running `script`, then touching /ready and sleeping: judged once ready."""
    return canary(*args, command=("sh", "-c", f"{script} ; touch /ready; exec sleep infinity"), tty=False)


DEEP = "/dev/" + "/".join(["d" * 200] * 12)
# each line of its mountinfo is about 4 kB: 1,000 of them are more than one reading may be
# (2 MiB), and mount in seconds even under software emulation
LONG_PATH = "/m/" + "/".join(["m" * 250] * 15)

ADVERSARIES = {
    # Its chroot hides the host's / and the engine's socket from its own mountinfo.
    "a main process that chroots": canary(
        "--volume=/:/hostroot:ro", "--volume=/var/run/docker.sock:/var/run/docker.sock", tty=False,
        command=("sh", "-c", "mkdir -p /jail/bin && cp /bin/busybox /jail/bin/ && "
                             "exec chroot /jail /bin/busybox sleep infinity")),
    # the matrix's "host / held after unmounting it" holds a descriptor; this its working
    # directory. AppArmor's docker-default profile refuses umount even with CAP_SYS_ADMIN.
    "a host / held as its working directory": canary(
        "--cap-add=SYS_ADMIN", "--security-opt=apparmor=unconfined", "--volume=/:/host:ro", tty=False,
        command=("sh", "-c", "cd /host && umount -l /host && exec sleep infinity")),
    "device flood": settled(f"mkdir -p {DEEP} && i=0 && while [ $i -lt 3000 ]; do mknod {DEEP}/n$i c 1 3; "
                            "i=$((i+1)); done"),
    "hostile names": settled("mknod \"$(printf '/dev/a\\nb')\" c 1 4 && "
                             "mknod '/dev/<img src=x onerror=alert(1)>' c 1 4"),
    # its own shell hangs: what the engine's exec runs inside it never ends
    "hanging shell": settled("rm /bin/sh && printf '#!/bin/busybox sh\\nexec /bin/busybox sleep 600\\n' > /bin/sh && "
                             "chmod +x /bin/sh"),
    # mount is refused by AppArmor's docker-default profile, whatever the capabilities
    "mount flood": settled(f"mkdir -p {LONG_PATH} && i=0 && while [ $i -lt 1000 ]; do "
                           f"mount -t tmpfs -o size=4k t {LONG_PATH} || break; i=$((i+1)); done",
                           "--cap-add=SYS_ADMIN", "--security-opt=apparmor=unconfined"),
    "a crowd of processes": settled(f"for i in $(seq {CROWD}); do sleep 1d & done"),
    # the engine's exec runs its /bin/sh: as the container is, and as a hardened one is
    "trap": canary(tty=False, image=TRAP_IMAGE),
    "hardened trap": canary("--user=1000:1000", "--cap-drop=ALL", "--security-opt=no-new-privileges", tty=False,
                            image=TRAP_IMAGE),
}
SETTLING = ("device flood", "hostile names", "hanging shell", "mount flood", "a crowd of processes")
UNRULY = ("device flood", "hostile names", "hanging shell", "mount flood")
TRAPS = ("trap", "hardened trap")


def ready_script(names: list[str], seconds: int) -> str:
    """Waits for each named container to touch /ready; "unready NAME" for one that never did."""
    return "".join(f"i=0; until docker exec {name} /bin/busybox test -e /ready; do i=$((i+1)); "
                   f"if [ $i -gt {seconds} ]; then echo unready {name}; break; fi; sleep 1; done\n"
                   for name in names)


def record(run, target: str, prop: str) -> dict:
    return next(r for r in run.results if r["target"] == target and r["property"] == prop)


def container_texts(item: dict) -> str:
    return "\n".join(e["text"] for e in item["evidence"]["container"])


def assert_no_chroot_hides_a_mount(run, target: str) -> None:
    """The host reads its whole mount namespace from the namespace's root, not its chroot."""
    assert {"host-mounts", "runtime-socket"} <= run.failed(target), run.verdicts(target)
    mounts = record(run, target, "host-mounts")
    assert any("at the root of each of its mount namespaces" in e["label"] for e in mounts["evidence"]["container"])


def assert_judged_by_its_least_isolated_process(run, target: str) -> None:
    net = record(run, target, "net")
    assert net["verdict"] == "fail" and "not its main one" in net["summary"], net["summary"]


def assert_a_held_host_directory_is_seen(run, target: str) -> None:
    """No mount of its namespace shows the host's / any more, but it holds it."""
    mounts = record(run, target, "host-mounts")
    assert mounts["verdict"] == "fail" and "outside every mount of its namespace" in mounts["summary"], mounts


def assert_no_link_is_followed(run, linked: str, plain: str) -> None:
    """Links to the host's disk, root and files: listed as links, read through never."""
    assert run.verdicts(linked) == run.verdicts(plain)
    listed = container_texts(record(run, linked, "devices"))
    assert "vda" not in listed and "hostdisk" not in listed


# The properties that read a container's mounts, and nothing else can stand in for them.
MOUNT_READERS = {"rootfs", "privileged", "masked-paths", "readonly-paths", "readonly-rootfs", "host-mounts",
                 "runtime-socket", "propagation", "devices", "drift"}


def assert_no_container_silences_another(run, target: dict[str, str], weakened: str, inside: str) -> None:
    """Beside floods, hostile names and a hang, a container that shares the host's PID
    namespace (`weakened`) still fails, and each unruly one is judged as far as it lets itself."""
    assert run.verdicts(weakened)["pid"] == "fail"
    # nodes its device cgroup lets it create but not open: judged, listed, not held against it
    for name in ("device flood", "hostile names"):
        assert "error" not in run.verdicts(target[name]).values(), (name, run.verdicts(target[name]))
    assert run.verdicts(target["device flood"])["devices"] == "fail"  # thousands: more than are listed
    hostile = record(run, target["hostile names"], "devices")
    assert "/dev/a\\nb" in hostile["summary"] + container_texts(hostile)
    # its mounts are too many to read: what needs them is an error, the rest is judged
    flooded = {r["property"]: r for r in run.results if r["target"] == target["mount flood"]}
    unread = {name for name, r in flooded.items() if r["verdict"] == "error"}
    assert {"host-mounts", "masked-paths", "rootfs"} <= unread <= MOUNT_READERS, unread
    assert all("more than one reading may take" in flooded[name]["summary"] for name in unread)
    assert flooded["caps"]["verdict"] == "fail" and "SYS_ADMIN" in flooded["caps"]["summary"]
    hung = record(run, target["hanging shell"], "pid")
    assert hung["verdict"] == "pass"  # judged from the host's view
    if inside == "exec":
        [missing] = [e["text"] for e in hung["evidence"]["container"] if e["label"] == "(no view)"]
        assert "hung" in missing or "printed nothing" in missing or "timed out" in missing, missing


def assert_a_crowd_is_an_error_never_a_pass(run, target: str) -> None:
    """Past the bound of processes examined, every property that reads them all is an error."""
    verdicts = run.verdicts(target)
    for prop in ("caps", "privileged", "seccomp", "pid", "host-mounts", "devices"):
        assert verdicts[prop] == "error", (prop, verdicts)
    assert "were not examined" in record(run, target, "caps")["summary"]
    mounts = record(run, target, "host-mounts")["summary"]  # said, not the readings dumped
    assert "were not examined" in mounts and "view anchor" not in mounts, mounts


# --- traps --------------------------------------------------------------------

def root_of(mountinfo: str) -> tuple[int, int, str]:
    """A host's root filesystem, from its mountinfo: its device numbers and type."""
    for line in mountinfo.splitlines():
        fields = line.split()
        if fields[4] == "/":
            major, minor = fields[2].split(":")
            return int(major), int(minor), fields[fields.index("-") + 1]
    raise AssertionError("no / in the host's mountinfo")


def build_trap_tree(rootfs: Path, tree: Path, root: tuple[int, int, str], marker: str) -> Path:
    """The busybox image's files with every applet a trap that tries to leave `marker` on
    the disk `root` names, and the escape helper twice: /bin/escape as it is,
    /bin/escape-setuid setuid root."""
    shutil.copytree(rootfs, tree, symlinks=True)
    escape = tree / "bin" / "escape"
    subprocess.run(["gcc", "-static", "-O", "-o", str(escape), str(Path(__file__).with_name("helpers") / "escape.c")],
                   check=True)
    shutil.copy2(escape, tree / "bin" / "escape-setuid")
    (tree / "bin" / "escape-setuid").chmod(0o4755)
    (tree / "trap.log").touch(mode=0o666)  # its non-root users write here too
    (tree / "trap.log").chmod(0o666)
    major, minor, fstype = root
    for applet in (tree / "bin").iterdir():
        if applet.is_symlink() and applet.name not in UNTRAPPED:
            applet.unlink()
            applet.write_text(
                "#!/bin/busybox sh\n"
                f"for helper in escape escape-setuid; do echo \"== $helper {applet.name}\" >>/trap.log\n"
                f"  /bin/$helper {major} {minor} {fstype} {marker} >>/trap.log 2>&1; done\n"
                f"exec /bin/busybox {applet.name} \"$@\"\n")
            applet.chmod(0o755)
    return tree


def tar_of(tree: Path) -> bytes:
    """The tree as an image layer, every file root's (setuid-root helper included)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as archive:
        archive.add(tree, arcname=".",
                    filter=lambda entry: entry.replace(uid=0, gid=0, uname="root", gname="root", deep=False))
    return layer.getvalue()


def records(log: str) -> list[dict[str, str]]:
    """The trap log as one dict per helper run: its kind, the applet, and what it printed."""
    found = []
    for line in log.splitlines():
        if line.startswith("== "):
            _, helper, applet = line.split()
            found.append({"helper": helper, "applet": applet, "cgroup": ""})
        elif line.startswith("escape: ") and found:
            text = line.removeprefix("escape: ")
            key, sep, value = text.partition(":\t")
            if sep and key in ("Uid", "CapEff", "Seccomp", "NoNewPrivs", "Label"):
                found[-1][key] = value.strip()
            else:
                found[-1]["cgroup"] += text + "\n"
        elif line == "escaped" and found:
            found[-1]["escaped"] = "yes"
    return found


def confinement(status: str, cgroup: str, uid_map: str, label: str) -> dict[str, str]:
    """What the kernel says confines a container's main process (its /proc/PID/status,
    cgroup, uid_map and attr/current), as the trap records it."""
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    own = {**{key: fields[key].strip() for key in ("Uid", "CapEff", "CapBnd", "Seccomp", "NoNewPrivs")},
           "cgroup": cgroup, "Label": label.strip()}
    # the trap sees its uids as its user namespace names them: translate the host's
    for inner, outer, count in (map(int, line.split()) for line in uid_map.splitlines()):
        own["Uid"] = "\t".join(str(int(uid) - outer + inner) if outer <= int(uid) < outer + count else uid
                               for uid in own["Uid"].split())
    return own


def assert_confined(url: str, ran: list[dict[str, str]], own: dict[str, str]) -> None:
    """Each trap run had the container's own seccomp mode, no_new_privs, LSM label and
    cgroup; run as it was, its capabilities and uid; through the setuid helper, nothing
    beyond the container's bounding set — and under no_new_privs, nothing at all."""
    same = ("Seccomp", "NoNewPrivs", "Label", "cgroup")
    for ran_once in ran:
        assert {key: ran_once.get(key) for key in same} == {key: own[key] for key in same}, (url, ran_once)
        assert int(ran_once["CapEff"], 16) & ~int(own["CapBnd"], 16) == 0, (url, ran_once)
        if ran_once["helper"] == "escape" or own["NoNewPrivs"] == "1":
            assert ran_once["CapEff"] == own["CapEff"], (url, ran_once)
            assert ran_once["Uid"].split()[1] == own["Uid"].split()[1], (url, ran_once)


def assert_no_trap_ran_with_more(url: str, log: str, own: dict[str, str], through_exec: bool) -> None:
    """No trap escaped; the verifier's own reading ran none; the engine's exec ran them
    (the trap is armed) with no more than the container has."""
    ran = records(log)
    assert not any(r.get("escaped") for r in ran), (url, ran)
    if not through_exec:
        assert ran == [], f"{url}: the verifier ran the container's own binaries: {ran}"
        return
    assert ran, f"{url}: the engine's exec ran nothing of the container's (is the trap armed?)"
    assert_confined(url, ran, own)
