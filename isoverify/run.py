"""One verification run, in its four jobs: planning the targets, the managed containers'
life, observing each host once, and judging.

Targets are named before anything starts: test ids must exist at collection time, so
`Plan.containers` resolves selections like `docker://*` then (one engine query per host)
and never builds an id from what a target said. The managed container of each host is
started on first use and removed by `close`, which the plugin calls at session end, on
failure and on Ctrl-C. Data flows one way: plan, observe, judge.
"""

import re
import secrets
from dataclasses import dataclass

from isoverify.collect import observe
from isoverify.collect.cri import CriError, PodContainer
from isoverify.collect.facts import Fact
from isoverify.collect.targets import (
    CRI,
    POD,
    PROCESS,
    ContainerSpec,
    ContainerTarget,
    HostTarget,
    ManagedContainer,
    check_cri_host,
    check_host_url,
    check_image,
    check_label,
    expand_host_urls,
    explain_engine_failure,
    parse_container_url,
    select_containers,
    select_pod_containers,
)
from isoverify.errors import SetupError, TargetError, UsageError
from isoverify.judge.catalogue import BY_ID, DEFAULT_PROFILE
from isoverify.judge.verdict import Judge, Verdict
from isoverify.judge.waivers import Waivers
from isoverify.model import ContainerFacts, HostFacts
from isoverify.untrusted import one_line

DEFAULT_IMAGE = "busybox:latest"
DEFAULT_ENGINE = "docker"


@dataclass(frozen=True)
class PlannedContainer:
    """A container to verify: `id` is safe for test ids, `label` is what reports show."""

    id: str
    label: str
    host: HostTarget
    spec: ContainerSpec | None  # None: the container the suite starts itself
    target: ContainerTarget | None = None  # known before the run when named or selected

    @property
    def is_pod(self) -> bool:
        return self.spec is not None and self.spec.engine == POD

    def subject(self) -> dict:
        """What the target is, for the reports that name it by kind: its engine (pid: a bare
        process) and, for a pod's container, what its node's CRI runtime said of its pod."""
        pod = self.target.pod if self.target is not None else None
        return {"engine": self.spec.engine if self.spec else DEFAULT_ENGINE,
                **({"pod": {"namespace": pod.pod_namespace, "name": pod.pod_name, "uid": pod.pod_uid,
                            "container": pod.container_name, "init": pod.init}} if pod is not None else {})}


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:/@-]", "_", text)


class Plan:
    """Which hosts, and which containers on each: checked before anything runs."""

    def __init__(self, *, hosts: tuple[str, ...] = ("local://",), containers: tuple[str, ...] = (),
                 image: str = DEFAULT_IMAGE, ssh_config: str | None = None, ssh_identity_file: str | None = None):
        for url in hosts:
            check_host_url(url)  # usage errors come before any inventory is read
        self.specs = [parse_container_url(url) for url in dict.fromkeys(containers)]
        self.image = check_image(image)
        self.hosts = [HostTarget(url, ssh_config, ssh_identity_file) for url in dict.fromkeys(expand_host_urls(hosts))]
        for spec in self.specs:
            if spec.engine == CRI:
                for host in self.hosts:
                    check_cri_host(spec, host)
        self._containers: list[PlannedContainer] | None = None

    def host_label(self, host: HostTarget) -> str:
        """How reports name a host: its URL without the query, unless two hosts differ only there."""
        if sum(other.label == host.label for other in self.hosts) > 1:
            return host.url
        return host.label

    def containers(self) -> list[PlannedContainer]:
        """Every container to verify on every host; asks the engines once for selections.

        Pods (kubectl://) belong to no host of the run: each is one slot, once.
        """
        if self._containers is None:
            pods = [PlannedContainer(_safe_id(spec.url), spec.url, self.hosts[0], spec, spec.target(self.hosts[0]))
                    for spec in self.specs if spec.engine == POD]
            self._containers = [slot for host in self.hosts for slot in self._host_containers(host)] + pods
        return self._containers

    def _host_containers(self, host: HostTarget) -> list[PlannedContainer]:
        prefix = f"{_safe_id(self.host_label(host))}/" if len(self.hosts) > 1 else ""
        shown = f"{self.host_label(host)} " if len(self.hosts) > 1 else ""
        if not self.specs:
            return [PlannedContainer(f"{prefix}managed", f"{shown}{self.image} (managed)", host, None)]
        slots = []
        for spec in (spec for spec in self.specs if spec.engine != POD):
            if spec.engine == CRI:
                slots += self._pod_containers(host, spec, prefix, shown)
                continue
            if not spec.selects:
                slots.append(PlannedContainer(prefix + _safe_id(spec.url), shown + spec.url, host, spec,
                                              spec.target(host)))
                continue
            try:
                selected = select_containers(host, spec)
            except TargetError as exc:
                raise SetupError(str(exc)) from exc
            for number, (container_id, name) in enumerate(selected, 1):
                target = ContainerTarget(host, spec.engine, container_id,
                                         label=f"{spec.engine}://{name} ({container_id[:12]})")
                slots.append(PlannedContainer(f"{prefix}{_safe_id(spec.url)}#{number}", shown + target.label,
                                  host, spec, target))
        return slots

    @staticmethod
    def _pod_containers(host: HostTarget, spec: ContainerSpec, prefix: str, shown: str) -> list[PlannedContainer]:
        """A slot for each pod container `spec` selects, numbered in the runtime's answer: a test id
        is never made of what a pod author named."""
        try:
            selected = select_pod_containers(host, spec)
        except (CriError, TargetError) as exc:
            raise SetupError(str(exc)) from exc
        return [PlannedContainer(f"{prefix}{_safe_id(spec.url)}#{number}", shown + pod_label(container), host, spec,
                                 ContainerTarget(host, CRI, container.container_id, pod_label(container), container))
                for number, container in enumerate(selected, 1)]

    def engines(self, host: HostTarget) -> tuple[str, ...]:
        """The engines whose containers this run verifies on `host`."""
        used = {slot.spec.engine if slot.spec else DEFAULT_ENGINE for slot in self.containers() if slot.host is host}
        return tuple(sorted(used - {PROCESS, POD, CRI}))


