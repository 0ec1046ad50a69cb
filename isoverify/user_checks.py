"""Checks of your own: what the `iso_host` and `iso_container` fixtures hand a test.

Each is a testinfra host — `file`, `process`, `socket`, `run`, … — over the run's own
connection to the machine, carrying what the suite's one probe read of it (`facts`).
A container's commands run *inside* it through its engine's exec on its host, which
keeps it confined as the container is (its user, capabilities, seccomp filter,
no_new_privs, LSM label and cgroup): never with the verifier's privileges. A bare
process (pid://) has no engine to confine it, so it runs no commands at all.
Every command a check runs is kept, with what it printed, as that check's evidence,
under the side whose view it is: testinfra's own `host` fixture, the machine running
the suite, is named so wherever its commands are shown.

Facts of your own join the probe through the `pytest_isoverify_container_facts` hook
(see hooks.py): read on the host about each container, beside the suite's, in the same
round trip. Each reaches the container through its processes or says it reads the
host's own view, and is shown as the host's then.
"""

import dataclasses
import json
import re
import shlex
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources

import testinfra.host
from testinfra.backend.base import BaseBackend, CommandResult

from isoverify.collect.facts import Fact
from isoverify.collect.observe import OWN  # the prefix of every fact of the user's own, apart from the suite's
from isoverify.collect.targets import POD, ContainerTarget, HostTarget
from isoverify.errors import TargetError
from isoverify.judge.checks.base import Evidence, Property
from isoverify.judge.verdict import SUMMARY_CHARS, Judge, Verdict
from isoverify.judge.words import ADVISORY, FAIL, PASS
from isoverify.model import ContainerFacts, HostFacts
from isoverify.untrusted import bounded, decode, one_line

OUTPUT_LIMIT = 1024 * 1024  # bytes kept of each stream of one command run inside a container
# How an engine says it could not start the command (no /bin/sh), with exec's own statuses.
EXEC_FAILED = ("OCI runtime exec failed", "Error: ")
TIMED_OUT = (124, 137)  # `timeout`'s own status, and its KILL after the grace period
INSIDE = resources.files("isoverify.collect").joinpath("shell", "inside.sh").read_text()


INSIDE_VIEW = "inside, through the engine's exec"  # a container's command: its own view, confined as it is
ON_HOST = "on the host"  # a container's fact, read on its host through its processes
HOST_VIEW = "the host's own view, read for {target}: not the container's"  # a fact declared reads_host
SUITE_MACHINE = "testinfra's `host`: {machine}"


@dataclass(frozen=True)
class Command:
    """One command a check ran, or one fact it read, and what it printed."""

    side: str  # "host" or "container": the column it is shown in
    command: str  # what ran, or the fact's label
    rc: int
    output: str
    view: str = ""  # whose view it is, where the side's own words would not say it
    read: bool = False  # a fact the probe read, not a command the check ran

    @property
    def label(self) -> str:
        if self.read:
            return f"{self.command}   ({self.view})"
        return f"$ {one_line(self.command, 400)}" + (f"  ({self.view})" if self.view else "")

    @property
    def text(self) -> str:
        return f"{bounded(self.output.rstrip())}\n(exit status {self.rc})".lstrip("\n")  # the status, however long


@dataclass
class Transcript:
    """The commands one test ran through the fixtures, in order."""

    commands: list[Command] = field(default_factory=list)

    def on(self, side: str) -> list[Command]:
        return [command for command in self.commands if command.side == side]


@dataclasses.dataclass(repr=False)
class Answer(CommandResult):
    """What a command a check ran answered, shown in plain words wherever a check quotes it."""

    def __repr__(self) -> str:
        said = one_line(self.stdout + self.stderr, 200)
        return f"`{one_line(self.command.decode(errors='replace'), 200)}` (exit status {self.rc})" + (
            f": {said}" if said else "")

    __str__ = __repr__


