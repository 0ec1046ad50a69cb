"""An anchor at the root of a process's mount namespace: `python3 -c ANCHOR PID`.

A container's main process may chroot away from its namespace's root, and then its own
/proc/PID/mountinfo and /proc/PID/root hide every mount outside its new root, which
it can still reach. The anchor is a child of the host's python3 that joins that mount
namespace (and first its user namespace, for an unprivileged prober) and does nothing
else: it runs, loads and opens nothing of the container's. The host reads the whole
namespace through /proc/ANCHOR. Prints the anchor's PID; the anchor waits to be killed.
"""
import ctypes
import os
import signal
import sys

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000

libc = ctypes.CDLL(None, use_errno=True)
target = sys.argv[1]
mount_ns = os.open(f"/proc/{target}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
user_ns = os.open(f"/proc/{target}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
other_user_ns = os.fstat(user_ns).st_ino != os.stat("/proc/self/ns/user").st_ino
quiet = os.open("/dev/null", os.O_RDWR)  # the host's, opened before joining anything
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
os.close(ready_write)
if os.read(ready_read, 1) != b"1":
    sys.exit(f"cannot join the mount namespace of process {target}")
print(anchor)
