"""Each container's processes, and anchors at the roots of their mount namespaces.

    python3 -I -S -c ANCHORS SECONDS PID:ID...   (ID "-" for a bare process)

A container is all its processes: those in its own cgroup or below it (a cgroup whose
path names its ID: a process leaves it only with write access to the host's cgroup tree),
or, for a bare process with a PID namespace of its own, those in that namespace. Prints
"members PID M..." for each (at most 200).

Any of them may chroot away from its mount namespace's root, and its own
/proc/PID/mountinfo and /proc/PID/root then hide every mount outside its new root,
which it can still reach. An anchor is a child of this host python3 that joins one
mount namespace (and first its user namespace, for an unprivileged prober) and does
nothing else: it runs, loads and opens nothing of the container's. The host reads the
whole namespace through /proc/ANCHOR. Prints "anchor PID PROCESS ANCHOR" for each of a
container's processes; each anchor waits to be killed.

A process can also keep hold of a directory after its mount is gone from its namespace
(an open descriptor, its working directory or root on a mount it unmounted lazily).
Prints "held PID PROCESS WHAT MAJOR:MINOR" for each such descriptor (at most 1024 looked
at per process): the filesystem it is on decides what it exposes.

Last, the seccomp filters in force in each process that has some, as the kernel hands
them to root (PTRACE_SECCOMP_GET_FILTER: the process is seized and stopped for a moment,
then let go): "filters PID PROCESS BASE64,..." (most recent first), "filters PID PROCESS
same OTHER" for a process with the same filters as one before it, or "filters PID
PROCESS unreadable WHY".

On cgroup v2 the device rules are eBPF programs attached to the container's cgroup and
its parents: the kernel hands over those in effect there (BPF_PROG_QUERY, effective),
each by its ID and translated instructions: "devprog ID BASE64" once per program, then
"devices PID ID,..." ("none" when no program is in effect), "devices PID absent" on a host
with no cgroup v2 hierarchy, or "devices PID unreadable WHY". Besides that directory,
only /proc is read here. An anchor the probe never lets go ends
by itself after SECONDS, the longest the probe may take. Written for any python3 a host
may have (3.6 on): no annotations.
"""
import base64
import ctypes
import os
import signal
import stat
import struct
import sys

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_SECCOMP_GET_FILTER = 17, 0x4206, 0x4207, 0x420C
WAIT_ALL = 0x40000000  # __WALL
MEMBERS_SHOWN = 500  # beyond, the rest is counted as unread: its readings are errors, never passes
BPF_PROG_GET_FD_BY_ID, BPF_OBJ_GET_INFO_BY_FD, BPF_PROG_QUERY = 13, 15, 16
BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE, BPF_PROG_TYPE_CGROUP_DEVICE = 6, 1, 15
BPF_SYSCALL = {"x86_64": 321, "aarch64": 280}.get(os.uname().machine)
MAX_PROGRAMS, MAX_INSNS = 64, 4096  # as isoverify/devcgroup.py bounds them

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long
quiet = os.open("/dev/null", os.O_RDWR)  # the host's, opened before joining anything
own_user_ns = os.stat("/proc/self/ns/user").st_ino
processes = [name for name in os.listdir("/proc") if name.isdigit()]


def cgroup_of(pid):
    """Its cgroup in the pids hierarchy (cgroup v1), else in the unified one (v2)."""
    paths = dict(line.split(":", 2)[1:] for line in open(f"/proc/{pid}/cgroup").read().splitlines())
    return ("pids", paths["pids"]) if "pids" in paths else ("", paths.get("", ""))


def namespace(pid, kind):
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def members_of(main, container_id):
    hierarchy, path = cgroup_of(main)
    found = []
    if container_id != "-" and container_id in path:
        for pid in processes:
            try:
                theirs, their_path = cgroup_of(pid)
            except (OSError, ValueError):
                continue  # gone meanwhile
            if theirs == hierarchy and (their_path == path or their_path.startswith(path.rstrip("/") + "/")):
                found.append(pid)
    elif namespace(main, "pid") != namespace("self", "pid"):
        for pid in processes:
            try:
                if namespace(pid, "pid") == namespace(main, "pid"):
                    found.append(pid)
            except OSError:
                continue
    return [pid for pid in found if pid != main]


