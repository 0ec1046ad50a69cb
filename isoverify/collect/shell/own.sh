# shellcheck shell=sh
# What the shell of the user's own facts has besides common.sh's.

# container_file PID PATH: the regular file at PATH as process PID sees it from its root
# (/proc/PID/root): a container's own file, with its $root_pid or $pid. Its links, device
# nodes and FIFOs are the container's: PATH is opened one directory at a time, never
# through a link; a file that is not a regular one is refused unopened; and once the root
# is open the host's python3 reads as nobody, with no capabilities, so nothing only the
# host's root may read (a file of the host's bound in, the kernel's memory) is read through
# it. At most 1 MiB: more, or anything refused, is an error, never a part.
container_file() {
    python3 -I -S -c '
import errno, os, stat, sys

LIMIT = 1024 * 1024
pid, path = sys.argv[1], sys.argv[2]
names = [name for name in path.split("/") if name not in ("", ".")]
if pid == "-":
    sys.exit("container_file: no process of the host stands at the root of its mount namespace: not read")
if not pid.isdigit() or not path.startswith("/") or not names or ".." in names:
    sys.exit("container_file: give a process ID and an absolute path without .., e.g. /etc/hostname")
try:
    directory = os.open("/proc/%s/root" % pid, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(65534, 65534, 65534)
        os.setresuid(65534, 65534, 65534)
    for depth, name in enumerate(names[:-1], 1):
        try:
            directory = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                sys.exit("container_file: /%s is a link or no directory: not followed" % "/".join(names[:depth]))
            raise
    found = os.open(names[-1], os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    if not stat.S_ISREG(os.fstat(found).st_mode):
        sys.exit("container_file: %s is not a regular file (a link, a directory or a node): not read" % path)
    opened = os.open("/proc/self/fd/%d" % found, os.O_RDONLY | os.O_CLOEXEC)
    data = b""
    while len(data) <= LIMIT:
        chunk = os.read(opened, 65536)
        if not chunk:
            break
        data += chunk
except OSError as exc:
    sys.exit("container_file: %s: %s" % (path, exc.strerror))
if len(data) > LIMIT:
    sys.exit("container_file: %s is larger than %d bytes: not read" % (path, LIMIT))
sys.stdout.buffer.write(data)
' "$1" "$2"
}
