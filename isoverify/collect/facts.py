"""What a batched probe reads, and the parser of each reading.

A `Fact` is one thing to read: the command that reads it (a line of the host's shell,
or the name of a reading of shell/kernel_view.py, which reads every container's kernel
view in one python3), the label a person would recognise (the lesson's `ps aux`,
`ip link`, …) and a parser. Parsers
take text that may come from an untrusted container: they raise ValueError
on anything they do not understand, and a fact that cannot be parsed is
recorded as unreadable, never guessed.
"""

import base64
import binascii
import copy
import json
import os
import re
from typing import Any

from isoverify.model import (
    CgroupFiles,
    Device,
    DeviceList,
    HostProcess,
    Link,
    Listener,
    Member,
    Mount,
    MountView,
    Process,
    Reading,
    Resolution,
)

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")


SECTION_LIMIT = 16 * 1024 * 1024  # bytes of one host-wide reading that containers can make grow


class Fact:
    """One reading: its shell command (a line, or a function of isoverify/shell/*.sh).

    A fact of the user's own about a container reads it through its processes ($pid,
    $root_pid, $members), or says it reads the host's own view (`reads_host`): its answer
    is then shown as the host's, never as the container's."""

    label = ""
    limit: int | None = None  # bytes beyond which the host cuts the output: unreadable, not half-read
    keeps_state = False  # the command sets shell variables later commands read: never piped
    reads_host = False  # the command reads the host's own files (its /etc, its tools), not the container's

    def __init__(self, command: str, label: str | None = None, *, reads_host: bool | None = None):
        self.command = command
        if label is not None:
            self.label = label
        if reads_host is not None:
            self.reads_host = reads_host

    def shown_as(self, label: str) -> "Fact":
        """The same fact, labelled with how it was read (the host reads a container's
        facts with the functions of isoverify/shell/kernel_view.py, not with `command`)."""
        fact = copy.copy(self)
        fact.label = label
        return fact

    def parse(self, text: str) -> Any:
        return text.strip()

    def read(self, output: str, rc: int) -> Reading:
        if self.limit is not None and len(output) > self.limit:
            return Reading(self.label or self.command, f"(over {self.limit} bytes: cut, not read)", rc, None)
        try:
            value, error = (self.parse(output), "") if rc == 0 else (None, "")
        except Exception as exc:  # any parser, a user's own too, that cannot read it: unreadable, never a crash
            value, error = None, str(exc) if isinstance(exc, ValueError) else ""
        return Reading(self.label or self.command, output, rc, value, error)


class Namespaces(Fact):
    """`/proc/<pid>/ns/*`: the kernel's name (type:[inode]) for each namespace."""

    def __init__(self, proc: str):
        super().__init__(f"ls -l {proc}/ns/")

    def parse(self, text):
        found = {}
        for name, link in re.findall(r"(\w+) -> (\w+:\[\d+\])$", text, re.M):
            if name in NAMESPACES and link.startswith(f"{name}:"):
                found[name] = link
        if not found:
            raise ValueError("no namespace readable")
        return found


class KernelThread(Fact):
    """`/proc/2/stat`: whether PID 2 is kthreadd, the kernel thread that lives in the host's
    initial namespaces. A shell in a PID namespace of its own (with its own /proc) sees a
    process of that namespace there, and no process can make itself a kernel thread."""

    PF_KTHREAD = 0x00200000

    def __init__(self):
        super().__init__("dump /proc/2/stat", "cat /proc/2/stat")

    def parse(self, text):
        name, sep, rest = text.strip().rpartition(") ")
        fields = rest.split()
        if not sep or len(fields) < 7 or not fields[6].isdigit():
            raise ValueError(text)
        return name.endswith("(kthreadd") and bool(int(fields[6]) & self.PF_KTHREAD)


class SameObject(Fact):
    """Whether the command's two words are equal: two views of one kernel object."""

    def parse(self, text):
        words = text.split()
        if len(words) != 2:
            raise ValueError(text)
        return words[0] == words[1]


