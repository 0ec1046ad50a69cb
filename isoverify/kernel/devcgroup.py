"""What a cgroup v2 device program lets through: the kernel's own programs, run here.

On cgroup v2 the device rules are no file but eBPF programs of type
BPF_PROG_TYPE_CGROUP_DEVICE attached to a cgroup (and its parents); the kernel runs
every one in effect on each open or mknod of a device node and refuses unless all
return 1. shell/kernel_view.py asks the kernel for them (BPF_PROG_QUERY with
BPF_F_QUERY_EFFECTIVE, then their translated instructions); this module runs them on
one question — a device's type and numbers, and an access — over the only input such
a program has, `struct bpf_cgroup_dev_ctx` {access_type = type | access << 16, major,
minor}. What runtimes and systemd generate is a small subset: loads from that
context, 32- and 64-bit arithmetic, jumps, exit. Anything else is Unknown, never an
answer.
"""

import struct
from collections.abc import Sequence

BLOCK, CHAR = 1, 2  # BPF_DEVCG_DEV_*
MKNOD, READ, WRITE = 1, 2, 4  # BPF_DEVCG_ACC_*
KINDS = {"b": BLOCK, "c": CHAR}
MAX_PROGRAMS = 64  # effective programs of one cgroup; more is not what any runtime attaches
MAX_INSNS = 4096  # instructions of one program (runc's default: about a hundred)
MAX_STEPS = 100_000  # a bounded loop runs at most this long here
MASK64, MASK32 = (1 << 64) - 1, (1 << 32) - 1
CONTEXT = "context"  # what R1 holds at entry: a pointer to the device context


class Unknown(ValueError):
    """A program this module cannot run to its end: its answer is not known."""


def _signed(number: int, bits: int) -> int:
    return number - (1 << bits) if number >> (bits - 1) else number


def _alu(op: int, dst: int, src: int, bits: int) -> int:
    mask = MASK64 if bits == 64 else MASK32
    dst, src = dst & mask, src & mask
    shift = src & (bits - 1)
    results = {
        0x00: lambda: dst + src, 0x10: lambda: dst - src, 0x20: lambda: dst * src,
        0x30: lambda: dst // src if src else 0, 0x40: lambda: dst | src, 0x50: lambda: dst & src,
        0x60: lambda: dst << shift, 0x70: lambda: dst >> shift, 0x80: lambda: -dst,
        0x90: lambda: dst % src if src else dst, 0xA0: lambda: dst ^ src, 0xB0: lambda: src,
        0xC0: lambda: _signed(dst, bits) >> shift,
    }
    if op not in results:
        raise Unknown(f"ALU operation {op:#x}")
    return results[op]() & mask


def _jumps(op: int, dst: int, src: int, bits: int) -> bool:
    mask = MASK64 if bits == 64 else MASK32
    dst, src = dst & mask, src & mask
    sdst, ssrc = _signed(dst, bits), _signed(src, bits)
    tests = {
        0x10: dst == src, 0x20: dst > src, 0x30: dst >= src, 0x40: bool(dst & src), 0x50: dst != src,
        0x60: sdst > ssrc, 0x70: sdst >= ssrc, 0xA0: dst < src, 0xB0: dst <= src, 0xC0: sdst < ssrc,
        0xD0: sdst <= ssrc,
    }
    if op not in tests:
        raise Unknown(f"jump operation {op:#x}")
    return tests[op]


def _scalar(value) -> int:
    if not isinstance(value, int):
        raise Unknown("arithmetic on a pointer or an unset register")
    return value


def evaluate(program: bytes, kind: str, major: int, minor: int, access: int) -> bool:
    """Whether `program` lets a process make `access` (MKNOD, READ, WRITE, or'ed) to the
    device `kind` ("b" or "c") major:minor."""
    if len(program) % 8 or not 0 < len(program) // 8 <= MAX_INSNS:
        raise Unknown(f"a program of {len(program)} bytes")
    context = struct.pack("<III", KINDS[kind] | access << 16, major, minor)
    insns = [struct.unpack_from("<BBhi", program, at) for at in range(0, len(program), 8)]
    regs: list = [None] * 11
    regs[1] = CONTEXT
    pc = 0
    for _ in range(MAX_STEPS):
        if not 0 <= pc < len(insns):
            raise Unknown(f"a jump out of the program, to {pc}")
        code, registers, offset, imm = insns[pc]
        dst, src = registers & 0x0F, registers >> 4
        cls, op = code & 0x07, code & 0xF0
        if dst > 10 or src > 10:
            raise Unknown(f"register {max(dst, src)}")
        if cls in (0x04, 0x07):  # ALU, ALU64
            bits = 64 if cls == 0x07 else 32
            operand = _scalar(regs[src]) if code & 0x08 else imm & MASK64
            if op == 0xB0:  # MOV: the destination need not be set
                regs[dst] = operand & (MASK64 if bits == 64 else MASK32)
            elif op == 0xD0:
                raise Unknown("byte swaps")
            else:
                regs[dst] = _alu(op, _scalar(regs[dst]), operand, bits)
            pc += 1
        elif cls == 0x01:  # LDX: only from the device context
            size = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}[code & 0x18]
            if code & 0xE0 != 0x60 or regs[src] != CONTEXT or offset < 0 or offset + size > len(context):
                raise Unknown(f"a load {code:#x} from register {src} at offset {offset}")
            regs[dst] = int.from_bytes(context[offset:offset + size], "little")
            pc += 1
        elif cls == 0x00 and code == 0x18 and src == 0 and pc + 1 < len(insns):  # a 64-bit constant
            regs[dst] = (imm & MASK32) | (insns[pc + 1][3] & MASK32) << 32
            pc += 2
        elif cls in (0x05, 0x06):  # JMP, JMP32
            bits = 64 if cls == 0x05 else 32
            if code == 0x95:  # EXIT
                answer = _scalar(regs[0]) & MASK32
                if answer not in (0, 1):
                    raise Unknown(f"an exit with {answer}")
                return answer == 1
            if code == 0x05:  # JA
                pc += 1 + offset
                continue
            operand = _scalar(regs[src]) if code & 0x08 else imm & MASK64
            pc += 1 + (offset if _jumps(op, _scalar(regs[dst]), operand, bits) else 0)
        else:
            raise Unknown(f"instruction {code:#04x}")
    raise Unknown(f"no exit after {MAX_STEPS} steps")


def allows(programs: Sequence[bytes], kind: str, major: int, minor: int, access: int) -> bool:
    """Every program in effect must let it through; with none attached, the kernel lets all."""
    if len(programs) > MAX_PROGRAMS:
        raise Unknown(f"{len(programs)} programs")
    return all(evaluate(program, kind, major, minor, access) for program in programs)