class ThroughHost(BaseBackend):
    """testinfra's backend over the run's connection to a host: a host's command runs
    there; a container's runs in it through its engine's exec (inside.sh) on that host."""

    NAME = "isoverify"

    def __init__(self, host: HostTarget, transcript: Transcript, container: tuple[str, str] | None = None,
                 timeout: int = 60, side: str | None = None, started: str = ""):
        super().__init__(host.label)
        self.target, self.transcript, self.container, self.timeout = host, transcript, container, timeout
        self.started = started  # when the container observed started, as its engine writes it in JSON
        self.side = side or ("host" if container is None else "container")
        self.view = INSIDE_VIEW if self.side == "container" else ""

    def get_encoding(self) -> str:
        """UTF-8, what `run` decodes every answer into: testinfra would ask the target with a
        python3 of its own (inside a container: the container's word, and one more command)."""
        return "utf-8"

    def run(self, command: str, *args: str, **kwargs) -> CommandResult:
        line = self.get_command(command, *args)
        if self.container is None:
            rc, out, err = self.target.run(line)
        else:
            rc, out, err = self._inside(line)
        out, err = decode(out).encode(), decode(err).encode()  # a check sees no terminal controls
        self.transcript.commands.append(Command(self.side, line, rc, out.decode() + err.decode(), self.view))
        return Answer(self, rc, self.encode(line), out, err)

    def _inside(self, line: str) -> tuple[int, bytes, bytes]:
        """The command in the container; TargetError when its answer is not the command's
        own: it did not finish, printed past the bound, or the container stopped or
        restarted, or has no /bin/sh. Only inside.sh's last line says which, after
        everything the container printed."""
        engine, container_id = self.container
        rc, out, err = self.target.run(f"{INSIDE}\ninside {shlex.quote(engine)} {shlex.quote(container_id)} "
                                       f"{int(self.timeout)} {OUTPUT_LIMIT} {shlex.quote(line)}")
        err, _, trailer = err.rpartition(b"\nisoverify-inside ")
        words = trailer.decode("ascii", "replace").split()
        where = f"`{one_line(line, 80)}` in container {container_id[:12]}"
        if len(words) != 3 or not words[0].isdigit() or int(words[0]) != rc:
            raise TargetError(f"{engine} exec of {where} ended without its status: {one_line(decode(err))}")
        _, cut, state = words
        if rc in TIMED_OUT:
            raise TargetError(f"{where} did not finish within {self.timeout}s (--iso-timeout)")
        if cut == "1":
            raise TargetError(f"{where} printed more than {OUTPUT_LIMIT} bytes: cut, so not an answer")
        if rc != 0 and state != f"true/{self.started}":
            raise TargetError(f"{engine} could not run {where}: the container stopped or restarted ({state})")
        if rc in (126, 127) and decode(err).startswith(EXEC_FAILED):
            raise TargetError(f"{engine} could not run {where}: {one_line(decode(err))} (no /bin/sh in it?)")
        return rc, out, err


class IsoHost(testinfra.host.Host):
    """A host of the run: testinfra's modules there, and what the probe read of it."""

    def __init__(self, target: HostTarget, label: str, facts: HostFacts | None, transcript: Transcript):
        super().__init__(ThroughHost(target, transcript))
        self.backend.set_host(self)
        self.label, self.facts = label, facts

    def __repr__(self):
        return f"<IsoHost {self.label}>"


class NoCommands(BaseBackend):
    """A container no engine confines (pid://): it runs nothing, so nothing runs with more
    than its own privileges, and no answer of the host's stands in for its own; its facts,
    read on the host through its processes, are all a check can use."""

    NAME = "isoverify-none"

    def run(self, command: str, *args: str, **kwargs) -> CommandResult:
        raise TargetError(f"{self.hostname} is a bare process: no engine runs a command in its view, confined as "
                          "it is, and one run on the host would be the host's view with the verifier's privileges; "
                          "checks of it read its facts (iso_container.fact, iso_container.facts), not commands")


class IsoContainer(testinfra.host.Host):
    """A container of the run: testinfra's modules inside it, confined as it is, and what
    the probe read of it (`facts`) and of its host (`host_facts`)."""

    def __init__(self, target: ContainerTarget, label: str, host_facts: HostFacts | None, facts: ContainerFacts,
                 transcript: Transcript, timeout: int, host_views: frozenset[str] = frozenset()):
        if target.engine == POD:  # kubectl exec, through testinfra's own backend, keeps the pod's confinement
            backend = ThroughHost(HostTarget(target.label), transcript, timeout=timeout, side="container")
        elif target.has_engine:
            declared = facts.declared or {}
            started = json.dumps((declared.get("State") or {}).get("StartedAt"), separators=(",", ":"))
            backend = ThroughHost(target.host, transcript, (target.engine, declared.get("Id") or target.ref),
                                  timeout, started=started.replace(" ", "_"))
        else:
            backend = NoCommands(label)
        super().__init__(backend)
        backend.set_host(self)
        self.label, self.facts, self.host_facts, self._transcript = label, facts, host_facts, transcript
        self._host_views = host_views  # the names of the user's facts that read the host's own view

    def __repr__(self):
        return f"<IsoContainer {self.label}>"

    def fact(self, name: str):
        """The value of a fact read on the host about this container (one of your own, named
        without its prefix, or else the suite's); TargetError saying why when it could not be read.
        Its evidence is the container's, or, for a fact that reads the host's own view, the
        host's, marked so."""
        key = OWN + name if OWN + name in self.facts.outside else name
        reading = self.facts.outside.get(key)
        if reading is None:
            raise TargetError(f"no fact {name!r} was read of {self.label}: declare it with "
                              "pytest_isoverify_container_facts")
        if key in self._host_views:
            shown = Command("host", reading.label, reading.rc, reading.output,
                            HOST_VIEW.format(target=self.label), True)
        else:
            shown = Command("container", reading.label, reading.rc, reading.output, ON_HOST, True)
        self._transcript.commands.append(shown)
        if not reading.readable:
            raise TargetError(f"could not read {name!r} of {self.label} (`{reading.label}`: "
                              f"{one_line(reading.output) or f'exit status {reading.rc}'})")
        return reading.value


# A container's processes as its facts' shell names them: a command naming none reads the host's own view.
CONTAINER_PROCESSES = re.compile(r"\$\{?(pid|root_pid|members)\b")


