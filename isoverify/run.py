"""One verification run: hosts, the containers to verify on each, each observed once, and verdicts.

Targets are named before anything starts: test ids must exist at collection
time, so `slots` resolves selections like `docker://*` then (one engine query
per host) and never builds an id from what a target said. The managed
container of each host is started on first use and removed by `close`,
which the plugin calls at session end, on failure and on Ctrl-C.
"""

import re
import secrets
from dataclasses import dataclass

from . import observe
from .observe import ContainerFacts, HostFacts
from .properties import BY_ID, DEFAULT_PROFILE, PROFILES, Verdict, judge
from .targets import (POD, PROCESS, ContainerSpec, ContainerTarget, HostTarget, ManagedContainer, TargetError,
                      UsageError, check_host_url, check_image, check_label, expand_host_urls,
                      explain_engine_failure, parse_container_url, select_containers)
from .verdicts import ERROR
from .waivers import Identity, Waivers

DEFAULT_IMAGE = "busybox:latest"
DEFAULT_ENGINE = "docker"


class SetupError(TargetError):
    """The run as a whole cannot go on (engine down, image missing): one line for all."""


@dataclass(frozen=True)
class Slot:
    """A container to verify: `id` is safe for test ids, `label` is what reports show."""

    id: str
    label: str
    host: HostTarget
    spec: ContainerSpec | None  # None: the container the suite starts itself
    target: ContainerTarget | None = None  # known before the run when named or selected


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:/@-]", "_", text)


class HostState:
    """What a run knows of one host: its facts (or why there are none) and its managed container."""

    def __init__(self):
        self.facts: HostFacts | TargetError | None = None
        self.managed: ManagedContainer | None = None
        self.managed_error: SetupError | None = None