def pod_label(container: PodContainer) -> str:
    """namespace/pod/container, its pod's UID and its own short ID: the names its pod's author chose,
    the IDs the runtime's."""
    return f"cri://{container.shown} (pod {one_line(container.pod_uid, 40)}, {container.short_id})"


class ManagedContainers:
    """The busybox each host gets when no container is named: started on first use,
    labelled as this run's, removed at the end however the run ends."""

    def __init__(self, *, image: str, labels: tuple[str, ...] = ()):
        self.image = image
        self.labels = tuple(check_label(label) for label in labels)
        self.session = secrets.token_hex(4)
        self._started: dict[str, ManagedContainer] = {}
        self._failed: dict[str, SetupError] = {}

    def target(self, host: HostTarget) -> ContainerTarget:
        if host.url not in self._started:
            managed = self._started[host.url] = ManagedContainer(host, DEFAULT_ENGINE, self.image, self.session,
                                                                 self.labels)
            try:
                managed.start()
            except TargetError as exc:
                self._failed[host.url] = SetupError(str(exc))
        if host.url in self._failed:
            raise self._failed[host.url]
        return self._started[host.url].target

    def close(self) -> None:
        """Remove every container started; safe to call again."""
        while self._started:
            self._started.popitem()[1].remove()


class Observations:
    """Each host and all its containers observed in one round trip, once, and kept."""

    def __init__(self, plan: Plan, managed: ManagedContainers, *, timeout: int = observe.DEFAULT_TIMEOUT,
                 inside: str = "host"):
        if inside not in observe.INSIDE_PATHS:
            raise UsageError(f"--iso-inside {inside!r}: choose one of {', '.join(observe.INSIDE_PATHS)}")
        if timeout < 1:  # `timeout 0` would wait for ever
            raise UsageError(f"--iso-timeout {timeout}: give a number of seconds, 1 or more")
        self.plan, self.managed, self.timeout, self.inside = plan, managed, timeout, inside
        self.own_facts: dict[str, Fact] = {}  # the user's facts of each container, read in the same probe
        self._hosts: dict[str, HostFacts | SetupError] = {}
        self._containers: dict[str, ContainerFacts | TargetError] = {}

    def target(self, slot: PlannedContainer) -> ContainerTarget:
        return slot.target if slot.target is not None else self.managed.target(slot.host)

    def facts(self, slot: PlannedContainer) -> tuple[HostFacts | None, ContainerFacts]:
        """What was read of `slot`'s host and of it (TargetError, or SetupError for its host, if nothing)."""
        if slot.is_pod:
            if slot.id not in self._containers:
                try:
                    self._containers[slot.id] = observe.observe_pod(slot.target, self.timeout)
                except TargetError as exc:
                    self._containers[slot.id] = exc
            host = None
        else:
            host = self.host(slot.host)
        found = self._containers[slot.id]
        if isinstance(found, TargetError):
            raise found
        return host, found

    def host(self, host: HostTarget) -> HostFacts:
        """What was read of `host` itself (SetupError if nothing), whatever its containers showed."""
        if host.url not in self._hosts:
            self._hosts[host.url] = self._observe(host)
        found = self._hosts[host.url]
        if isinstance(found, SetupError):
            raise found
        return found

    def _observe(self, host: HostTarget) -> HostFacts | SetupError:
        slots = [slot for slot in self.plan.containers() if slot.host is host and not slot.is_pod]
        engines = self.plan.engines(host)
        try:
            targets = {slot.id: self.target(slot) for slot in slots}
            facts, observed = observe.observe(host, engines, list(dict.fromkeys(targets.values())),
                                              self.timeout, self.inside, self.own_facts)
            for engine in engines:
                reading = facts[f"engine:{engine}"]
                if reading.rc == 124:
                    raise TargetError(f"the {engine} engine on {host.label} did not answer within "
                                      f"{self.timeout}s (--iso-timeout): is it hung?")
                if not reading.readable:
                    raise TargetError(explain_engine_failure(engine, host, reading.output))
        except TargetError as exc:
            return exc if isinstance(exc, SetupError) else SetupError(str(exc))
        self._containers.update({slot.id: observed[targets[slot.id]] for slot in slots})
        return facts

    def observed_hosts(self) -> dict[HostTarget, HostFacts]:
        """The hosts observed so far; never probes."""
        return {host: facts for host in self.plan.hosts
                if isinstance(facts := self._hosts.get(host.url), HostFacts)}


