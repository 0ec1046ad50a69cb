"""Seccomp filters as the kernel handed them over, judged here over every input they can see:
recorded from real containers, and written by hand to refuse only some inputs."""

import base64
import re
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoverify.kernel import linux, seccomp

DATA = Path(__file__).resolve().parents[2] / "data"  # outputs recorded on real hosts


def recorded(name: str) -> list[bytes]:
    return [base64.b64decode(p) for p in (DATA / f"seccomp.docker-{name}.b64").read_text().split(",")]


def program(*instructions: tuple[int, int, int, int]) -> bytes:
    return b"".join(struct.pack("<HBBI", *i) for i in instructions)


RET_ALLOW = (0x06, 0, 0, seccomp.ALLOW)
RET_ERRNO = (0x06, 0, 0, seccomp.ERRNO | 1)
EVERY_ABI = "on x86-64, x32 and i386"


def load(word: str) -> tuple[int, int, int, int]:
    """A = the named 32-bit word of struct seccomp_data."""
    return (0x20, 0, 0, 4 * seccomp.WORDS.index(word))


def refusing_only_when_zero(word: str) -> bytes:
    """Refuses every call whose `word` is 0, allows the rest: keyed on one word the caller chooses."""
    return program(load(word), (0x15, 0, 1, 0), RET_ERRNO, RET_ALLOW)


def test_dockers_default_profile_refuses_every_guarded_call():
    """Whatever the instruction pointer and the arguments (clone: with CLONE_NEWUSER)."""
    assert seccomp.let_through(recorded("default")) == []


def test_dockers_default_profile_allows_a_clone_without_a_new_user_namespace():
    """The flags clone's danger depends on decide: its other uses (fork, threads) get through."""
    default = seccomp.Program(recorded("default")[0])
    for call in seccomp.calls("clone(CLONE_NEWUSER)"):
        assert seccomp.evaluate(default, seccomp.Call(call.nr, call.arch)) == seccomp.ALLOW, call
        assert seccomp.evaluate(default, call) & seccomp.ACTION_MASK == seccomp.ERRNO, call


def test_a_filter_that_refuses_only_the_inputs_one_would_sample_refuses_nothing():
    """Instruction pointer 0, arguments 0 (clone: CLONE_NEWUSER) refused, every other input
    allowed: no real call is made from address 0, so every guarded call gets through."""
    steps: list = []
    for word in seccomp.WORDS[2:]:
        steps.append(load(word))
        if word == "arg0.low":  # clone's sample has CLONE_NEWUSER set
            steps.append((0x54, 0, 0, ~seccomp.CLONE_NEWUSER & 0xFFFFFFFF))
        steps.append("zero?")
    end = len(steps)  # RET_ERRNO there, RET_ALLOW after it
    sampled = program(*[(0x15, 0, end - i, 0) if step == "zero?" else step for i, step in enumerate(steps)],
                      RET_ERRNO, RET_ALLOW)
    for name in seccomp.GUARDED:
        for call in seccomp.calls(name):
            assert seccomp.evaluate(seccomp.Program(sampled), call) & seccomp.ACTION_MASK == seccomp.ERRNO, call
    assert seccomp.let_through([sampled]) == list(seccomp.GUARDED)


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
        assert isinstance(seccomp.evaluate(seccomp.Program(garbage), call), int)


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
    outcome = {nr: seccomp.evaluate(tests, seccomp.Call(nr, seccomp.AUDIT_ARCH_X86_64)) for nr in (7, 165, 5)}
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
    assert seccomp.evaluate(tabled, call) == seccomp.evaluate(one_by_one, call)


def test_guarded_capabilities_are_real_capability_names():
    for opened_by, _, _ in seccomp.GUARDED.values():
        names = (opened_by,) if isinstance(opened_by, str) else opened_by or ()
        assert set(names) <= set(linux.CAPABILITIES)