class FileIdentity(Fact):
    """`stat -L`: which file a path really is, as device:inode."""

    def __init__(self, path: str):
        super().__init__(f"stat -L -c '%d:%i' {path}")

    def parse(self, text):
        text = text.strip()
        if not re.fullmatch(r"\d+:\d+", text):
            raise ValueError(text)
        return text


class ProcessId(Fact):
    """A process ID, the first word the command prints."""

    def parse(self, text):
        pid = (text.split() or [""])[0]
        if not pid.isdigit() or pid == "0":
            raise ValueError(text)
        return int(pid)


class Listing(Fact):
    """`ls /`: the names at the top of a root directory."""

    def __init__(self, command: str = "ls /", label: str | None = None):
        super().__init__(command, label)

    def parse(self, text):
        return text.split()


def _unescape_octal(field: str) -> str:
    if "\\" not in field:  # most fields: nothing escaped
        return field
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


class Mounts(Fact):
    """`/proc/<pid>/mountinfo`: every mount the process sees, as the kernel keeps it."""

    limit = SECTION_LIMIT  # the host's grows with every volume a container has

    def __init__(self, proc: str):
        super().__init__(f"cat {proc}/mountinfo")  # a shell's read takes a byte at a time: too slow here

    def parse(self, text):
        mounts = []
        for line in text.splitlines():
            fields = line.split()
            if "-" not in fields[6:]:
                raise ValueError(line)
            dash = fields.index("-", 6)
            if len(fields) < dash + 3:
                raise ValueError(line)
            mounts.append(Mount(
                mount_id=fields[0], major_minor=fields[2], root=_unescape_octal(fields[3]),
                mount_point=_unescape_octal(fields[4]), options=fields[5],
                propagation=" ".join(fields[6:dash]), fstype=fields[dash + 1],
                source=_unescape_octal(fields[dash + 2]),
            ))
        if not mounts:
            raise ValueError("no mounts")
        return mounts


class MountViews(Fact):
    """Every view of a container's mounts (`mounts` in kernel_view.py): blocks of
    /proc/PID/mountinfo, each after a "view KIND PID" line."""

    def __init__(self):
        super().__init__("mounts", "cat /proc/ANCHOR/mountinfo, at the root of each of its mount namespaces")

    def parse(self, text):
        _refuse_unread(text)
        views, lines, head = [], [], None
        for line in text.splitlines() + ["view end -"]:
            found = re.fullmatch(r"view (anchor|process|end) (\d+|-)", line)
            if not found:
                lines.append(line)
                continue
            if head is not None:  # a process chrooted into a plain directory sees no mount at all
                block = "\n".join(lines)
                views.append(MountView(head[1], head[2], tuple(Mounts.parse(self, block)) if block.strip() else ()))
            head, lines = found, []
        if not views:
            raise ValueError("no view of its mounts")
        return views


def _refuse_unread(text: str, what: str = "of its processes beyond the first ones") -> None:
    """A container with more processes (or descriptors) than are examined is not judged on
    those read."""
    if unread := re.search(r"^unread (?:\d+ )?(\d+)\b", text, re.M):
        raise ValueError(f"{unread[1]} {what} were not examined")


class DiskFree(Fact):
    """`df -h`: filesystems with their mount points (GNU and busybox layouts)."""

    def __init__(self, command: str = "df -h", label: str | None = None):
        super().__init__(command, label)

    def parse(self, text):
        lines = text.splitlines()
        if not lines or not lines[0].startswith("Filesystem"):
            raise ValueError("no df header")
        rows, pending = [], ""
        for line in lines[1:]:
            fields = (pending + " " + line).split()
            if len(fields) < 6:  # busybox wraps a long filesystem name
                pending = " ".join(fields)
                continue
            pending = ""
            rows.append({"filesystem": " ".join(fields[:-5]), "size": fields[-5],
                         "used": fields[-4], "mounted_on": fields[-1]})
        return rows


