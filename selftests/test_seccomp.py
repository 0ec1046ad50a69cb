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
        seccomp.instructions(garbage)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=8, max_size=400).filter(lambda b: len(b) % 8 == 0))
def test_any_program_runs_to_an_end(garbage):
    """Jumps go forward only: whatever the bytes, a run ends with some action."""
    for call in seccomp.calls("mount"):
        assert isinstance(seccomp.run(seccomp.instructions(garbage), call), int)


def test_guarded_capabilities_are_real_capability_names():
    for opened_by, _, _ in seccomp.GUARDED.values():
        names = (opened_by,) if isinstance(opened_by, str) else opened_by or ()
        assert set(names) <= set(linux.CAPABILITIES)
