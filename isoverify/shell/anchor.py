"""Anchors at the roots of processes' mount namespaces: `python3 -I -S -c ANCHOR PID...`.

A container's process may chroot away from its namespace's root, and then its own
/proc/PID/mountinfo and /proc/PID/root hide every mount outside its new root, which
it can still reach. An anchor is a child of the host's python3 that joins one mount
namespace (and first its user namespace, for an unprivileged prober) and does nothing
else: it runs, loads and opens nothing of the container's. The host reads the whole
namespace through /proc/ANCHOR. Prints "PID ANCHOR" for each PID given (one anchor per
mount namespace); each anchor waits to be killed.
"""
import ctypes
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
quiet = os.open("/dev/null", os.O_RDWR)  # the host's, opened before joining anything
own_user_ns = os.stat("/proc/self/ns/user").st_ino


def anchor_in(target: str) -> int:
    """An anchor in `target`'s mount namespace, once it has joined it."""
    mount_ns = os.open(f"/proc/{target}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    user_ns = os.open(f"/proc/{target}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    other_user_ns = os.fstat(user_ns).st_ino != own_user_ns
    ready_read, ready_write = os.pipe()
    anchor = os.fork()
    if anchor == 0:
        os.close(ready_read)
        for fd in (0, 1, 2):  # hold no pipe of the caller's open: its reader waits for EOF
            os.dup2(quiet, fd)
        joined = ((os.getuid() == 0 or not other_user_ns or libc.setns(user_ns, CLONE_NEWUSER) == 0)
                  and libc.setns(mount_ns, CLONE_NEWNS) == 0)
        os.write(ready_write, b"1" if joined else b"0")
        os.close(ready_write)
        while joined:
            signal.pause()
        os._exit(1)
    for fd in (ready_write, mount_ns, user_ns):
        os.close(fd)
    joined = os.read(ready_read, 1) == b"1"
    os.close(ready_read)
    if not joined:
        raise OSError(f"cannot join the mount namespace of process {target}")
    return anchor


anchors: dict[int, int] = {}  # mount namespace inode: its anchor
for target in sys.argv[1:]:
    try:
        namespace = os.stat(f"/proc/{target}/ns/mnt").st_ino
        if namespace not in anchors:
            anchors[namespace] = anchor_in(target)
    except OSError as exc:  # gone meanwhile, or not to be joined: said, and the others go on
        print(f"{target} - {exc}")
        continue
    print(f"{target} {anchors[namespace]}")