class Processes(Fact):
    """`ps aux`: the processes a PID namespace shows (GNU and busybox layouts)."""

    def __init__(self, command: str = "ps aux", label: str | None = None):
        super().__init__(command, label)

    def parse(self, text):
        lines = text.splitlines()
        header = lines[0].split() if lines else []
        if "PID" not in header or header[-1] not in ("COMMAND", "CMD", "ARGS"):
            raise ValueError("no ps header")
        pid_at = header.index("PID")
        user_at = next((header.index(h) for h in ("USER", "UID") if h in header), None)
        processes = []
        for line in lines[1:]:
            fields = line.split(None, len(header) - 1)
            if len(fields) < len(header) or not fields[pid_at].isdigit():
                continue
            user = fields[user_at] if user_at is not None else ""
            processes.append(Process(int(fields[pid_at]), user, fields[-1]))
        return processes


_IP_LINK = re.compile(
    r"^\d+:\s+(?P<name>[^:@\s]+)(?:@\S+)?:\s+<[^>]*>.*?link/(?P<kind>[\w/]+)(?:\s+(?P<mac>[0-9a-f:]+))?",
    re.S,
)


class Links(Fact):
    """`ip link`: network interfaces by name, type and MAC (`/sys/class/net` without `ip`;
    "link NAME TYPE MAC" lines as `links` in kernel_view.py reads them)."""

    SYSFS = ("for i in /sys/class/net/*; do "
             "printf 'sysfs %s %s\\n' \"${i##*/}\" \"$(cat \"$i/address\" 2>/dev/null)\"; done")

    def __init__(self, command: str = "ip link", label: str = "ip link", sysfs: bool = True):
        # sysfs shows the links of the namespace that mounted it, not the reader's:
        # a fallback only where the command runs inside the container itself.
        super().__init__(f"{command} 2>/dev/null || {self.SYSFS}" if sysfs else command, label)

    def parse(self, text):
        links, records, rest = [], [], []
        for line in text.splitlines():  # as the host's python3 reads them: names escaped
            if line.startswith("more "):
                raise ValueError(f"{line.split()[1]} links: more than are read")
            if line.startswith("link "):
                _, name, kind, *mac = line.split()
                links.append(Link(name, kind, mac[0] if mac else ""))
            else:
                rest.append(line)
        for line in "\n".join(rest).replace("\\", "\n").splitlines():  # `ip -o` ends a record's lines with \
            if line.startswith("sysfs "):
                _, name, *mac = line.split()
                kind = "loopback" if name == "lo" else "ether"
                links.append(Link(name, kind, mac[0] if mac else ""))
            elif line[:1].isspace() and records:
                records[-1] += " " + line.strip()
            elif line.strip():
                records.append(line)
        for record in records:
            found = _IP_LINK.match(record)
            if found:
                links.append(Link(found["name"], found["kind"], found["mac"] or ""))
        if not links:
            raise ValueError("no links")
        return links


class Hostname(Fact):
    """`hostname`: the name of the UTS namespace the command runs in."""

    def __init__(self, enter: str = "", label: str | None = None):
        """`enter` runs each command in another UTS namespace (nsenter … -u)."""
        super().__init__(
            f"{enter}hostname 2>/dev/null || {enter}cat /proc/sys/kernel/hostname",
            label or f"{enter}hostname",
        )

    def parse(self, text):
        name = text.strip()
        if not name or "\n" in name:
            raise ValueError(text)
        return name


class Identity(Fact):
    """`id`: who the command runs as."""

    def __init__(self):
        super().__init__("id")

    def parse(self, text):
        found = re.match(r"uid=(\d+)(?:\(([^)]*)\))?\s+gid=(\d+)", text.strip())
        if not found:
            raise ValueError(text)
        return {"uid": int(found[1]), "user": found[2] or "", "gid": int(found[3])}


class IdMap(Fact):
    """`/proc/<pid>/uid_map` (or gid_map): which host ids the process's user namespace maps to."""

    def __init__(self, proc: str, kind: str = "uid"):
        super().__init__(f"dump {proc}/{kind}_map", f"cat {proc}/{kind}_map")

    def parse(self, text):
        ranges = []
        for line in text.splitlines():
            fields = line.split()
            if len(fields) != 3 or not all(f.isdigit() for f in fields):
                raise ValueError(line)
            ranges.append(tuple(int(f) for f in fields))
        if not ranges:
            raise ValueError("empty uid_map")
        return ranges


