"""cgroup v2 device programs run here, on programs recorded from the lab VM's kernel (runc's,
read back with BPF_OBJ_GET_INFO_BY_FD): the default, `a *:* rwm`, `b 254:* rwm`."""

import base64
import struct
from pathlib import Path

import pytest

from isoverify.collect import facts
from isoverify.collect.targets import ContainerTarget, HostTarget
from isoverify.judge.checks.base import Unobservable
from isoverify.judge.checks.filesystem import DeviceCgroup, device_cgroup
from isoverify.kernel import devcgroup
from isoverify.kernel.devcgroup import MKNOD, READ, WRITE
from isoverify.model import ContainerFacts, Reading

DATA = Path(__file__).resolve().parents[2] / "data"  # outputs recorded on real hosts

DEFAULT, EVERY, DISK = (base64.b64decode((DATA / f"devprog.runc-{name}.b64").read_text())
                        for name in ("default", "all", "disk"))
VM_DEVICES = frozenset({("b", 254, 0), ("b", 7, 0), ("c", 1, 1), ("c", 1, 3), ("c", 10, 229), ("c", 5, 0)})


@pytest.mark.parametrize("program, question, allowed", [
    (DEFAULT, ("c", 1, 3, READ | WRITE), True),  # /dev/null
    (DEFAULT, ("c", 136, 4, WRITE), True),  # a pseudo-terminal
    (DEFAULT, ("b", 254, 0, MKNOD), True),  # any node may be made...
    (DEFAULT, ("b", 254, 0, READ), False),  # ...but not opened
    (DEFAULT, ("c", 1, 1, READ), False),  # /dev/mem
    (DEFAULT, ("c", 10, 229, WRITE), False),  # /dev/fuse
    (EVERY, ("b", 254, 0, READ | WRITE), True),
    (EVERY, ("c", 4094, 1048574, READ), True),
    (DISK, ("b", 254, 0, WRITE), True),
    (DISK, ("b", 7, 0, READ), False),
    (DISK, ("c", 1, 1, READ), False),
])
def test_recorded_programs_answer_as_the_kernel_did(program, question, allowed):
    assert devcgroup.evaluate(program, *question) is allowed


def test_every_program_in_effect_must_allow():
    assert devcgroup.allows([EVERY], "b", 254, 0, READ)
    assert not devcgroup.allows([EVERY, DEFAULT], "b", 254, 0, READ)
    assert devcgroup.allows([], "b", 254, 0, READ)  # none attached: the kernel refuses nothing


def insn(code, dst=0, src=0, offset=0, imm=0) -> bytes:
    return struct.pack("<BBhi", code, dst | src << 4, offset, imm)


@pytest.mark.parametrize("program", [
    insn(0x85, imm=1) + insn(0x95),  # a helper call
    insn(0xB7, imm=1) + insn(0x63, dst=10, src=0, offset=-4) + insn(0x95),  # a store to the stack
    insn(0x61, dst=2, src=1, offset=12) + insn(0x95),  # a load past the context
    insn(0xB7, imm=2) + insn(0x95),  # an answer other than 0 or 1
    insn(0x05, offset=-1),  # a loop without end
    insn(0xB7, imm=1),  # no exit
    insn(0xB7, imm=1) * (devcgroup.MAX_INSNS + 1) + insn(0x95),
    b"",
])
def test_what_it_cannot_run_is_unknown_never_an_answer(program):
    with pytest.raises(devcgroup.Unknown):
        devcgroup.evaluate(program, "c", 1, 3, READ)


@pytest.mark.parametrize("programs, beyond, every", [
    ((DEFAULT,), [], False),
    ((EVERY,), ["b *:*", "c *:*"], True),
    ((DISK,), ["b 254:0"], False),
    ((), ["b *:*", "c *:*"], True),  # cgroup v2 with no program attached
])
def test_the_device_cgroup_names_what_it_lets_open_beyond_the_default(programs, beyond, every):
    cgroup = DeviceCgroup(None, programs)
    assert cgroup.beyond_default(VM_DEVICES) == beyond
    assert cgroup.every_device() is every


def test_the_programs_handed_over_are_read_in_the_order_in_effect():
    """kernel_view.py hands over each program in effect, by its ID, then the IDs in effect."""
    encoded = (DATA / "devprog.runc-default.b64").read_text().strip()
    read = facts.DevicePrograms().read
    assert read(f"program 15 {encoded}\nin-effect 15\n", 0).value == [DEFAULT]
    assert read(f"program 15 {encoded}\nprogram 16 {encoded}\nin-effect 16,15\n", 0).value == [DEFAULT, DEFAULT]
    assert read("in-effect none\n", 0).value == []
    absent = read("absent\n", 0)
    assert absent.value is None and absent.output == "no cgroup v2 hierarchy on the host"
    assert read("bpf command 16: Operation not permitted", 1).value is None
    assert read(f"program 15 {encoded}\nin-effect 15,99\n", 0).value is None  # a program never handed over
    assert read("program 15 not-base64!\nin-effect 15\n", 0).value is None


def recorded(cgroups: str, programs: Reading) -> ContainerFacts:
    target = ContainerTarget(HostTarget("local://"), "docker", "recorded", "docker://recorded")
    return ContainerFacts(target, {"cgroups": facts.Cgroups().read(cgroups, 0), "device_programs": programs}, None, "")


def test_unreadable_programs_are_an_error_unless_v1_rules_bound_them():
    """A program only refuses more: beside v1 rules, the rules are the most it may open."""
    unreadable = Reading("programs", "unreadable: Operation not permitted", 1, None)
    hybrid = device_cgroup(recorded((DATA / "cgroups.v1.txt").read_text(), unreadable))
    assert hybrid.rules and not hybrid.opens("b", 254, 0)
    with pytest.raises(Unobservable):
        device_cgroup(recorded((DATA / "cgroups.v2.txt").read_text(), unreadable))
    unknown = Reading("programs", "a program", 0, [insn(0x85) + insn(0x95)])
    with pytest.raises(Unobservable):
        device_cgroup(recorded((DATA / "cgroups.v2.txt").read_text(), unknown))
