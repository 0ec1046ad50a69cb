"""What a seccomp filter in force lets through: the kernel's own programs, judged over every input they see.

The host hands each process's filters over to root (PTRACE_SECCOMP_GET_FILTER, read by
shell/kernel_view.py): classic BPF programs over `struct seccomp_data`, which they read as
32-bit words — the call's number, its ABI's audit arch, the two halves of the instruction
pointer and of each of six arguments. This module judges them for the system calls a
runtime's default profile keeps from a container — namespaces, mounts, keyrings, BPF,
modules, kexec, handles to host files, … — on every ABI a process of this host can call them
through (x86-64, its x32 numbers, and i386's `int 0x80`).

The number and the ABI are fixed for each call; every other word is the caller's to choose.
So a call is refused only if the filters refuse it whatever the instruction pointer and
whatever the arguments its danger does not depend on (clone is judged with CLONE_NEWUSER
among its flags, its other bits free). Classic BPF jumps only forward: a program is a finite
set of paths, each enumerated here with the conditions it puts on the free words and the
action it ends in. The paths that let a call through (one per filter, the strictest action
of them winning, as in the kernel) are checked for an input that takes them all — by the
bits their conditions fix, then by the Z3 solver over 32-bit vectors — and each input found
is run through the filters to confirm it. What cannot be judged exactly (too many paths, an
instruction seccomp does not accept, an action computed from the input, a question the
solver leaves open) raises Undecided: an error, never a pass. A filter that is on but lets
everything through is no filter.
"""

import functools
import itertools
import math
import struct
from dataclasses import dataclass
from typing import Any

# SECCOMP_RET_* (include/uapi/linux/seccomp.h): the action is in the high bits, and when
# several filters run, the one with the lowest value (as a signed number) wins.
ACTION_MASK = 0xFFFF0000
KILL_PROCESS, KILL_THREAD, TRAP, ERRNO = 0x80000000, 0x00000000, 0x00030000, 0x00050000
USER_NOTIF, TRACE, LOG, ALLOW = 0x7FC00000, 0x7FF00000, 0x7FFC0000, 0x7FFF0000
# Actions that let the call reach the kernel: ALLOW and LOG do; USER_NOTIF leaves it to a
# supervisor and TRACE to a tracer, not to the filter (and the container may hold either).
LETS_THROUGH = frozenset({ALLOW, LOG, USER_NOTIF, TRACE})
ACTION_WORDS = {ALLOW: "allowed", LOG: "allowed and logged (LOG)",
                USER_NOTIF: "left to a supervisor (USER_NOTIF)", TRACE: "left to a tracer (TRACE)"}

AUDIT_ARCH_X86_64, AUDIT_ARCH_I386 = 0xC000003E, 0x40000003
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWUSER = 0x10000000