class Status(Fact):
    """`/proc/<pid>/status`: the kernel's summary of a process (ids, NSpid, caps, seccomp)."""

    def __init__(self, proc: str):
        super().__init__(f"dump {proc}/status", f"cat {proc}/status")

    def parse(self, text):
        fields = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "Pid" not in fields:
            raise ValueError("no Pid in status")
        return fields


class Cmdline(Fact):
    """`/proc/<pid>/cmdline`: the command line a process was started with."""

    def __init__(self, proc: str):
        super().__init__(f"tr '\\0' ' ' < {proc}/cmdline", f"cat {proc}/cmdline")

    def parse(self, text):
        return text.strip()


class ProcessTable(Fact):
    """Every process on the host: its PID namespace, its PID there, its uid and name.

    Read once per host; each container's processes are those sharing its PID
    namespace — what it can see, counted by the host, so it can hide none. The file
    names go through xargs (a builtin's printf has no argument limit), and grep and
    stat go on past a process that exits meanwhile.
    """

    limit = SECTION_LIMIT  # a container without a pids limit can fork many
    FIELDS = ("Name", "Uid", "NSpid")

    def __init__(self):
        super().__init__(
            "printf '%s\\n' /proc/[0-9]*/ns/pid | xargs stat -L -c '%i %n' 2>/dev/null; echo --; "
            "printf '%s\\n' /proc/[0-9]*/status | xargs grep -H -E '^(Name|Uid|NSpid):' 2>/dev/null; true",
            "stat -L -c '%i %n' /proc/*/ns/pid; grep -E '^(Name|Uid|NSpid):' /proc/*/status",
        )

    def parse(self, text):
        namespaces_part, sep, status_part = text.partition("\n--\n")
        if not sep:
            raise ValueError("no process table")
        described: dict[str, dict[str, str]] = {}
        for line in status_part.splitlines():
            found = re.fullmatch(r"/proc/(\d+)/status:(\w+):\s*(.*)", line)
            if found:
                described.setdefault(found[1], {})[found[2]] = found[3]
        table = []
        for line in namespaces_part.splitlines():
            found = re.fullmatch(r"(\d+) /proc/(\d+)/ns/pid", line)
            fields = described.get(found[2], {}) if found else {}
            if found and all(fields.get(name) for name in self.FIELDS):
                table.append(HostProcess(int(found[2]), int(found[1]), int(fields["NSpid"].split()[-1]),
                                         int(fields["Uid"].split()[0]), fields["Name"]))
        if not table:
            raise ValueError("no processes")
        return table


