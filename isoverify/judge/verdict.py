"""Judging: a property of the catalogue, or of the user's own, on one container's facts —
a verdict with its evidence — and the judge that applies a run's profile and waivers."""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from isoverify.errors import UsageError
from isoverify.judge.catalogue import DEFAULT_PROFILE, PROFILES
from isoverify.judge.checks import pss
from isoverify.judge.checks.base import PARTIAL, Evidence, Finding, Property, Unobservable, shown, value
from isoverify.judge.guidance import GUIDANCE
from isoverify.judge.waivers import Identity, Waiver, Waivers
from isoverify.judge.words import ADVISORY, ERROR, FAIL, PASS, WAIVED
from isoverify.model import ContainerFacts, HostFacts
from isoverify.untrusted import bounded, one_line

if TYPE_CHECKING:  # what a pod's CRI runtime said of it: only named here
    from isoverify.collect.cri import PodContainer


def enforced(prop: Property, profile: str) -> bool:
    """Whether `profile` enforces `prop`: a failure fails the run, else it is an advisory."""
    if prop.enforced_in is not None:
        return profile in prop.enforced_in
    return prop.id in PROFILES[profile]


SUMMARY_CHARS = 800  # summaries quote targets: a container with a thousand mounts stays one paragraph


@dataclass(frozen=True, repr=False)
class Verdict:
    """A property judged on one container: the record every report is made from."""

    property: Property
    target: str
    status: str
    enforced: bool
    summary: str
    host: tuple[Evidence, ...] = ()
    container: tuple[Evidence, ...] = ()
    items: tuple[str, ...] = ()  # the finding's specific things found wrong (Finding.items)
    waiver: dict | None = None  # the waiver that decided a failure: waived, or declined (the summary says why)
    matching_waivers: tuple[int, ...] = ()  # the lines of all waivers matching it: the others are stale

    def under(self, waivers: list[Waiver], today: datetime.date) -> "Verdict":
        """This verdict under the waivers matching its property and target: a failure is
        waived by the first that holds and accepts every finding, else it still fails, saying why."""
        noted = replace(self, matching_waivers=tuple(w.line for w in waivers))
        if self.status != FAIL or not waivers:
            return noted
        declined = []
        for waiver in waivers:
            why = waiver.declines(self.items, today)
            if why is None:
                return replace(noted, status=WAIVED, waiver=waiver.as_record(today))
            declined.append(why)
        note = one_line("; ".join(declined), SUMMARY_CHARS)
        return replace(noted, summary=f"{self.summary} ({note})", waiver=waivers[0].as_record(today))

    def __repr__(self):  # tracebacks show it: keep the evidence out
        return f"<Verdict {self.property.id} on {self.target}: {self.status}>"

    def as_record(self) -> dict:
        guidance = self.property.guidance or GUIDANCE.get(self.property.id)  # a check of your own may have none
        return {
            "target": self.target,
            "property": self.property.id,
            "title": self.property.title,
            "verdict": self.status,
            "enforced": self.enforced,
            "summary": self.summary,
            "controls": [str(control) for control in self.property.controls],
            "findings": list(self.items),
            "waiver": self.waiver,
            "matching_waivers": list(self.matching_waivers),
            "evidence": {
                side: [{"label": e.label, "text": e.text} for e in evidence]
                for side, evidence in (("host", self.host), ("container", self.container))
            },
            **({"severity": guidance.severity, "rationale": guidance.rationale,
                "remediation": guidance.remediation()} if guidance else {}),
        }


def declared(prop: Property, ctr: ContainerFacts) -> tuple[Evidence, ...]:
    """Which container was judged (its full ID: a name or a short ID may mean another to a
    reader), the declared values of the property's fields, shown beside the kernel's, and
    its labels as read (a cut one marked so)."""
    pod = ctr.target.pod
    if pod is not None:
        identity = f"container ID: {pod.container_id}\npod sandbox ID: {pod.sandbox_id}"
        spec = pod.spec.describe() if pod.spec is not None else f"(not read: {pod.info_error})"
        return (Evidence("declared (the CRI runtime spec)", bounded(f"{identity}\n{spec}")),)
    inspect = ctr.declared
    if not inspect:
        return ()
    lines = []
    for path in ("Id", "Name", "Image") + prop.declared + ("Config.Labels",):
        node: object = inspect
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        lines.append(f"{path}: {node if node not in (None, '', [], {}) else '(not set)'}")
    if not_read := (inspect.get("Config") or {}).get("LabelsNotRead"):
        lines.append(f"({not_read} more labels, not read: over 64 KiB of them)")
    return (Evidence(f"declared ({ctr.target.engine} inspect)", bounded("\n".join(lines))),)


def _every_process(each_process: Callable[[HostFacts, ContainerFacts], Finding], host: HostFacts,
                   ctr: ContainerFacts, main: Finding) -> Finding:
    """The main thread's finding, unless another thread or process of the container breaks it."""
    others = ctr.others()
    if others is None:
        said = ctr.outside["members"].output
        if unread := re.match(r"unread (\d+)\n", said):
            raise Unobservable(f"{unread[1]} of its processes and threads were not examined (more than the suite "
                               "reads of one container): judged on the others alone, a hidden one could break it")
        raise Unobservable("could not find the container's other processes: " + one_line(said))
    value(ctr.outside["members"], "its other processes")  # noted where they may not be all of them
    for other in others:
        found = each_process(host, other)
        if not found.holds:
            return Finding(False, f"{_task(ctr, other, others)}, not its main one: {found.summary}",
                           found.host, found.container, found.items)
    threads = sum(1 for other in others if _status(other).get("Tgid", str(other.pid)) != str(other.pid))
    if others:
        return replace(main, summary=f"{main.summary}; it holds for its {len(others) - threads} other process(es) "
                                     f"and {threads} other thread(s) as well")
    return main