@pytest.mark.parametrize("word", seccomp.WORDS[2:])
def test_a_filter_keyed_on_one_word_lets_every_guarded_call_through_when_it_is_not_0(word):
    """Each half of the instruction pointer and of each argument: a filter that refuses a
    call only when that word is 0 lets it through for every other value, and says when."""
    keyed = refusing_only_when_zero(word)
    assert seccomp.let_through([keyed]) == list(seccomp.GUARDED)
    assert seccomp.described([keyed], ["mount"]) == f"mount {EVERY_ABI} when {word} != 0"
    [line] = seccomp.explained([keyed], ["mount"])
    assert line.startswith(f"mount gets through {EVERY_ABI} when {word} != 0, allowed: "
                           f"e.g. nr 165 on x86-64, {word.split('.')[0]} 0x"), line
    if word == "arg0.low":  # clone's flags are never 0 with CLONE_NEWUSER among them
        assert seccomp.described([keyed], ["clone(CLONE_NEWUSER)"]) == f"clone(CLONE_NEWUSER) {EVERY_ABI} always"


def test_a_witness_meets_the_conditions_it_is_shown_with():
    keyed = refusing_only_when_zero("arg3.high")
    witness = re.search(r"arg3 (0x[0-9a-f]+)", seccomp.explained([keyed], ["mount"])[0])
    assert witness and int(witness[1], 16) >> 32 != 0


def test_a_filter_that_checks_the_arch_but_forgets_x32s_bit_lets_x32_calls_through():
    """x32 calls carry x86-64's arch: only X32_SYSCALL_BIT in the number tells them apart."""
    numbers = [native for _, native, _ in seccomp.GUARDED.values()]
    n = len(numbers)
    forgets_x32 = program(load("arch"), (0x15, 0, n + 3, seccomp.AUDIT_ARCH_X86_64), load("nr"),
                          *[(0x15, n - j, 0, number) for j, number in enumerate(numbers)],
                          RET_ALLOW, RET_ERRNO, (0x06, 0, 0, seccomp.KILL_PROCESS))
    assert seccomp.let_through([forgets_x32]) == list(seccomp.GUARDED)
    assert {seccomp.described([forgets_x32], [name]) for name in seccomp.GUARDED} == \
        {f"{name} on x32 always" for name in seccomp.GUARDED}


def test_a_filter_that_refuses_x32_by_the_x86_64_numbers_misses_x32s_own_kexec_load():
    numbers = [number for _, native, i386 in seccomp.GUARDED.values()
               for number in (native, native | seccomp.X32_SYSCALL_BIT, i386) if number is not None]
    n = len(numbers)
    refused = program(load("nr"), *[(0x15, n - j, 0, number) for j, number in enumerate(numbers)],
                      RET_ALLOW, RET_ERRNO)
    assert seccomp.let_through([refused]) == ["kexec_load"]
    assert seccomp.described([refused], ["kexec_load"]) == "kexec_load on x32 always"


def test_a_filter_for_x86_64_alone_says_the_i386_calls_get_through():
    x86_64_only = program(load("arch"), (0x15, 1, 0, seccomp.AUDIT_ARCH_X86_64), RET_ALLOW, RET_ERRNO)
    assert seccomp.described([x86_64_only], ["mount"]) == "mount on i386 always"


@pytest.mark.parametrize("action, words", [(seccomp.TRACE, "left to a tracer (TRACE)"),
                                           (seccomp.USER_NOTIF, "left to a supervisor (USER_NOTIF)"),
                                           (seccomp.LOG, "allowed and logged (LOG)")])
def test_actions_that_hand_a_call_on_let_it_through_and_are_named(action, words):
    """TRACE and USER_NOTIF leave the call to a tracer or a supervisor the container may
    run; LOG allows it."""
    hands_on = program(load("nr"), (0x15, 0, 1, 165), (0x06, 0, 0, action | 42), RET_ERRNO)
    assert seccomp.let_through([hands_on]) == ["mount"]
    assert seccomp.described([hands_on], ["mount"]) == f"mount on x86-64 always, {words}"