class Containers(Fact):
    """`<engine> ps -a` and `<engine> inspect`: each reference resolved as the engine
    resolves it (a full ID, an exact name, a unique ID prefix; full IDs that inspect
    shows as themselves need no listing), and the declared configuration and main PID
    of each container found (`containers_of` in host.sh).

    Labels are read apart, each key and value bounded: `Config.Labels` holds them as
    read, a cut one ending in `…[cut: N bytes]` (`cut`), and `Config.LabelsNotRead`
    counts those beyond what is read of one container. `ImageLabels` is added beside
    them: the labels of the image it runs, which its author chose, as `<engine> image
    inspect` gives them; absent where they could not all be read."""

    def __init__(self, cli: str, refs: list[str]):
        names = " ".join(refs)
        super().__init__(f"containers_of {cli} {names}",
                         f"{cli} inspect {names}, and image inspect of their images, "
                         f"resolved by {cli} ps -a unless each is a full ID")

    def read(self, output: str, rc: int) -> Reading:
        # Some containers may be missing: the others are still readable.
        return Reading(self.label, output, rc, self.parse(output))

    def parse(self, text):
        """{"refs": {REF: Resolution}, "details": {ID: (PID, document or None)}}."""
        refs, details, images, labels, owner = {}, {}, {}, {}, None
        for line in text.splitlines():
            fields = line.split(" ", 3)
            if fields[0] == "label":
                if owner is not None:
                    _read_label(line, labels[owner][1])
                continue
            owner = None
            if fields[0] == "ref" and len(fields) >= 3:
                ids = fields[3].split(",") if fields[2] == "ambiguous" and len(fields) == 4 else []
                found = fields[2] if re.fullmatch(r"[0-9a-f]{12,64}", fields[2]) else None
                refs[fields[1]] = Resolution(found, tuple(ids))
            elif len(fields) == 3 and fields[1] == "labels" and fields[2].isdigit():
                owner = ("container", fields[0])
                labels[owner] = (int(fields[2]), {})
            elif len(fields) == 4 and fields[0] == "image" and fields[2] == "labels" and fields[3].isdigit():
                owner = ("image", _image_id(fields[1]))
                labels[owner] = (int(fields[3]), {})
            elif len(fields) == 3 and fields[1] == "image":
                images[fields[0]] = _image_id(fields[2])
            elif len(fields) >= 3 and re.fullmatch(r"[0-9a-f]{64}", fields[0]) and fields[1].isdigit():
                document = None
                try:
                    document = json.loads(line.split(" ", 2)[2])
                except ValueError:
                    pass  # cut at the bound, or not JSON: unreadable for that container alone
                if not (isinstance(document, dict) and isinstance(document.get("State"), dict)
                        and isinstance(document.get("Config"), dict)):
                    document = None
                details[fields[0]] = (int(fields[1]), document)
        for container_id, (_, document) in details.items():
            if document is not None:
                _add_labels(document, labels.get(("container", container_id)),
                            labels.get(("image", images.get(container_id))))
        return {"refs": refs, "details": details}


def _image_id(image: str) -> str:
    """An image ID as docker writes it: podman writes it without `sha256:`."""
    return f"sha256:{image}" if re.fullmatch(r"[0-9a-f]{64}", image) else image


def _read_label(line: str, into: dict[str, str]) -> None:
    """One "label KEYBYTES VALUEBYTES "KEY" "VALUE"" line into `into`, each part that the
    engine's template cut marked so; a line not written so (cut at 64 KiB) adds nothing."""
    found = re.fullmatch(r'label (\d+) (\d+) ("(?:[^"\\]|\\.)*") ("(?:[^"\\]|\\.)*")', line)
    if not found:
        return
    shown = []
    for size, quoted in ((int(found[1]), found[3]), (int(found[2]), found[4])):
        try:
            text = json.loads(quoted)
        except ValueError:
            return
        shown.append(text if len(text.encode()) >= size else f"{text}…[cut: {size} bytes]")
    into[shown[0]] = shown[1]


def _add_labels(document: dict, own, image) -> None:
    """The container's labels as read into its document, and its image's where all were read."""
    count, read = own or (0, {})
    document["Config"]["Labels"] = read
    if len(read) < count:
        document["Config"]["LabelsNotRead"] = count - len(read)
    if image is not None and len(image[1]) == image[0]:
        document["ImageLabels"] = image[1]


class EngineVersion(Fact):
    """`<engine> version`: whether the engine answers, and its version and components (runc…).

    Docker answers with its server's version and components; a local Podman has
    no server, so its own version and `podman info`'s OCI runtime stand in.
    """

    def __init__(self, cli: str, timeout: int):
        command = f"timeout {int(timeout)} {cli} version --format '{{{{json .}}}}'"
        if cli == "podman":
            command += " && podman info --format '{{json .Host.OCIRuntime}}'"
        super().__init__(command, f"{cli} version")

    def parse(self, text):
        lines = text.strip().splitlines()
        data = json.loads(lines[0]) if lines else None
        if not isinstance(data, dict):
            raise ValueError("no version document")
        server = data.get("Server") or (data.get("Client") if len(lines) > 1 else None)
        if not isinstance(server, dict) or not server.get("Version"):
            raise ValueError("the engine did not answer")
        components = {c.get("Name", "?"): c.get("Version", "?") for c in server.get("Components") or []
                      if isinstance(c, dict)}
        if len(lines) > 1:
            runtime = json.loads(lines[1])
            components[runtime.get("name", "runtime")] = str(runtime.get("version", "?")).split("\n")[0].split()[-1]
        return {"version": str(server["Version"]), "components": components}