class Run:
    """The plugin's one object: a plan, its observations and a judge, closed at the end."""

    def __init__(self, *, hosts: tuple[str, ...] = ("local://",), containers: tuple[str, ...] = (),
                 image: str = DEFAULT_IMAGE, profile: str = DEFAULT_PROFILE,
                 timeout: int = observe.DEFAULT_TIMEOUT, labels: tuple[str, ...] = (),
                 waivers: Waivers | None = None, ssh_config: str | None = None,
                 ssh_identity_file: str | None = None, inside: str = "host"):
        self.judge = Judge(profile=profile, waivers=waivers)
        self.plan = Plan(hosts=hosts, containers=containers, image=image, ssh_config=ssh_config,
                         ssh_identity_file=ssh_identity_file)
        self.managed = ManagedContainers(image=self.plan.image, labels=labels)
        self.observations = Observations(self.plan, self.managed, timeout=timeout, inside=inside)

    def facts(self, slot: PlannedContainer) -> tuple[HostFacts | None, ContainerFacts]:
        """The facts of `slot` (see `_unless_other_hosts`)."""
        return self._unless_other_hosts(self.observations.facts, slot)

    def host_facts(self, host: HostTarget) -> HostFacts:
        """What was read of `host` itself (see `_unless_other_hosts`)."""
        return self._unless_other_hosts(self.observations.host, host)

    def _unless_other_hosts(self, read, *args):
        """SetupError ends a one-host run (one line for all); with several hosts, a host that
        cannot be used is a TargetError of its own targets, and the others go on."""
        try:
            return read(*args)
        except SetupError as exc:
            if len(self.plan.hosts) == 1:
                raise
            raise TargetError(str(exc)) from exc

    def verdict(self, property_id: str, slot: PlannedContainer) -> Verdict:
        """The verdict on one property of the catalogue on one container."""
        prop = BY_ID[property_id]
        pod = slot.target.pod if slot.target is not None else None
        if pod is not None and pod.init:
            return self.judge.waived(self.judge.ran_before(prop, slot.label, pod), None)
        try:
            host, ctr = self.facts(slot)
        except SetupError:
            raise
        except TargetError as exc:
            return self.judge.error(prop, slot.label, str(exc))
        return self.judge.verdict(prop, slot.label, host, ctr)

    def describe_hosts(self) -> dict[str, dict[str, str]]:
        """Each observed host — name, kernel, engines, runtime — for report headers; never probes."""
        described = {}
        for host, facts in self.observations.observed_hosts().items():
            engines = {key.split(":", 1)[1]: r.value for key, r in facts.readings.items()
                       if key.startswith("engine:") and r.readable}
            parts = {name: version for engine in engines.values() for name, version in engine["components"].items()}
            # a node's CRI runtime as it named itself when asked for its pods (one_line: its words)
            cri = dict.fromkeys(f"{one_line(pod.runtime_name, 40)} {one_line(pod.runtime_version, 40)}"
                                for slot in self.plan.containers() if slot.host is host
                                for pod in [slot.target.pod if slot.target else None] if pod is not None)
            described[self.plan.host_label(host)] = {
                "round_trips": host.round_trips,
                "hostname": facts["hostname"].value or "?",
                "kernel": facts["kernel"].value or "?",
                "engine": ", ".join(f"{name} {engine['version']}" for name, engine in engines.items()) or "none used",
                "runtime": ", ".join([*(f"{name} {parts[name]}" for name in ("runc", "crun", "containerd")
                                        if name in parts), *cri]) or "?",
            }
        return described

    def close(self) -> None:
        """Remove the managed containers and end the host connections; safe to call again."""
        self.managed.close()
        for host in self.plan.hosts:
            host.close()
