"""Fuzzing: every parser takes arbitrary input without crashing, and garbage never passes."""

import base64

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from isoverify.collect import facts, observe, probe
from isoverify.collect.targets import ContainerTarget, HostTarget
from isoverify.judge.catalogue import CATALOGUE
from isoverify.judge.verdict import judge
from isoverify.judge.words import PASS
from isoverify.model import ContainerFacts, HostFacts, Reading

HOST = HostTarget("local://")
TARGET = ContainerTarget(HOST, "docker", "fuzzed", "docker://fuzzed")
HOST_FACTS = observe.host_facts(("docker",), {"docker": ["fuzzed"]}, 60)
OUTSIDE = observe.kernel_view("exec", {})
INSIDE = observe.inside_facts()
ALL_FACTS = [*HOST_FACTS.values(), *OUTSIDE.values(), *INSIDE.values()]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(alphabet=st.characters(codec="utf-8"), max_size=400)


@FUZZ
@given(st.sampled_from(ALL_FACTS), text, st.sampled_from([0, 1, 127]))
def test_every_parser_takes_anything(fact, output, rc):
    reading = fact.read(output, rc)
    assert isinstance(reading, Reading)
    if rc != 0 and not isinstance(fact, facts.Containers):
        assert reading.value is None  # a failed command is never read as a fact


@FUZZ
@given(st.binary(max_size=2000), st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
def test_framing_takes_any_bytes(output, names):
    try:
        sections = probe.parse(output, "f" * 24, names)
    except probe.ProbeError:
        return
    assert list(sections) == names


@FUZZ
@given(st.lists(st.binary(max_size=200), min_size=3, max_size=3), st.binary(max_size=100))
def test_framing_detects_anything_injected_between_sections(outputs, injected):
    nonce = "f" * 24
    mark = lambda kind, value: b"\n@@isoverify:" + nonce.encode() + b":" + kind + b":" + value + b"\n"  # noqa: E731
    assume(nonce.encode() not in b"".join(outputs) + injected)
    body = b"".join(mark(b"begin", n) + o + mark(b"rc", b"0") for n, o in zip((b"a", b"b", b"c"), outputs))
    assert list(probe.parse(body, nonce, ["a", "b", "c"])) == ["a", "b", "c"]
    forged = body.replace(mark(b"begin", b"b"), injected + mark(b"rc", b"0") + mark(b"begin", b"b"), 1)
    try:
        probe.parse(forged, nonce, ["a", "b", "c"])
    except probe.ProbeError:
        return
    raise AssertionError("a forged marker went unnoticed")


@FUZZ
@given(st.text(max_size=300))
def test_inside_view_takes_anything(output):
    for candidate in (output, base64.b64encode(output.encode()).decode()):
        view, error = observe._inside(Reading("inside", candidate, 0, candidate), "f" * 24, INSIDE)
        assert view is None and error


def garbage_facts(outputs: dict[str, str]) -> tuple[HostFacts, ContainerFacts]:
    """Facts read from garbage: every command "succeeded" but printed `!` and noise."""
    host = {name: fact.read("!" + outputs.get(f"h.{name}", ""), 0) for name, fact in HOST_FACTS.items()}
    host["processes"] = Reading("processes", "!", 0, None)
    outside = {name: fact.read("!" + outputs.get(f"c.{name}", ""), 0) for name, fact in OUTSIDE.items()}
    outside["visible"] = Reading("visible", "!", 0, None)
    outside["held"] = Reading("held", "!", 0, None)
    outside["filters"] = Reading("filters", "!", 0, None)
    return HostFacts(HOST, host), ContainerFacts(TARGET, outside, None, "fuzzed")


@FUZZ
@given(st.dictionaries(st.sampled_from([f"h.{n}" for n in HOST_FACTS] + [f"c.{n}" for n in OUTSIDE]), text))
def test_garbage_never_passes(outputs):
    host, ctr = garbage_facts(outputs)
    for prop in CATALOGUE:
        assert judge(prop, "fuzzed", True, host, ctr).status != PASS, prop.id