def anchor_in(target):
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
        signal.alarm(lifetime)
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


def mount_id(fdinfo):
    return next((line.split()[1] for line in open(fdinfo).read().splitlines() if line.startswith("mnt_id:")), "")


def held_outside(pid, mount_ids):
    """What `pid` holds (descriptors, working directory, root) on a mount its namespace no
    longer has, with that filesystem's device."""
    found = []
    for name in ["cwd", "root"] + sorted(os.listdir(f"/proc/{pid}/fd"), key=int)[:1024]:
        link = f"/proc/{pid}/{name}" if name in ("cwd", "root") else f"/proc/{pid}/fd/{name}"
        try:
            if name in ("cwd", "root"):
                opened = os.open(link, os.O_PATH | os.O_CLOEXEC)
                try:
                    mount, device = mount_id(f"/proc/self/fdinfo/{opened}"), os.fstat(opened).st_dev
                finally:
                    os.close(opened)
            else:
                kind = os.stat(link)
                if not (stat.S_ISDIR(kind.st_mode) or stat.S_ISREG(kind.st_mode)):
                    continue  # pipes, sockets, devices: no way into a filesystem
                mount, device = mount_id(f"/proc/{pid}/fdinfo/{name}"), kind.st_dev
        except OSError:
            continue  # closed meanwhile
        if mount and mount not in mount_ids:
            found.append((name if name in ("cwd", "root") else f"fd{name}", f"{os.major(device)}:{os.minor(device)}"))
    return found


def seccomp_filters(pid):
    """The filters in force in `pid`, most recent first (none: seccomp is not in filter mode)."""
    mode = next((line.split()[1] for line in open(f"/proc/{pid}/status") if line.startswith("Seccomp:")), "0")
    if mode != "2":
        return []
    target = int(pid)
    if libc.ptrace(PTRACE_SEIZE, target, None, None) != 0:
        raise OSError(ctypes.get_errno(), f"cannot seize process {pid}")
    try:
        if libc.ptrace(PTRACE_INTERRUPT, target, None, None) != 0:
            raise OSError(ctypes.get_errno(), f"cannot stop process {pid}")
        os.waitpid(target, WAIT_ALL)
        found = []
        while True:
            count = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, target, len(found), None)
            if count <= 0:
                error = ctypes.get_errno()
                if not found:
                    raise OSError(error, "the kernel handed over no filter")
                return found
            program = ctypes.create_string_buffer(count * 8)
            libc.ptrace(PTRACE_SECCOMP_GET_FILTER, target, len(found), program)
            found.append(program.raw)
    finally:
        libc.ptrace(PTRACE_DETACH, target, None, None)


def show_filters(main, processes):
    seen = {}
    for pid in processes:
        try:
            filters = tuple(seccomp_filters(pid))
        except OSError as exc:
            print("filters", main, pid, "unreadable", os.strerror(exc.errno) if exc.errno else exc)
            continue
        if filters in seen:
            print("filters", main, pid, "same", seen[filters])
        else:
            seen[filters] = pid
            print("filters", main, pid, ",".join(base64.b64encode(program).decode() for program in filters) or "none")


def bpf(command, attr):
    done = libc.syscall(ctypes.c_long(BPF_SYSCALL), ctypes.c_long(command), attr, ctypes.c_long(len(attr)))
    if done < 0:
        raise OSError(ctypes.get_errno(), f"bpf command {command}")
    return done


def unified_root():
    """Where the host mounts its cgroup v2 hierarchy (None: it has none)."""
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if fields[fields.index("-") + 1] == "cgroup2":
            return fields[4]
    return None