class Capacity(Fact):
    """What the host has: its memory, online CPUs and highest PID. A limit at or above it
    limits nothing."""

    def __init__(self):
        super().__init__("awk '/^MemTotal:/ { print $2 }' /proc/meminfo; getconf _NPROCESSORS_ONLN; "
                         "cat /proc/sys/kernel/pid_max",
                         "MemTotal in /proc/meminfo; getconf _NPROCESSORS_ONLN; cat /proc/sys/kernel/pid_max")

    def parse(self, text):
        numbers = text.split()
        if len(numbers) != 3 or not all(n.isdigit() for n in numbers):
            raise ValueError(text)
        kibibytes, cpus, pid_max = map(int, numbers)
        return {"memory": kibibytes * 1024, "cpus": cpus, "pid_max": pid_max}


class UnixListeners(Fact):
    """`ss -xlp`: the host's listening unix sockets and the process behind each."""

    limit = SECTION_LIMIT

    def __init__(self):
        super().__init__("ss -xlpn 2>/dev/null", "ss -xlp")

    def parse(self, text):
        found = []
        for line in text.splitlines():
            listener = re.match(r'u_(?:str|seq)\s+LISTEN\s+\d+\s+\d+\s+(\S+)\s+\d+\s.*?users:\(\("([^"]*)"', line)
            if listener:
                found.append(Listener(listener[1], listener[2]))
        if not found and "LISTEN" not in text and "State" not in text:
            raise ValueError("ss printed no socket table")
        return found


class LsmSupport(Fact):
    """Which Linux security modules that confine containers (AppArmor, SELinux) the kernel runs."""

    def __init__(self):
        super().__init__(
            "cat /sys/kernel/security/lsm 2>/dev/null; echo; "
            "echo \"apparmor $(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)\"; "
            "[ -d /sys/fs/selinux ] && echo 'selinux Y'; true",
            "cat /sys/kernel/security/lsm",
        )

    def parse(self, text):
        active = set()
        lines = text.splitlines()
        if lines:
            active.update(name for name in lines[0].split(",") if name in ("apparmor", "selinux"))
        for line in lines[1:]:
            name, _, enabled = line.partition(" ")
            if name in ("apparmor", "selinux") and enabled.strip() == "Y":
                active.add(name)
        return frozenset(active)


class ExistingPaths(Fact):
    """Which of `paths` exist: what the runtime is expected to cover on this kernel."""

    def __init__(self, paths: tuple[str, ...]):
        listed = " ".join(paths)
        super().__init__(f"for p in {listed}; do [ -e \"$p\" ] && echo \"$p\"; done; true",
                         "ls -d " + listed)

    def parse(self, text):
        return frozenset(text.split())


class SecurityLabel(Fact):
    """`/proc/<pid>/attr/current`: the AppArmor profile or SELinux context confining a process."""

    def __init__(self, proc: str):
        super().__init__(f"dump {proc}/attr/apparmor/current 2>/dev/null || dump {proc}/attr/current",
                         f"cat {proc}/attr/current")


class CgroupPaths(Fact):
    """`/proc/<pid>/cgroup`: the process's cgroup in each hierarchy, as the host names it."""

    def __init__(self, proc: str):
        super().__init__(f"dump {proc}/cgroup", f"cat {proc}/cgroup")

    def parse(self, text):
        paths = {}
        for line in text.splitlines():
            number, sep, rest = line.partition(":")
            controllers, sep2, path = rest.partition(":")
            if not (sep and sep2 and number.isdigit() and path.startswith("/")):
                raise ValueError(line)
            paths[controllers] = path
        if not paths:
            raise ValueError("no cgroup")
        return paths


