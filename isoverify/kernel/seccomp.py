"""What a seccomp filter in force lets through: the kernel's own programs, run here.

The host hands each process's filters over to root (PTRACE_SECCOMP_GET_FILTER, read by
shell/kernel_view.py): classic BPF programs over `struct seccomp_data`. This module runs them for
the system calls a runtime's default profile keeps from a container — namespaces,
mounts, keyrings, BPF, modules, kexec, handles to host files, … — on every ABI a process
of this host can call them through (x86-64, its x32 numbers, and i386's `int 0x80`), and
says which get through. A filter that is on but lets everything through is no filter.
"""

import functools
import struct
from dataclasses import dataclass

# SECCOMP_RET_* (include/uapi/linux/seccomp.h): the action is in the high bits, and when
# several filters run, the one with the lowest value (as a signed number) wins.
ACTION_MASK = 0xFFFF0000
KILL_PROCESS, KILL_THREAD, TRAP, ERRNO = 0x80000000, 0x00000000, 0x00030000, 0x00050000
USER_NOTIF, TRACE, LOG, ALLOW = 0x7FC00000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000
# Actions that let the call reach the kernel: ALLOW and LOG do; USER_NOTIF leaves it to a
# supervisor and TRACE to a tracer, not to the filter.
LETS_THROUGH = frozenset({ALLOW, LOG, USER_NOTIF, TRACE})

AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 = 0xC000003E, 0x40000003
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000

# The calls Docker's and Podman's default profiles refuse to a container, each with the
# capabilities with which those profiles allow it (None: never): (x86-64 number, i386
# number or None). A call a process's capability lets through by design is not counted.
GUARDED = {
    "mount": ("SYS_ADMIN", 165, 21), "umount2": ("SYS_ADMIN", 166, 52), "unshare": ("SYS_ADMIN", 272, 310),
    "setns": ("SYS_ADMIN", 308, 346), "pivot_root": ("SYS_ADMIN", 155, 217),
    "clone(CLONE_NEWUSER)": ("SYS_ADMIN", 56, 120), "fsopen": ("SYS_ADMIN", 430, 430),
    "fsmount": ("SYS_ADMIN", 432, 432), "move_mount": ("SYS_ADMIN", 429, 429), "open_tree": ("SYS_ADMIN", 428, 428),
    "lookup_dcookie": ("SYS_ADMIN", 212, 253), "quotactl": ("SYS_ADMIN", 179, 131),
    "keyctl": (None, 250, 288), "add_key": (None, 248, 286), "request_key": (None, 249, 287),
    "bpf": ("SYS_ADMIN", 321, 357), "perf_event_open": ("SYS_ADMIN", 298, 336), "userfaultfd": (None, 323, 374),
    "init_module": ("SYS_MODULE", 175, 128), "finit_module": ("SYS_MODULE", 313, 350),
    "delete_module": ("SYS_MODULE", 176, 129), "kexec_load": (None, 246, 283), "kexec_file_load": (None, 320, None),
    "open_by_handle_at": ("DAC_READ_SEARCH", 304, 342), "reboot": ("SYS_BOOT", 169, 88),
    "swapon": (None, 167, 87), "swapoff": (None, 168, 115), "acct": ("SYS_PACCT", 163, 51),
    "settimeofday": ("SYS_TIME", 164, 79), "clock_settime": ("SYS_TIME", 227, 264),
    "iopl": ("SYS_RAWIO", 172, 110), "ioperm": ("SYS_RAWIO", 173, 101), "syslog": (("SYSLOG", "SYS_ADMIN"), 103, 103),
}


# What a runtime's own default profile lets through of those (containers/common's, which
# Podman uses, opens namespaces and mounts to nested containers): not held against it.
DEFAULT_LETS_THROUGH = {
    "docker": frozenset(),
    "podman": frozenset({"mount", "umount2", "unshare", "setns", "pivot_root", "clone(CLONE_NEWUSER)", "fsopen",
                         "fsmount", "move_mount", "open_tree", "keyctl", "reboot", "syslog"}),
}


@dataclass(frozen=True)
class Call:
    """One system call as a filter sees it: its number, the ABI's audit arch, its arguments."""

    nr: int
    arch: int
    args: tuple[int, ...] = (0, 0, 0, 0, 0, 0)

    def data(self) -> bytes:
        """`struct seccomp_data`: nr, arch, instruction pointer, six 64-bit arguments."""
        return struct.pack("<iIQ6Q", self.nr, self.arch, 0, *self.args)


def calls(name: str) -> list[Call]:
    """Every way a process of an x86-64 host can make the call `name`."""
    _, native, i386 = GUARDED[name]
    args = (CLONE_NEWUSER, 0, 0, 0, 0, 0) if name.startswith("clone") else (0,) * 6
    found = [Call(native, AUDIT_ARCH_X86_64, args), Call(native | X32_SYSCALL_BIT, AUDIT_ARCH_X86_64, args)]
    if i386 is not None:
        found.append(Call(i386, AUDIT_ARCH_I386, args))
    return found


JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K