def _status(ctr: ContainerFacts) -> dict:
    return ctr.outside["status"].value or {}


def _task(ctr: ContainerFacts, other: ContainerFacts, others: list[ContainerFacts]) -> str:
    """The task that breaks a property, by number and name: "its process 42 (sh)", or
    "its thread 43 (worker) of process 42 (app)" — each thread has credentials of its own —,
    or for a pod's container, "the pod's sandbox (process 40, pause)": the pod's, not its own."""
    tid, status = str(other.pid), _status(other)
    name = one_line(status.get("Name", "?"), 40)
    process = status.get("Tgid", tid)
    sandbox = str(ctr.target.pod.sandbox_pid) if ctr.target.pod is not None else None
    if process == sandbox:
        return (f"the pod's sandbox (process {tid}, {name})" if process == tid else
                f"thread {tid} ({name}) of the pod's sandbox (process {process})")
    if process == tid:
        return f"its process {tid} ({name})"
    if process == str(ctr.pid):
        leader = one_line(_status(ctr).get("Name", "?"), 40)
    else:
        leader = next((one_line(_status(o).get("Name", "?"), 40) for o in others if str(o.pid) == process), "?")
    return f"its thread {tid} ({name}) of process {process} ({leader})"


def judge(prop: Property, target: str, enforced: bool, host: HostFacts, ctr: ContainerFacts) -> Verdict:
    """A property of the catalogue (one with a check) on one container."""
    if prop.check is None:
        raise ValueError(f"{prop.id} is decided by a test of the user's own, not judged from facts")
    if not ctr.outside:
        inside_view = tuple(shown(r) for r in (ctr.inside or {}).values())
        return Verdict(prop, target, ERROR, enforced,
                       "not observable from inside alone: judging it needs the kernel's view from the "
                       "container's host; run the suite on the node, with docker:// or pid://", (), inside_view)
    partial: list[str] = []
    used = PARTIAL.set(partial)
    try:
        finding = prop.check(host, ctr)
        if finding.holds and prop.each_process is not None:
            finding = _every_process(prop.each_process, host, ctr, finding)
    except (Unobservable, ValueError) as exc:  # where its processes changed meanwhile, that is why
        why = f"{exc}; {partial[0]}" if partial else str(exc)
        return Verdict(prop, target, ERROR, enforced, one_line(why, SUMMARY_CHARS), (), declared(prop, ctr))
    finally:
        PARTIAL.reset(used)
    summary = finding.summary
    if partial:  # what was read stands; a process it could not read might break it
        if finding.holds:
            return Verdict(prop, target, ERROR, enforced,
                           one_line(f"it holds for every process read, but not all could be: {partial[0]}",
                                    SUMMARY_CHARS), finding.host, finding.container + declared(prop, ctr))
        summary = f"{summary} (and not all its processes could be read: {partial[0]})"
    status = PASS if finding.holds else FAIL if enforced else ADVISORY
    return Verdict(prop, target, status, enforced, one_line(summary, SUMMARY_CHARS), finding.host,
                   finding.container + declared(prop, ctr), finding.items)


class Judge:
    """Verdicts: the profile decides what is enforced, waivers what is accepted."""

    def __init__(self, *, profile: str = DEFAULT_PROFILE, waivers: Waivers | None = None):
        if profile not in PROFILES:
            raise UsageError(f"--iso-profile {profile!r}: choose one of {', '.join(PROFILES)}")
        self.profile = profile
        self.waivers = waivers or Waivers([])

    def enforced(self, prop: Property) -> bool:
        return enforced(prop, self.profile)

    def error(self, prop: Property, target: str, why: str) -> Verdict:
        return Verdict(prop, target, ERROR, self.enforced(prop), why)

    def verdict(self, prop: Property, target: str, host: HostFacts, ctr: ContainerFacts) -> Verdict:
        """A property of the catalogue, judged from the facts."""
        return self.waived(judge(prop, target, self.enforced(prop), host, ctr), ctr)

    def waived(self, verdict: Verdict, ctr: ContainerFacts | None) -> Verdict:
        """The verdict under the waivers for its property and target."""
        identity = Identity.of(verdict.target, ctr.declared if ctr else None)
        return verdict.under(self.waivers.matching(verdict.property.id, identity), self.waivers.today)

    def ran_before(self, prop: Property, target: str, pod: "PodContainer") -> Verdict:
        """An init container that ran to completion: part of a healthy pod, with no process left for the
        kernel to show. What its runtime still holds judges the controls it answers (pss.FROM_DECLARATION:
        its capabilities, profiles, user, host ports and paths), as for any container. The rest are not
        a pass (nothing was observed) and not an error for that alone: an advisory, never enforced,
        saying so, with the runtime spec it still holds."""
        ran = f"an init container that ran to completion (exit code {pod.exit_code})"
        if (held := pss.from_declaration(prop.id, pod)) is not None:
            enforced = self.enforced(prop)
            status = PASS if held.holds else FAIL if enforced else ADVISORY
            return Verdict(prop, target, status, enforced, one_line(f"{ran}, judged by what it was given: "
                                                                    f"{held.summary}", SUMMARY_CHARS),
                           held.host, held.container, held.items)
        declared = pod.spec.describe() if pod.spec is not None else f"(not read: {pod.info_error})"
        return Verdict(prop, target, ADVISORY, False,
                       f"{ran}: no process of it is "
                       "left for the kernel to show, so this is not judged of it; what its CRI runtime still holds "
                       "of it is shown",
                       (), (Evidence("declared (the CRI runtime spec)",
                                     f"container ID: {pod.container_id}\n"
                                     f"state: {pod.state}, exit code {pod.exit_code}\n" + declared),))