class Members(Fact):
    """A container's other processes and every thread (`members` in kernel_view.py): lines
    of /proc/TID/status, ns/*, root, uid_map and attr/current, each led by its file."""

    def __init__(self):
        super().__init__("members", "its other processes and threads: /proc/PID/task/TID/status, ns, root, "
                                    "uid_map, attr/current")

    def parse(self, text):
        _refuse_unread(text)
        found: dict[str, dict] = {}

        def of(pid: str) -> dict:
            return found.setdefault(pid, {"status": {}, "ns": {}, "root": "", "uid_map": [], "label": ""})

        for line in text.splitlines():
            if status := re.fullmatch(r"/proc/(\d+)/status:(\w+):\s*(.*)", line):
                of(status[1])["status"][status[2]] = status[3]
            elif link := re.fullmatch(r"'?/proc/(\d+)/ns/(\w+)'? -> '?(\w+:\[\d+\])'?", line):
                if link[2] in NAMESPACES and link[3].startswith(f"{link[2]}:"):
                    of(link[1])["ns"][link[2]] = link[3]
            elif root := re.fullmatch(r"root (\d+:\d+) /proc/(\d+)/root/", line):
                of(root[2])["root"] = root[1]
            elif ids := re.fullmatch(r"/proc/(\d+)/uid_map:\s*(\d+)\s+(\d+)\s+(\d+)", line):
                of(ids[1])["uid_map"].append((int(ids[2]), int(ids[3]), int(ids[4])))
            elif label := re.fullmatch(r"/proc/(\d+)/attr/current:(.*)", line):
                of(label[1])["label"] = label[2].strip()
        return [Member(pid, facts["status"], facts["ns"], facts["root"], facts["uid_map"], facts["label"])
                for pid, facts in found.items() if facts["status"].get("Uid") and facts["ns"]]


class HeldOutsideMounts(Fact):
    """What a container's processes hold outside the mounts of their namespace (`held` in
    kernel_view.py): "PID WHAT MAJOR:MINOR" lines, a descriptor, working directory or root
    and the filesystem it is on."""

    def __init__(self):
        super().__init__("held", "directories and files its processes hold outside their mounts (/proc/PID/fdinfo)")

    def parse(self, text):
        _refuse_unread(text, "descriptors of a process beyond those looked at")
        found = [tuple(line.split()) for line in text.splitlines()]
        if any(len(item) != 3 for item in found):
            raise ValueError(text)
        return found


class Filters(Fact):
    """The seccomp filters in force in each of a container's processes, as the kernel hands
    them to root (`filters` in kernel_view.py): {PID: the programs, most recent first, or
    why they could not be read}."""

    def __init__(self):
        super().__init__("filters", "the seccomp filters in force, as the kernel hands them over (ptrace)")

    def parse(self, text):
        shown = dict(line.split(" ", 1) for line in text.splitlines())
        found: dict[str, list[bytes] | str] = {}
        for process, programs in shown.items():
            if programs.startswith("unreadable"):
                found[process] = programs
            elif not programs.startswith("same "):
                try:
                    found[process] = [] if programs == "none" else [base64.b64decode(p, validate=True)
                                                                    for p in programs.split(",")]
                except (binascii.Error, ValueError):
                    found[process] = "unreadable: garbled"
        for process, programs in shown.items():
            if programs.startswith("same "):
                found[process] = found.get(programs.split()[1], "unreadable: no filters to share")
        return found

    def read(self, output: str, rc: int) -> Reading:
        """Shown as how many filters each process has: the programs are read, not printed."""
        reading = super().read(output, rc)
        if not reading.readable:
            return reading
        text = "\n".join(f"process {pid}: " + (shown if isinstance(shown, str) else f"{len(shown)} filter(s)")
                         for pid, shown in reading.value.items())
        return Reading(reading.label, text, rc, reading.value)