@pytest.mark.parametrize("action", [seccomp.KILL_PROCESS, seccomp.KILL_THREAD, seccomp.TRAP, seccomp.ERRNO])
def test_actions_that_refuse_a_call_refuse_it(action):
    assert seccomp.let_through([program((0x06, 0, 0, action | 1))]) == []


def test_an_action_the_kernel_does_not_know_refuses_alone_but_not_beside_a_laxer_one():
    """The kernel kills for an unknown action, unless another filter's stricter known one
    wins: LOG, below 0x7ffe0000, lets the call through."""
    unknown, logs = program((0x06, 0, 0, 0x7FFE0000)), program((0x06, 0, 0, seccomp.LOG))
    assert seccomp.let_through([unknown]) == []
    assert seccomp.described([unknown, logs], ["mount"]) == f"mount {EVERY_ABI} always, allowed and logged (LOG)"


def test_masks_shifts_and_arithmetic_on_an_argument_are_followed_exactly():
    masked = program(load("arg1.low"), (0x54, 0, 0, 0xF0), (0x74, 0, 0, 4), (0x15, 0, 1, 5), RET_ALLOW, RET_ERRNO)
    assert seccomp.described([masked], ["mount"]) == f"mount {EVERY_ABI} when ((arg1.low & 0xf0) >> 4) == 5"
    witness = re.search(r"arg1 (0x[0-9a-f]+)", seccomp.explained([masked], ["mount"])[0])
    assert witness and (int(witness[1], 16) & 0xF0) >> 4 == 5
    # its lowest bit set by | 1, a refusal keyed on that bit refuses every call
    always_odd = program(load("arg2.high"), (0x44, 0, 0, 1), (0x45, 0, 1, 1), RET_ERRNO, RET_ALLOW)
    assert seccomp.let_through([always_odd]) == []
    lowest_bit = program(load("ip.high"), (0x64, 0, 0, 31), (0x74, 0, 0, 31), (0x15, 0, 1, 0), RET_ERRNO, RET_ALLOW)
    assert seccomp.described([lowest_bit], ["mount"]) == f"mount {EVERY_ABI} when ((ip.high << 31) >> 31) != 0"
    wrapping = program(load("ip.low"), (0x04, 0, 0, 1), (0x15, 0, 1, 0), RET_ALLOW, RET_ERRNO)
    assert "ip 0xffffffff," in seccomp.explained([wrapping], ["mount"])[0]


def test_a_division_by_an_argument_that_is_0_ends_the_filter_refusing():
    """1 / arg3.low is 0 for arg3.low > 1; dividing by 0 returns 0, KILL_THREAD."""
    divided = program(load("arg3.low"), (0x07, 0, 0, 0), (0x00, 0, 0, 1), (0x3C, 0, 0, 0), (0x15, 0, 1, 0),
                      RET_ALLOW, RET_ERRNO)
    assert seccomp.described([divided], ["mount"]) == f"mount {EVERY_ABI} when arg3.low != 0 and (1 / arg3.low) == 0"
    assert seccomp.evaluate(seccomp.Program(divided), seccomp.calls("mount")[0]) == seccomp.KILL_THREAD


def test_two_filters_that_each_let_every_call_through_can_refuse_them_all_together():
    odd_refused = program(load("ip.low"), (0x45, 0, 1, 1), RET_ERRNO, RET_ALLOW)
    even_refused = program(load("ip.low"), (0x45, 1, 0, 1), RET_ERRNO, RET_ALLOW)
    assert seccomp.let_through([odd_refused]) == seccomp.let_through([even_refused]) == list(seccomp.GUARDED)
    assert seccomp.let_through([odd_refused, even_refused]) == []


def test_the_conditions_of_stacked_filters_are_told_together():
    both = [refusing_only_when_zero("ip.low"), refusing_only_when_zero("arg1.high")]
    assert seccomp.described(both, ["mount"]) == f"mount {EVERY_ABI} when ip.low != 0 and arg1.high != 0"


MANY_PATHS = (load("arg1.low"), *[(0x45, 0, 0, 1 << bit) for bit in range(13)], RET_ALLOW)  # 2 ** 13 paths