class Run:
    def __init__(self, host_urls: tuple[str, ...] = ("local://",), container_urls: tuple[str, ...] = (),
                 image: str = DEFAULT_IMAGE, profile: str = DEFAULT_PROFILE,
                 timeout: int = observe.DEFAULT_TIMEOUT, labels: tuple[str, ...] = (),
                 waivers: Waivers | None = None, ssh_config: str | None = None,
                 ssh_identity_file: str | None = None, inside: str = "host"):
        if profile not in PROFILES:
            raise UsageError(f"--iso-profile {profile!r}: choose one of {', '.join(PROFILES)}")
        for url in host_urls:
            check_host_url(url)  # usage errors come before any inventory is read
        self.specs = [parse_container_url(url) for url in dict.fromkeys(container_urls)]
        if inside not in observe.INSIDE_PATHS:
            raise UsageError(f"--iso-inside {inside!r}: choose one of {', '.join(observe.INSIDE_PATHS)}")
        if timeout < 1:  # `timeout 0` would wait for ever
            raise UsageError(f"--iso-timeout {timeout}: give a number of seconds, 1 or more")
        self.image, self.profile, self.timeout, self.inside = check_image(image), profile, timeout, inside
        self.labels = tuple(check_label(label) for label in labels)
        self.hosts = [HostTarget(url, ssh_config, ssh_identity_file)
                      for url in dict.fromkeys(expand_host_urls(host_urls))]
        self.waivers = waivers or Waivers([])
        self.session = secrets.token_hex(4)
        self._state = {host.url: HostState() for host in self.hosts}
        self._slots: list[Slot] | None = None
        self._facts: dict[str, ContainerFacts | TargetError] = {}

    def host_label(self, host: HostTarget) -> str:
        """How reports name a host: its URL without the query, unless two hosts differ only there."""
        if sum(other.label == host.label for other in self.hosts) > 1:
            return host.url
        return host.label

    # -- what to verify ------------------------------------------------------------

    def slots(self) -> list[Slot]:
        """Every container to verify on every host; asks the engines once for selections.

        Pods (kubectl://) belong to no host of the run: each is one slot, once.
        """
        if self._slots is None:
            pods = [Slot(_safe_id(spec.url), spec.url, self.hosts[0], spec, spec.target(self.hosts[0]))
                    for spec in self.specs if spec.engine == POD]
            self._slots = [slot for host in self.hosts for slot in self._host_slots(host)] + pods
        return self._slots

    def _host_slots(self, host: HostTarget) -> list[Slot]:
        prefix = f"{_safe_id(self.host_label(host))}/" if len(self.hosts) > 1 else ""
        shown = f"{self.host_label(host)} " if len(self.hosts) > 1 else ""
        if not self.specs:
            return [Slot(f"{prefix}managed", f"{shown}{self.image} (managed)", host, None)]
        slots = []
        for spec in (spec for spec in self.specs if spec.engine != POD):
            if not spec.selects:
                slots.append(Slot(prefix + _safe_id(spec.url), shown + spec.url, host, spec, spec.target(host)))
                continue
            try:
                selected = select_containers(host, spec)
            except TargetError as exc:
                raise SetupError(str(exc)) from exc
            for number, (container_id, name) in enumerate(selected, 1):
                target = ContainerTarget(host, spec.engine, container_id,
                                         label=f"{spec.engine}://{name} ({container_id[:12]})")
                slots.append(Slot(f"{prefix}{_safe_id(spec.url)}#{number}", shown + target.label,
                                  host, spec, target))
        return slots

    # -- observation, once per target ------------------------------------------------

    def _engines(self, host: HostTarget) -> tuple[str, ...]:
        used = {slot.spec.engine if slot.spec else DEFAULT_ENGINE for slot in self.slots() if slot.host is host}
        return tuple(sorted(used - {PROCESS, POD}))

    def container(self, slot: Slot) -> ContainerTarget:
        if slot.target is not None:
            return slot.target
        state = self._state[slot.host.url]
        if state.managed is None:
            state.managed = ManagedContainer(slot.host, DEFAULT_ENGINE, self.image, self.session, self.labels)
            try:
                state.managed.start()
            except TargetError as exc:
                state.managed_error = SetupError(str(exc))
        if state.managed_error is not None:
            raise state.managed_error
        return state.managed.target

    def _observe(self, host: HostTarget) -> None:
        """Observe the host and every container on it, in one round trip, once."""
        state = self._state[host.url]
        if state.facts is not None:
            return
        slots = [slot for slot in self.slots() if slot.host is host and not self._is_pod(slot)]
        try:
            targets = {slot.id: self.container(slot) for slot in slots}
            facts, observed = observe.observe(host, self._engines(host), list(dict.fromkeys(targets.values())),
                                              self.timeout, self.inside)
            for engine in self._engines(host):
                reading = facts[f"engine:{engine}"]
                if reading.rc == 124:
                    raise TargetError(f"the {engine} engine on {host.label} did not answer within "
                                      f"{self.timeout}s (--iso-timeout): is it hung?")
                if not reading.readable:
                    raise TargetError(explain_engine_failure(engine, host, reading.output))
        except TargetError as exc:
            state.facts = exc if isinstance(exc, SetupError) else SetupError(str(exc))
            return
        state.facts = facts
        self._facts.update({slot.id: observed[targets[slot.id]] for slot in slots})

    @staticmethod
    def _is_pod(slot: Slot) -> bool:
        return slot.spec is not None and slot.spec.engine == POD

    def facts(self, slot: Slot) -> tuple[HostFacts, ContainerFacts]:
        if self._is_pod(slot):
            if slot.id not in self._facts:
                try:
                    self._facts[slot.id] = observe.observe_pod(slot.target, self.timeout)
                except TargetError as exc:
                    self._facts[slot.id] = exc
            host = None
        else:
            self._observe(slot.host)
            host = self._state[slot.host.url].facts
            if isinstance(host, TargetError):
                raise host
        facts = self._facts[slot.id]
        if isinstance(facts, TargetError):
            raise facts
        return host, facts

    # -- verdicts ------------------------------------------------------------------

    def enforced(self, property_id: str) -> bool:
        return property_id in PROFILES[self.profile]

    def verdict(self, property_id: str, slot: Slot) -> Verdict:
        """The verdict on one property of one container.

        A host that cannot be used at all (engine down, image missing) ends a
        one-host run with SetupError; with several hosts, its containers' tests
        are errors and the other hosts are still verified.
        """
        prop = BY_ID[property_id]
        try:
            host, ctr = self.facts(slot)
        except SetupError as exc:
            if len(self.hosts) == 1:
                raise
            return Verdict(prop, slot.label, ERROR, self.enforced(property_id), str(exc))
        except TargetError as exc:
            return Verdict(prop, slot.label, ERROR, self.enforced(property_id), str(exc))
        verdict = judge(prop, slot.label, self.enforced(property_id), host, ctr)
        identity = Identity.of(slot.label, ctr.declared)
        return verdict.under(self.waivers.matching(property_id, identity), self.waivers.today)

    def describe_hosts(self) -> dict[str, dict[str, str]]:
        """Each observed host — name, kernel, engines, runtime — for report headers; never probes."""
        described = {}
        for host in self.hosts:
            facts = self._state[host.url].facts
            if not isinstance(facts, HostFacts):
                continue
            engines = {key.split(":", 1)[1]: r.value for key, r in facts.readings.items()
                       if key.startswith("engine:") and r.readable}
            parts = {name: version for engine in engines.values() for name, version in engine["components"].items()}
            described[self.host_label(host)] = {
                "round_trips": host.round_trips,
                "hostname": facts["hostname"].value or "?",
                "kernel": facts["kernel"].value or "?",
                "engine": ", ".join(f"{name} {engine['version']}" for name, engine in engines.items()) or "none used",
                "runtime": ", ".join(f"{name} {parts[name]}" for name in ("runc", "crun", "containerd")
                                     if name in parts) or "?",
            }
        return described

    def close(self) -> None:
        """Remove the managed containers and end the host connections; safe to call again."""
        for host in self.hosts:
            state = self._state[host.url]
            if state.managed is not None:
                state.managed.remove()
                state.managed = None
            host.close()