class DevicePrograms(Fact):
    """The cgroup v2 device programs in effect in a container's cgroup (`device_programs` in
    kernel_view.py): each program's translated instructions, in effect order; None where
    the host has no cgroup v2 hierarchy."""

    def __init__(self):
        super().__init__("device_programs", "the cgroup v2 device programs in effect in its cgroup, as the kernel "
                                            "hands them over (bpf)")

    def parse(self, text):
        programs: dict[str, bytes] = {}
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "absent":
                return None
            if kind == "program":
                number, _, program = rest.partition(" ")
                programs[number] = base64.b64decode(program, validate=True)
            elif kind == "in-effect":
                return [] if rest == "none" else [programs[number] for number in rest.split(",")]
        raise ValueError("no programs in effect said")

    def read(self, output: str, rc: int) -> Reading:
        """Shown as what is in effect: the instructions are run, not printed."""
        reading = super().read(output, rc)
        if reading.value is None:
            said = "no cgroup v2 hierarchy on the host" if reading.rc == 0 and output.startswith("absent") else output
            return Reading(reading.label, said, reading.rc, None)
        return Reading(reading.label, ", ".join(f"a program of {len(p) // 8} instructions" for p in reading.value)
                       or "none in effect", rc, reading.value)


class KernelDevices(Fact):
    """Every device the host's kernel has registered, by type and numbers (/sys/dev), whether
    or not a node for it exists anywhere: what a device cgroup is asked about."""

    def __init__(self):
        super().__init__("ls -1 /sys/dev/block /sys/dev/char")

    def parse(self, text):
        found, kind = set(), None
        for line in text.splitlines():
            if line in ("/sys/dev/block:", "/sys/dev/char:"):
                kind = line[9]
            elif (numbers := re.fullmatch(r"(\d+):(\d+)", line)) and kind:
                found.add((kind, int(numbers[1]), int(numbers[2])))
        if not found:
            raise ValueError("no device registered")
        return frozenset(found)


class Cgroups(Fact):
    """The limits in a process's cgroups and those above them, read in the host's cgroup
    filesystem: for each controller mounted as cgroup v1, then its cgroup v2 directory, an
    `own DIR` or `parent DIR` line and `FILE VALUE` lines, one per line of each file
    (`cgroups` in kernel_view.py).
    """

    def __init__(self):
        super().__init__("cgroups", "cat /proc/PID/cgroup, then the limits in the host's /sys/fs/cgroup, "
                                         "its cgroup and each above it")

    def parse(self, text):
        own: dict[str, list[str]] = {}
        chain: dict[str, list[tuple[str, str]]] = {}
        where, first = "", set()
        for line in text.splitlines():
            name, _, content = line.partition(" ")
            if name in ("own", "parent"):
                where, first = (name, content), set()
            elif where:
                if where[0] == "own":
                    own.setdefault(name, []).append(content)
                if name not in first:
                    first.add(name)
                    chain.setdefault(name, []).append((where[1], content.strip()))
        return CgroupFiles(own, chain)


class Devices(Fact):
    """The device nodes under a container's /dev, listed from the host through /proc/<pid>/root
    of its namespace's root and its main process (where they differ), without following
    links (`devices` in kernel_view.py): at most 200, names escaped."""

    def __init__(self):
        super().__init__("devices", "find /proc/PID/root/dev -type b -o -type c")

    def parse(self, text):
        devices, more = [], 0
        for line in text.splitlines():
            fields = line.split(" ", 6)
            if fields[0] == "more" and len(fields) == 2 and fields[1].isdigit():
                more = int(fields[1])
                continue
            if fields[0] == "unlisted":
                raise ValueError(f"not listed: {line[9:]}")
            if len(fields) != 7 or not all(f.isdigit() for f in fields[:3]):
                raise ValueError(line)
            filesystem, uid, gid, major, minor, mode, path = fields
            kind = {0o020000: "c", 0o060000: "b"}.get(int(mode, 16) & 0o170000)
            root, inside = (re.match(r"/proc/(\d+)/root(/.*)", path) or re.match(r"()(.*)", path)).groups()
            on = f"{os.major(int(filesystem))}:{os.minor(int(filesystem))}"
            if kind:
                devices.append(Device(kind, int(major, 16), int(minor, 16), inside, on, root,
                                      int(uid), int(gid), int(mode, 16) & 0o777))
        return DeviceList(tuple(devices), more)


