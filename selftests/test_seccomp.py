"""Seccomp filters as the kernel handed them over, run here: recorded from real containers."""

import base64
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA
from isoverify import linux, seccomp


def recorded(name: str) -> list[bytes]:
    return [base64.b64decode(p) for p in (DATA / f"seccomp.docker-{name}.b64").read_text().split(",")]


def program(*instructions: tuple[int, int, int, int]) -> bytes:
    return b"".join(struct.pack("<HBBI", *i) for i in instructions)


RET_ALLOW = (0x06, 0, 0, seccomp.ALLOW)
RET_ERRNO = (0x06, 0, 0, seccomp.ERRNO | 1)


def test_dockers_default_profile_refuses_every_guarded_call():
    assert seccomp.let_through(recorded("default")) == []


def test_a_profile_that_allows_everything_lets_every_guarded_call_through():
    assert seccomp.let_through(recorded("allow")) == list(seccomp.GUARDED)


def test_calls_a_capability_opens_by_design_are_not_counted():
    only_mount = program((0x20, 0, 0, 0), (0x15, 0, 1, 165), RET_ALLOW, RET_ERRNO)  # nr == mount: allow
    assert seccomp.let_through([only_mount]) == ["mount"]
    assert seccomp.let_through([only_mount], frozenset({"SYS_ADMIN"})) == []


def test_a_filter_that_forgets_the_i386_abi_lets_its_calls_through():
    """x86-64 numbers refused, but a call with the i386 arch (int 0x80) is not checked."""
    x86_64_only = program((0x20, 0, 0, 4), (0x15, 1, 0, seccomp.AUDIT_ARCH_X86_64), RET_ALLOW, RET_ERRNO)
    assert set(seccomp.let_through([x86_64_only])) == {name for name, (_, _, i386) in seccomp.GUARDED.items() if i386}


def test_the_most_restrictive_of_stacked_filters_wins():
    assert seccomp.let_through([program(RET_ALLOW), program(RET_ERRNO)]) == []
    assert seccomp.let_through([program(RET_ALLOW), program(RET_ALLOW)]) == list(seccomp.GUARDED)


def test_clone_is_run_with_a_new_user_namespace_asked_for():
    """Docker refuses clone only with namespace flags: its first argument decides."""
    refuses_newuser = program((0x20, 0, 0, 16), (0x45, 1, 0, seccomp.CLONE_NEWUSER), RET_ALLOW, RET_ERRNO)
    assert "clone(CLONE_NEWUSER)" not in seccomp.let_through([refuses_newuser])


@pytest.mark.parametrize("garbage", [b"", b"1234567", b"\x00" * 9])
def test_what_is_not_a_program_is_refused(garbage):
    with pytest.raises(ValueError):
        seccomp.Program(garbage)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=8, max_size=400).filter(lambda b: len(b) % 8 == 0))
def test_any_program_runs_to_an_end(garbage):
    """Jumps go forward only: whatever the bytes, a run ends with some action."""
    for call in seccomp.calls("mount"):
        assert isinstance(seccomp.run(seccomp.Program(garbage), call), int)


def test_a_run_of_tests_entered_in_its_middle_matches_from_there_on():
    """A run of JEQ tests is crossed by table: entered by a jump past its start, and with
    values tested twice, the first test that matches from the entry on decides."""
    tests = seccomp.Program(program(
        (0x20, 0, 0, 0),  # 0: A = nr
        (0x15, 0, 1, 165),  # 1: mount jumps to 2, any other call goes on to 3
        (0x05, 0, 0, 2),  # 2: on to 5, in the middle of the run
        (0x15, 4, 0, 7),  # 3: the run begins: 7 -> allow
        (0x15, 4, 0, 165),  # 4: 165 -> errno (before mount's entry)
        (0x15, 3, 0, 7),  # 5: 7 again -> errno (after 7's first test)
        (0x15, 1, 0, 165),  # 6: 165 -> allow
        (0x06, 0, 0, seccomp.TRAP),  # 7: the run's end
        RET_ALLOW,  # 8
        RET_ERRNO,  # 9
    ))
    assert tests.runs[3] is not None and tests.runs[1] is None
    outcome = {nr: seccomp.run(tests, seccomp.Call(nr, seccomp.AUDIT_ARCH_X86_64)) for nr in (7, 165, 5)}
    assert outcome == {7: seccomp.ALLOW, 165: seccomp.ALLOW, 5: seccomp.TRAP}


instruction = st.one_of(
    st.tuples(st.just(0x20), st.just(0), st.just(0), st.sampled_from([0, 4, 16])),  # A = a word of the call
    st.tuples(st.just(0x15), st.integers(0, 6), st.integers(0, 2), st.integers(0, 4)),  # JEQ #k
    st.tuples(st.just(0x25), st.integers(0, 3), st.integers(0, 3), st.integers(0, 4)),  # JGT #k
    st.tuples(st.just(0x05), st.just(0), st.just(0), st.integers(0, 3)),  # JA
    st.tuples(st.just(0x06), st.just(0), st.just(0), st.integers(0, 0xFFFF)),  # RET #k
)


@settings(max_examples=300, deadline=None)
@given(st.lists(instruction, min_size=1, max_size=40), st.integers(0, 5), st.integers(0, 5))
def test_runs_crossed_by_table_land_where_each_test_in_turn_would(steps, nr, first_argument):
    """The same program with its runs of tests taken one instruction at a time (no tables)
    returns the same for every call."""
    tabled = seccomp.Program(program(*steps))
    one_by_one = seccomp.Program(program(*steps))
    one_by_one.runs = [None] * len(one_by_one.steps)
    call = seccomp.Call(nr, seccomp.AUDIT_ARCH_X86_64, (first_argument, 0, 0, 0, 0, 0))
    assert seccomp.run(tabled, call) == seccomp.run(one_by_one, call)


def test_guarded_capabilities_are_real_capability_names():
    for opened_by, _, _ in seccomp.GUARDED.values():
        names = (opened_by,) if isinstance(opened_by, str) else opened_by or ()
        assert set(names) <= set(linux.CAPABILITIES)