class Program:
    """A classic BPF program decoded once, to be run on many calls.

    libseccomp lists a profile's allowed calls as one long run of `JEQ #nr` tests, each
    falling through to the next on a miss: Docker's default is some 900 of them. Such a
    run is kept as a table from each value to the tests that match it, so a call crosses
    it in one lookup instead of one test each; where it lands is the same.
    """

    def __init__(self, program: bytes):
        if not program or len(program) % 8:
            raise ValueError("not a classic BPF program")
        self.steps = list(struct.iter_unpack("<HBBI", program))
        # For each test in a run: the run's table (value -> (test, where it jumps) in order) and its end.
        self.runs: list[tuple[dict[int, list[tuple[int, int]]], int] | None] = [None] * len(self.steps)
        pc = 0
        while pc < len(self.steps):
            end = pc
            while end < len(self.steps) and self.steps[end][0] == JEQ_K and self.steps[end][2] == 0:
                end += 1
            if end - pc > 1:
                table: dict[int, list[tuple[int, int]]] = {}
                for test in range(pc, end):
                    _, jt, _, k = self.steps[test]
                    table.setdefault(k, []).append((test, test + 1 + jt))
                for test in range(pc, end):
                    self.runs[test] = (table, end)
            pc = max(end, pc + 1)


def run(program: Program, call: Call) -> int:
    """The value a classic BPF program returns for `call` (the kernel's checker rejects
    jumps backwards and out of range, so this always ends)."""
    data = call.data()
    words = struct.unpack("<16I", data)  # what an aligned 32-bit load reads, at offset 4 * index
    a = x = 0
    memory = [0] * 16
    pc = 0
    steps, runs = program.steps, program.runs
    while pc < len(steps):
        tests = runs[pc]
        if tests is not None:  # a run of JEQ tests, entered here: the first that matches from here on
            table, end = tests
            pc = next((target for test, target in table.get(a, ()) if test >= pc), end)
            continue
        code, jt, jf, k = steps[pc]
        pc += 1
        kind, size_or_op, source = code & 0x07, code & 0xF0, code & 0x08
        if kind == 0x00:  # LD
            mode = code & 0xE0
            if mode == 0x20:  # ABS, 32-bit words only in seccomp
                a = words[k // 4] if k % 4 == 0 and k < len(data) else _unaligned(data, k)
            elif mode == 0x00:  # IMM
                a = k
            elif mode == 0x60:  # MEM
                a = memory[k % 16]
            elif mode == 0x80:  # LEN
                a = len(data)
        elif kind == 0x01:  # LDX
            x = {0x00: k, 0x60: memory[k % 16], 0x80: len(data)}.get(code & 0xE0, x)
        elif kind == 0x02:  # ST
            memory[k % 16] = a
        elif kind == 0x03:  # STX
            memory[k % 16] = x
        elif kind == 0x04:  # ALU
            operand = x if source else k
            a = _alu(size_or_op, a, operand) & 0xFFFFFFFF
        elif kind == 0x05:  # JMP
            operand = x if source else k
            if size_or_op == 0x00:  # JA
                pc += k
                continue
            if size_or_op == 0x10:  # JEQ, by far the most common: tested first
                taken = a == operand
            elif size_or_op == 0x20:  # JGT
                taken = a > operand
            elif size_or_op == 0x30:  # JGE
                taken = a >= operand
            else:  # JSET, or an operation the checker refuses: not taken
                taken = size_or_op == 0x40 and bool(a & operand)
            pc += jt if taken else jf
        elif kind == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif kind == 0x07:  # MISC: TAX, TXA
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
    return KILL_THREAD  # falling off the end is refused by the kernel's checker


def _unaligned(data: bytes, k: int) -> int:
    return struct.unpack_from("<I", data, k)[0] if k + 4 <= len(data) else 0


def _alu(op: int, a: int, operand: int) -> int:
    if op == 0x80:  # NEG
        return -a
    if op in (0x30, 0x90) and operand == 0:  # division by zero: the program returns 0
        return 0
    return {0x00: a + operand, 0x10: a - operand, 0x20: a * operand, 0x30: a // operand if operand else 0,
            0x40: a | operand, 0x50: a & operand, 0x60: a << (operand & 31), 0x70: a >> (operand & 31),
            0x90: a % operand if operand else 0, 0xA0: a ^ operand}.get(op, a)


def _strictest(results: list[int]) -> int:
    results = [result & ACTION_MASK for result in results]
    return min(results, key=lambda value: struct.unpack("<i", struct.pack("<I", value))[0])


@functools.lru_cache(maxsize=64)
def _reaching(filters: tuple[bytes, ...]) -> frozenset[str]:
    """The guarded calls these filters let through on some ABI: run once per distinct set
    (most containers share their runtime's profile)."""
    programs = [Program(program) for program in filters]  # decoded once, run on every call
    return frozenset(name for name in GUARDED
                     if any(_strictest([run(program, call) for program in programs]) in LETS_THROUGH
                            for call in calls(name)))


def let_through(filters: list[bytes], capabilities: frozenset[str] = frozenset(),
                excused: frozenset[str] = frozenset()) -> list[str]:
    """The guarded calls these filters let through, on any ABI, save those the process's
    `capabilities` are meant to open and those `excused` (its runtime's default lets them)."""
    reaching = _reaching(tuple(filters))
    return [name for name, (opened_by, _, _) in GUARDED.items()
            if name in reaching and name not in excused
            and not set((opened_by,) if isinstance(opened_by, str) else opened_by or ()) & capabilities]