# The calls Docker's and Podman's default profiles refuse to a container, each with the
# capabilities with which those profiles allow it (None: never): (x86-64 number, i386
# number or None). A call a process's capability lets through by design is not counted.
# clone3 takes its flags in memory, where no filter can read them: Docker answers ENOSYS.
GUARDED = {
    "mount": ("SYS_ADMIN", 165, 21), "umount2": ("SYS_ADMIN", 166, 52), "unshare": ("SYS_ADMIN", 272, 310),
    "setns": ("SYS_ADMIN", 308, 346), "pivot_root": ("SYS_ADMIN", 155, 217),
    "clone(CLONE_NEWUSER)": ("SYS_ADMIN", 56, 120), "clone3": ("SYS_ADMIN", 435, 435),
    "fsopen": ("SYS_ADMIN", 430, 430), "fsmount": ("SYS_ADMIN", 432, 432), "move_mount": ("SYS_ADMIN", 429, 429),
    "open_tree": ("SYS_ADMIN", 428, 428),
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
# x32 has a number of its own where the x86-64 entry takes 64-bit pointers (asm/unistd_x32.h).
X32_NUMBERS = {"kexec_load": 528}

# What a runtime's own default profile lets through of those (containers/common's, which
# Podman uses, opens namespaces and mounts to nested containers): not held against it.
# Keyed as linux.DEFAULT_CAPABILITIES is.
DEFAULT_LETS_THROUGH = {
    "docker": frozenset(),
    "containerd": frozenset(),  # its CRI's RuntimeDefault is Docker's profile
    "podman": frozenset({"mount", "umount2", "unshare", "setns", "pivot_root", "clone(CLONE_NEWUSER)", "clone3",
                         "fsopen", "fsmount", "move_mount", "open_tree", "keyctl", "reboot", "syslog"}),
}

# struct seccomp_data as 32-bit words: the number and arch are fixed per call, the rest free.
WORDS = ("nr", "arch", "ip.low", "ip.high", *(f"arg{i}.{half}" for i in range(6) for half in ("low", "high")))
FREE = range(2, 16)
ARG0_LOW = 4
# The bits of a word each call's danger needs set: clone makes a user namespace only with CLONE_NEWUSER.
DANGER = {"clone(CLONE_NEWUSER)": ((ARG0_LOW, CLONE_NEWUSER),)}

MASK = 0xFFFFFFFF
MAX_PATHS = 4096  # through one filter, for one call
MAX_COMBINATIONS = 4096  # of paths letting one call through, one per filter
MAX_WAYS = 3  # ways through told for each call and ABI
SOLVER_MILLISECONDS = 10_000


class Undecided(ValueError):
    """The filters could not be judged exactly: the verdict is an error, never a pass."""


@dataclass(frozen=True)
class Call:
    """One system call as a filter sees it: its number, its ABI's audit arch, its arguments,
    the instruction pointer it is made from."""

    nr: int
    arch: int
    args: tuple[int, ...] = (0, 0, 0, 0, 0, 0)
    ip: int = 0

    @property
    def abi(self) -> str:
        return "i386" if self.arch == AUDIT_ARCH_I386 else "x32" if self.nr & X32_SYSCALL_BIT else "x86-64"

    @property
    def named(self) -> str:
        return f"call {self.nr:#x} on {self.abi}"

    def data(self) -> bytes:
        """`struct seccomp_data`: nr, arch, instruction pointer, six 64-bit arguments."""
        return struct.pack("<iIQ6Q", self.nr, self.arch, self.ip, *self.args)

    def __str__(self) -> str:
        fields = [f"ip {self.ip:#x}"] if self.ip else []
        fields += [f"arg{index} {value:#x}" for index, value in enumerate(self.args) if value]
        number = f"{self.nr:#x}" if self.nr & X32_SYSCALL_BIT else str(self.nr)
        return ", ".join([f"nr {number} on {self.abi}", *fields, "every other word 0"])


def calls(name: str) -> list[Call]:
    """Every way a process of an x86-64 host can make the call `name`: instruction pointer
    and arguments 0, but for the bits its danger needs."""
    _, native, i386 = GUARDED[name]
    args = [0] * 6
    for word, bits in DANGER.get(name, ()):
        args[(word - ARG0_LOW) // 2] |= bits << 32 * (word % 2)
    found = [Call(native, AUDIT_ARCH_X86_64, tuple(args)),
             Call(X32_NUMBERS.get(name, native) | X32_SYSCALL_BIT, AUDIT_ARCH_X86_64, tuple(args))]
    if i386 is not None:
        found.append(Call(i386, AUDIT_ARCH_I386, tuple(args)))
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

    def landing(self, pc: int, value: int) -> int:
        """Where a run of tests entered at `pc` sends `value`: the first test from there on
        that matches it, or the run's end."""
        table, end = self.runs[pc] or ({}, pc)  # a test outside any run: called only inside one
        return next((target for test, target in table.get(value, ()) if test >= pc), end)


def evaluate(program: Program, call: Call) -> int:
    """The value a classic BPF program returns for `call` (the kernel's checker rejects
    jumps backwards and out of range, so this always ends)."""
    data = call.data()
    words = struct.unpack("<16I", data)  # what an aligned 32-bit load reads, at offset 4 * index
    a = x = 0
    memory = [0] * 16
    pc = 0
    steps, runs = program.steps, program.runs
    while pc < len(steps):
        if runs[pc] is not None:  # a run of JEQ tests, entered here: the first that matches from here on
            pc = program.landing(pc, a)
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
            if size_or_op in (0x30, 0x90) and operand == 0:  # division by zero: the program returns 0
                return KILL_THREAD
            a = _alu(size_or_op, a, operand) & MASK
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
    return {0x00: a + operand, 0x10: a - operand, 0x20: a * operand, 0x30: a // operand if operand else 0,
            0x40: a | operand, 0x50: a & operand, 0x60: a << (operand & 31), 0x70: a >> (operand & 31),
            0x90: a % operand if operand else 0, 0xA0: a ^ operand}.get(op, a)


def _signed(value: int) -> int:
    return value - (1 << 32) if value & 0x80000000 else value


def _strictest(results: list[int]) -> int:
    return min((result & ACTION_MASK for result in results), key=_signed)


# The same programs over free words. A value is a number or an expression: ("word", index),
# ("neg", value) or (operator, value, value). A condition is (test, value, operand, holds):
# test "==", ">", ">=" (unsigned, as BPF compares) or "&" (some bit in common), or "in"
# (one of a set of numbers, the operand), held or not.
OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
              "/": lambda a, b: a // b, "&": lambda a, b: a & b, "|": lambda a, b: a | b, "^": lambda a, b: a ^ b,
              "<<": lambda a, b: a << (b & 31), ">>": lambda a, b: a >> (b & 31)}
# The instructions seccomp accepts (kernel/seccomp.c, seccomp_check_filter), by opcode.
ALU = {0x04: "+", 0x14: "-", 0x24: "*", 0x34: "/", 0x44: "|", 0x54: "&", 0x64: "<<", 0x74: ">>", 0xA4: "^"}
JUMPS = {0x15: "==", 0x25: ">", 0x35: ">=", 0x45: "&"}
X_SOURCE = 0x08  # BPF_X: the operand is X, not the instruction's constant
SECCOMP_DATA_SIZE = 64


def _operate(op: str, a, b):
    """`a op b` over 32 bits: a number if both are, else an expression (identities folded)."""
    if isinstance(a, int) and isinstance(b, int):
        return OPERATIONS[op](a, b) & MASK
    if isinstance(b, int):
        if b & (31 if op in ("<<", ">>") else MASK) == 0 and op in ("+", "-", "|", "^", "<<", ">>"):
            return a
        if (b == 1 and op in ("*", "/")) or (b == MASK and op == "&"):
            return a
        if b == 0 and op in ("*", "&"):
            return 0
        if b == MASK and op == "|":
            return MASK
    return (op, a, b)


def _decided(test: str, a, b) -> bool | None:
    """Whether `a test b` holds, where that does not depend on the free words; else None."""
    if isinstance(a, int) and isinstance(b, int):
        return {"==": a == b, ">": a > b, ">=": a >= b, "&": bool(a & b)}[test]
    if test == "&" and b == 0:
        return False
    if a == b and test != "&":
        return test != ">"
    return None


def paths(program: Program, call: Call) -> list[tuple[tuple, int]]:
    """Every path through `program` for `call`'s number and ABI, the instruction pointer and
    arguments left free: each path's conditions on the free words and the value it returns.
    The paths part the inputs: each input takes exactly one."""
    words = (call.nr & MASK, call.arch, *(("word", index) for index in FREE))
    done: list[tuple[tuple, int]] = []
    pending: list[tuple[int, Any, Any, tuple[Any, ...], tuple[tuple, ...]]] = [(0, 0, 0, (0,) * 16, ())]
    steps = program.steps
    while pending:
        if len(done) + len(pending) > MAX_PATHS:
            raise Undecided(f"more than {MAX_PATHS} paths through one filter for {call.named}")
        pc, a, x, memory, conditions = pending.pop()
        while True:  # one path, leaving the other side of each test on a free value pending
            if pc >= len(steps):
                done.append((conditions, KILL_THREAD))
                break
            run = program.runs[pc]
            if run is not None:
                if isinstance(a, int):
                    pc = program.landing(pc, a)
                    continue
                # a free value entering a run of tests: one path for each value tested from here on, one for none
                table, end = run
                tested = {}
                for value, entries in table.items():
                    target = next((target for test, target in entries if test >= pc), None)
                    if target is not None:
                        tested[value] = target
                pending += [(target, a, x, memory, conditions + (("==", a, value, True),))
                            for value, target in tested.items()]
                pc, conditions = end, conditions + (("in", a, frozenset(tested), False),)
                continue
            code, jt, jf, k = steps[pc]
            pc += 1
            operand = x if code & X_SOURCE else k
            if code == 0x20:  # LD W ABS
                if k % 4 or k >= SECCOMP_DATA_SIZE:
                    raise Undecided(f"a filter loads seccomp_data at offset {k}, which seccomp refuses")
                a = words[k // 4]
            elif code in (0x00, 0x01, 0x80, 0x81):  # LD and LDX of a constant or of the data's length
                value = SECCOMP_DATA_SIZE if code & 0x80 else k
                a, x = (a, value) if code & 0x01 else (value, x)
            elif code in (0x60, 0x61):  # LD, LDX from memory
                value = memory[_slot(k)]
                a, x = (a, value) if code & 0x01 else (value, x)
            elif code in (0x02, 0x03):  # ST, STX
                memory = memory[:_slot(k)] + ((x if code & 0x01 else a),) + memory[_slot(k) + 1:]
            elif code == 0x07:  # TAX
                x = a
            elif code == 0x87:  # TXA
                a = x
            elif code == 0x84:  # NEG
                a = (-a & MASK) if isinstance(a, int) else ("neg", a)
            elif code & ~X_SOURCE in ALU:
                op = ALU[code & ~X_SOURCE]
                if op == "/" and operand == 0:  # the kernel's program returns 0
                    done.append((conditions, KILL_THREAD))
                    break
                if op == "/" and not isinstance(operand, int):
                    done.append((conditions + (("==", operand, 0, True),), KILL_THREAD))
                    conditions += (("==", operand, 0, False),)
                a = _operate(op, a, operand)
            elif code == 0x05:  # JA
                pc += k
            elif code & ~X_SOURCE in JUMPS:
                test = JUMPS[code & ~X_SOURCE]
                holds = _decided(test, a, operand)
                if holds is None:
                    pending.append((pc + jf, a, x, memory, conditions + ((test, a, operand, False),)))
                    conditions += ((test, a, operand, True),)
                pc += jf if holds is False else jt
            elif code == 0x06:  # RET K
                done.append((conditions, k))
                break
            elif code == 0x16 and isinstance(a, int):  # RET A
                done.append((conditions, a))
                break
            elif code == 0x16:
                raise Undecided(f"a filter returns an action computed from the words of {call.named}")
            else:
                raise Undecided(f"a filter has instruction {code:#06x}, which seccomp does not accept")
    return done


def _slot(k: int) -> int:
    if k >= 16:
        raise Undecided(f"a filter uses memory slot {k}; classic BPF has 16")
    return k


def _bits_contradict(conditions) -> bool:
    """Whether some bit of a free word is fixed both ways by conditions that fix bits
    (`w == k`, `w & m == k`, `w & m` none set): a quick proof that no input meets them all."""
    ones: dict[int, int] = {}
    zeros: dict[int, int] = {}
    for test, value, operand, holds in conditions:
        if isinstance(value, tuple) and value[0] == "word":
            word, mask = value[1], MASK
        elif isinstance(value, tuple) and value[0] == "&" and isinstance(value[1], tuple) \
                and value[1][0] == "word" and isinstance(value[2], int):
            word, mask = value[1][1], value[2]
        else:
            continue
        if not isinstance(operand, int):
            continue
        if test == "==" and holds:
            if operand & ~mask:
                return True
            ones[word] = ones.get(word, 0) | operand
            zeros[word] = zeros.get(word, 0) | (mask & ~operand)
        elif test == "&" and not holds:
            zeros[word] = zeros.get(word, 0) | (mask & operand)
    return any(bits & zeros.get(word, 0) for word, bits in ones.items())


def _implied(condition, needs: tuple) -> bool:
    """Whether what the call's danger needs already makes `condition` hold (not worth telling)."""
    test, value, operand, holds = condition
    return bool(needs) and _bits_contradict(needs + ((test, value, operand, not holds),))


def witness(conditions, call: Call) -> Call | None:
    """An input with `call`'s number and ABI that meets every one of `conditions`, or None
    where no input does."""
    words = _solved(tuple(conditions))
    if words is None:
        return None
    args = tuple(words[ARG0_LOW + 2 * i + 1] << 32 | words[ARG0_LOW + 2 * i] for i in range(6))
    return Call(call.nr, call.arch, args, words[3] << 32 | words[2])


@functools.lru_cache(maxsize=4096)
def _solved(conditions: tuple) -> dict[int, int] | None:
    """Values of the free words that meet every one of `conditions`, or None where none do:
    asked once for the conditions many calls share (a filter keyed on one word before it
    looks at the number)."""
    if _bits_contradict(conditions):
        return None
    try:
        import z3  # loaded only when a filter's conditions need the solver
    except ImportError:
        raise Undecided("the Z3 solver, which its conditions need, is not installed: pip install z3-solver") from None
    variables = {index: z3.BitVec(WORDS[index], 32) for index in FREE}
    solver = z3.SolverFor("QF_BV")
    solver.set(timeout=SOLVER_MILLISECONDS)
    solver.add(*(_claim(condition, variables) for condition in conditions))
    answer = solver.check()
    if answer == z3.unsat:
        return None
    if answer != z3.sat:
        raise Undecided(f"the solver could not decide whether an input meets a filter's conditions "
                        f"({solver.reason_unknown()})")
    model = solver.model()
    return {index: model.eval(variable, model_completion=True).as_long() for index, variable in variables.items()}


def _claim(condition, variables):
    """A condition as a Z3 formula over the free words."""
    import z3

    test, value, operand, holds = condition
    left = _formula(value, variables)
    if test == "in":
        claim = z3.Or([left == number for number in sorted(operand)])
    else:
        right = _formula(operand, variables)
        claim = (left == right if test == "==" else z3.UGT(left, right) if test == ">"
                 else z3.UGE(left, right) if test == ">=" else (left & right) != 0)
    return claim if holds else z3.Not(claim)


def _formula(value, variables):
    import z3

    if isinstance(value, int):
        return z3.BitVecVal(value, 32)
    if value[0] == "word":
        return variables[value[1]]
    if value[0] == "neg":
        return -_formula(value[1], variables)
    op, left, right = value[0], _formula(value[1], variables), _formula(value[2], variables)
    if op in ("<<", ">>"):
        right = right & 31
        return left << right if op == "<<" else z3.LShR(left, right)
    return z3.UDiv(left, right) if op == "/" else OPERATIONS[op](left, right)


def _shown(value, nested: bool = False) -> str:
    """A value in plain words: numbers, word names, operators."""
    if isinstance(value, int):
        return str(value) if value < 10 else f"{value:#x}"
    if value[0] == "word":
        return WORDS[value[1]]
    if value[0] == "neg":
        return f"-{_shown(value[1], True)}"
    op, right = value[0], value[2]
    count = op in ("<<", ">>") and isinstance(right, int)  # a shift's count, in decimal
    text = f"{_shown(value[1], True)} {op} {right if count else _shown(right, True)}"
    return f"({text})" if nested else text


def _phrase(condition) -> str:
    test, value, operand, holds = condition
    if test == "in":
        numbers = [_shown(number) for number in sorted(operand)]
        listed = ", ".join(numbers) if len(numbers) <= 4 else f"{len(numbers)} values ({', '.join(numbers[:3])}, …)"
        return f"{_shown(value, True)} is none of {listed}"
    if test == "&":
        return f"{_shown(('&', value, operand), True)} {'!=' if holds else '=='} 0"
    relation = {"==": ("==", "!="), ">": (">", "<="), ">=": (">=", "<")}[test][0 if holds else 1]
    return f"{_shown(value, True)} {relation} {_shown(operand, True)}"


@dataclass(frozen=True)
class Way:
    """A way a guarded call gets through the filters: on which ABI, under which conditions on
    the words they read (none: whatever those are), with which action, and an input that takes it."""

    abi: str
    conditions: tuple[str, ...]
    action: int
    witness: Call

    def when(self, action_too: bool = True) -> str:
        text = f"when {' and '.join(self.conditions)}" if self.conditions else "always"
        return text + (f", {ACTION_WORDS[self.action]}" if action_too or self.action != ALLOW else "")


@dataclass(frozen=True)
class Passage:
    """How one guarded call gets through: its ways (at most MAX_WAYS on each ABI) and
    whether it has more."""

    ways: tuple[Way, ...]
    more: bool

    def grouped(self, action_too: bool) -> dict[tuple[str, ...], list[list[Way]]]:
        """Its ways on each ABI, ABIs it gets through alike together, by how it does."""
        by_abi: dict[str, list[Way]] = {}
        for way in self.ways:
            by_abi.setdefault(way.abi, []).append(way)
        groups: dict[tuple[str, ...], list[list[Way]]] = {}
        for ways in by_abi.values():
            groups.setdefault(tuple(way.when(action_too) for way in ways), []).append(ways)
        return groups

    def condition(self) -> str:
        """Where and when it gets through, in a few words: "on x86-64 when ip.low != 0"."""
        text = "; ".join(f"on {_listed([ways[0].abi for ways in abis])} {', or '.join(whens)}"
                         for whens, abis in self.grouped(action_too=False).items())
        return text + ("; and in other ways" if self.more else "")


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _ways(programs: list[Program], call: Call, needs: tuple) -> tuple[list[Way], bool]:
    """The ways `call` gets through these filters (at most MAX_WAYS), and whether it has more."""
    reaching = []
    for program in programs:
        # paths whose action could be the strictest of one letting the call through
        found = [(conditions, action) for conditions, action in paths(program, call)
                 if _signed(action & ACTION_MASK) >= _signed(USER_NOTIF)]
        if not found:
            return [], False
        reaching.append(found)
    if math.prod(len(found) for found in reaching) > MAX_COMBINATIONS:
        raise Undecided(f"more than {MAX_COMBINATIONS} combinations of paths through the filters for {call.named}")
    ways: list[Way] = []
    for combination in itertools.product(*reaching):
        action = _strictest([action for _, action in combination])
        if action not in LETS_THROUGH:
            continue
        conditions = tuple(dict.fromkeys(condition for conditions, _ in combination for condition in conditions))
        taken = witness(needs + conditions, call) if conditions else call
        if taken is None:
            continue
        if len(ways) == MAX_WAYS:
            return ways, True
        if _strictest([evaluate(program, taken) for program in programs]) != action:
            raise Undecided(f"{taken} does not get through the filters as the paths it takes say")
        told = [condition for condition in conditions if not _implied(condition, needs)]
        ways.append(Way(call.abi, tuple(_phrase(condition) for condition in told), action, taken))
    return ways, False


@functools.lru_cache(maxsize=64)
def _judgement(filters: tuple[bytes, ...]) -> dict[str, Passage] | Undecided:
    """How each guarded call gets through these filters (those refused left out), or why
    they could not be judged: once per distinct set (most containers share their runtime's profile)."""
    programs = [Program(program) for program in filters]  # decoded once, judged on every call
    judged = {}
    try:
        for name in GUARDED:
            needs = tuple(("==", ("&", ("word", word), bits), bits, True) for word, bits in DANGER.get(name, ()))
            found = [_ways(programs, call, needs) for call in calls(name)]
            if any(ways for ways, _ in found):
                judged[name] = Passage(tuple(way for ways, _ in found for way in ways), any(more for _, more in found))
    except Undecided as exc:
        return exc
    return judged


def _judged(filters: list[bytes]) -> dict[str, Passage]:
    judged = _judgement(tuple(filters))
    if isinstance(judged, Undecided):
        raise Undecided(f"its seccomp filters could not be judged exactly: {judged}")
    return judged


def let_through(filters: list[bytes], capabilities: frozenset[str] = frozenset(),
                excused: frozenset[str] = frozenset()) -> list[str]:
    """The guarded calls these filters let through for some input, on any ABI, save those
    the process's `capabilities` are meant to open and those `excused` (its runtime's default
    lets them)."""
    reaching = _judged(filters)
    return [name for name, (opened_by, _, _) in GUARDED.items()
            if name in reaching and name not in excused
            and not set((opened_by,) if isinstance(opened_by, str) else opened_by or ()) & capabilities]


def described(filters: list[bytes], names: list[str]) -> str:
    """These calls and where and when each gets through, in a few words; calls that get
    through alike named together: "mount, umount2 on x86-64 when ip.low != 0"."""
    judged = _judged(filters)
    alike: dict[str, list[str]] = {}
    for name in names:
        alike.setdefault(judged[name].condition(), []).append(name)
    return "; ".join(f"{', '.join(group)} {condition}" for condition, group in alike.items())


def explained(filters: list[bytes], names: list[str]) -> list[str]:
    """For each of these calls, each way it gets through: where, when, with which action,
    and an input that does."""
    judged = _judged(filters)
    lines = []
    for name in names:
        passage = judged[name]
        for whens, abis in passage.grouped(action_too=True).items():
            lines += [f"{name} gets through on {_listed([ways[0].abi for ways in abis])} {when}: e.g. {way.witness}"
                      for when, way in zip(whens, abis[0])]
        if passage.more:
            lines.append(f"{name} gets through in other ways too")
    return lines