@pytest.mark.parametrize("steps, why", [
    ((load("arg0.low"), (0x16, 0, 0, 0)), "an action computed from the words"),  # RET A
    (((0x94, 0, 0, 3), RET_ALLOW), "instruction 0x0094, which seccomp does not accept"),  # MOD
    (((0x20, 0, 0, 6), RET_ALLOW), "offset 6, which seccomp refuses"),
    (MANY_PATHS, "more than 4096 paths"),
])
def test_what_cannot_be_judged_exactly_is_an_error_never_a_pass(steps, why):
    for _ in range(2):  # the second time from the cache
        with pytest.raises(seccomp.Undecided, match=why) as raised:
            seccomp.let_through([program(*steps)])
        assert issubclass(raised.type, ValueError) and "\n" not in str(raised.value)


def test_without_the_solver_a_filter_that_needs_it_is_an_error_naming_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "z3", None)  # import z3 fails
    keyed = program(load("ip.high"), (0x15, 0, 1, 7), RET_ERRNO, RET_ALLOW)  # conditions no other test has
    with pytest.raises(seccomp.Undecided, match="pip install z3-solver"):
        seccomp.let_through([keyed])


WORD = st.integers(0, 0xFFFFFFFF)
judged_instruction = st.one_of(
    st.tuples(st.just(0x20), st.just(0), st.just(0), st.sampled_from(range(0, 64, 4))),  # A = a word
    st.tuples(st.sampled_from(list(seccomp.ALU)), st.just(0), st.just(0), st.integers(0, 40) | WORD),  # ALU K
    st.tuples(st.sampled_from([op | 0x08 for op in seccomp.ALU]), st.just(0), st.just(0), st.just(0)),  # ALU X
    st.tuples(st.sampled_from([0x07, 0x87, 0x84, 0x80, 0x81]), st.just(0), st.just(0), st.just(0)),  # TAX TXA NEG LEN
    st.tuples(st.sampled_from([0x00, 0x01]), st.just(0), st.just(0), st.integers(0, 3) | WORD),  # LD, LDX #k
    st.tuples(st.sampled_from([0x02, 0x03, 0x60, 0x61]), st.just(0), st.just(0), st.integers(0, 3)),  # memory
    st.tuples(st.sampled_from([0x15, 0x25, 0x35, 0x45, 0x1D, 0x2D, 0x3D, 0x4D]), st.integers(0, 3),
              st.integers(0, 3), st.integers(0, 3) | WORD),  # JEQ JGT JGE JSET, #k and X
    st.tuples(st.just(0x05), st.just(0), st.just(0), st.integers(0, 2)),  # JA
    st.tuples(st.just(0x06), st.just(0), st.just(0), st.sampled_from(sorted(seccomp.LETS_THROUGH) + [1, 0x50001])),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(judged_instruction, min_size=1, max_size=10), st.lists(WORD, min_size=14, max_size=14),
       st.sampled_from(["mount", "clone(CLONE_NEWUSER)", "kexec_load"]), st.integers(0, 2))
def test_the_paths_part_every_input_exactly(steps, words, name, abi):
    """Every path found has, where some input takes it, a witness that running the program
    takes to the path's value; and any input meets the conditions of exactly one path, the
    one whose value the program returns for it."""
    judged = seccomp.Program(program(*steps))
    call = seccomp.calls(name)[abi % len(seccomp.calls(name))]
    found = seccomp.paths(judged, call)
    for conditions, value in found:
        taken = seccomp.witness(conditions, call)
        assert taken is None or seccomp.evaluate(judged, taken) == value, (conditions, taken)
    pinned = tuple(("==", ("word", index), word, True) for index, word in zip(seccomp.FREE, words))
    concrete = seccomp.witness(pinned, call)
    met = [value for conditions, value in found if seccomp.witness(conditions + pinned, call)]
    assert met == [seccomp.evaluate(judged, concrete)], (found, concrete)