def own_facts(declared: list[dict]) -> dict[str, Fact]:
    """The facts the hook's implementations declare, each named apart from the suite's;
    ValueError names the one that is wrong. Each reaches the container through its
    processes, or is declared as reading the host (`reads_host=True`): a command that does
    neither (`cat /etc/hostname`) would show the host's answer as the container's."""
    merged: dict[str, Fact] = {}
    for facts in declared:
        for name, fact in (facts or {}).items():
            if not (isinstance(name, str) and name.isidentifier()):
                raise ValueError(f"fact name {name!r}: use a Python identifier, e.g. listening_ports")
            if not isinstance(fact, Fact):
                raise ValueError(f"fact {name!r}: give an isoverify.facts.Fact (its command, label and parser)")
            if OWN + name in merged:
                raise ValueError(f"fact {name!r} is declared twice")
            if not fact.reads_host and not CONTAINER_PROCESSES.search(fact.command):
                raise ValueError(f"fact {name!r} (`{one_line(fact.command, 80)}`) names none of the container's "
                                 "processes, so it reads the host's own view: reach the container through $pid, "
                                 "$root_pid or $members (its files: container_file \"$root_pid\" /etc/hostname), "
                                 "or declare it Fact(..., reads_host=True)")
            merged[OWN + name] = fact
    return merged


def host_views(facts: dict[str, Fact]) -> frozenset[str]:
    """The names of the facts that read the host's own view: shown as the host's."""
    return frozenset(name for name, fact in facts.items() if fact.reads_host)


def testinfra_host(funcargs: dict) -> testinfra.host.Host | None:
    """testinfra's own `host` fixture, where a test takes it: not one of the run's targets."""
    host = funcargs.get("host")
    return host if isinstance(host, testinfra.host.Host) and not isinstance(host, (IsoHost, IsoContainer)) else None


def machine(host: testinfra.host.Host, under_test: HostTarget) -> str:
    """Which machine testinfra's own `host` fixture is, beside the host under test: its
    --hosts, by default the machine running the suite, whatever --iso-host names."""
    backend = host.backend
    if backend.get_connection_type() != "local":
        return f"{backend.get_pytest_id()} (testinfra's --hosts), not the run's host under test"
    if under_test.scheme == "local":
        return "the machine running the suite, here also the host under test"
    return "the machine running the suite, not the host under test"


@contextmanager
def recorded(host: testinfra.host.Host, where: str, transcript: Transcript):
    """Every command run through testinfra's `host` meanwhile, kept as evidence on the host's
    side marked as the machine `where` names; `host` itself works as it always does."""
    run, view = host.run, SUITE_MACHINE.format(machine=where)

    def recording(command: str, *args: str, **kwargs) -> CommandResult:
        result = run(command, *args, **kwargs)
        transcript.commands.append(Command("host", host.backend.get_command(command, *args), result.rc,
                                           decode(result.stdout_bytes + result.stderr_bytes), view))
        return result

    host.run = recording
    try:
        yield
    finally:
        del host.run


# Where pytest's rewrite of a failed `assert` begins, after the check's own message if it gave one.
REWRITE = re.compile(r"^assert ", re.MULTILINE)


def in_plain_words(raised: BaseException) -> str:
    """Why a check failed as its author put it: its message, or else the assertion as written
    and where, never pytest's rewrite of it (`assert not (420 & 4) + where 420 = <file …>.mode`)."""
    message = str(raised)
    if not isinstance(raised, AssertionError):
        return message or "it failed"
    message = REWRITE.split(message, maxsplit=1)[0].strip()
    if message:
        return message
    frames = traceback.extract_tb(raised.__traceback__)
    if not frames:
        return "its assertion failed"
    where = frames[-1]
    return f"its assertion failed: `{(where.line or '').strip()}` ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"


def _undecided(raised: BaseException) -> str:
    if isinstance(raised, TargetError):  # its message names the target and the fix
        return f"the check could not decide: {raised}"
    return f"the check could not decide: {type(raised).__name__}: {raised}"


def verdict(judge: Judge, prop: Property, target: str, status: str, raised: BaseException | None,
            transcript: Transcript, facts: ContainerFacts | None, suite_machine: str = "") -> Verdict:
    """The verdict of a test of the user's own, from how it ended: a failure stays one
    only where the profile enforces the property and no waiver accepts it. `suite_machine`
    names the machine testinfra's `host` was, where the test used it."""
    used = f" (it used {SUITE_MACHINE.format(machine=suite_machine)})" if suite_machine else ""
    if status == PASS:
        summary = "its test passed"
    elif status == FAIL:
        summary = in_plain_words(raised)
    else:
        summary = _undecided(raised)
    summary = one_line(summary, SUMMARY_CHARS - len(used)) + used
    is_enforced = judge.enforced(prop)
    if status == FAIL and not is_enforced:
        status = ADVISORY
    evidence = {side: tuple(Evidence(c.label, c.text) for c in transcript.on(side)) for side in ("host", "container")}
    return judge.waived(Verdict(prop, target, status, is_enforced, summary, evidence["host"], evidence["container"]),
                        facts)