def program_of(program_id):
    """The translated instructions of one device program, by its ID."""
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<I", attr, 0, program_id)
    fd = bpf(BPF_PROG_GET_FD_BY_ID, attr)
    try:
        info = ctypes.create_string_buffer(40)  # struct bpf_prog_info up to xlated_prog_insns
        attr = ctypes.create_string_buffer(16)
        struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        kind, size = struct.unpack_from("<I", info, 0)[0], struct.unpack_from("<I", info, 20)[0]
        if kind != BPF_PROG_TYPE_CGROUP_DEVICE or not 0 < size <= MAX_INSNS * 8:
            raise OSError(0, f"program {program_id}: type {kind}, {size} bytes of instructions handed over")
        insns = ctypes.create_string_buffer(size)
        info = ctypes.create_string_buffer(40)
        struct.pack_into("<I", info, 20, size)
        struct.pack_into("<Q", info, 32, ctypes.addressof(insns))
        struct.pack_into("<IIQ", attr, 0, fd, len(info), ctypes.addressof(info))
        bpf(BPF_OBJ_GET_INFO_BY_FD, attr)
        return insns.raw
    finally:
        os.close(fd)


def device_programs(main, root):
    """The IDs of the device programs in effect in `main`'s cgroup v2 directory."""
    path = next(line[3:] for line in open(f"/proc/{main}/cgroup").read().splitlines() if line.startswith("0::"))
    directory = os.open(root + path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        ids = (ctypes.c_uint32 * (MAX_PROGRAMS + 1))()
        attr = ctypes.create_string_buffer(40)
        struct.pack_into("<IIII", attr, 0, directory, BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE, 0)
        struct.pack_into("<QI", attr, 16, ctypes.addressof(ids), len(ids))
        bpf(BPF_PROG_QUERY, attr)
        count = struct.unpack_from("<I", attr, 24)[0]
    finally:
        os.close(directory)
    if count > MAX_PROGRAMS:
        raise OSError(0, f"{count} device programs in effect")
    return list(ids[:count])


def show_devices(main, root, shown):
    if root is None:
        print("devices", main, "absent")
        return
    try:
        if BPF_SYSCALL is None:
            raise OSError(0, f"no bpf system call known for {os.uname().machine}")
        ids = device_programs(main, root)
        for program_id in ids:
            if program_id not in shown:
                print("devprog", program_id, base64.b64encode(program_of(program_id)).decode())
                shown.add(program_id)
    except StopIteration:
        print("devices", main, "unreadable", "no cgroup v2 path")
        return
    except OSError as exc:
        print("devices", main, "unreadable", exc.strerror + (f": {os.strerror(exc.errno)}" if exc.errno else ""))
        return
    print("devices", main, ",".join(map(str, ids)) or "none")


lifetime = int(sys.argv[1])
unified, programs_shown = unified_root(), set()
for container in sys.argv[2:]:
    main, _, container_id = container.partition(":")
    try:
        members = members_of(main, container_id)
    except (OSError, ValueError) as exc:  # gone meanwhile: its readings say so
        print(f"failed {main} {exc}")
        continue
    if len(members) > MEMBERS_SHOWN:
        print("unread", main, len(members) - MEMBERS_SHOWN)
        members = members[:MEMBERS_SHOWN]
    print("members", main, *members)
    anchors = {}  # mount namespace: its anchor, for this container alone
    for pid in [main, *members]:
        try:
            mounts = namespace(pid, "mnt")
            if mounts not in anchors:
                anchors[mounts] = anchor_in(pid)
        except OSError:
            continue  # gone meanwhile, or not to be joined: it has no anchor, and says so
        print("anchor", main, pid, anchors[mounts])
        try:
            namespace_mounts = {line.split()[0] for line in open(f"/proc/{anchors[mounts]}/mountinfo")}
            for what, device in held_outside(pid, namespace_mounts):
                print("held", main, pid, what, device)
        except OSError:
            continue
    show_filters(main, [main, *members])
    show_devices(main, unified, programs_shown)
sys.stdout.flush()
