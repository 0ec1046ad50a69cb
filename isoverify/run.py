"""One verification run: the containers to verify, each observed once, and their verdicts.

Targets are named before anything starts (test ids must exist at collection
time); the managed container is started on first use and removed by
`close`, which the plugin calls at session end, on failure and on Ctrl-C.
"""

import re
import secrets
from dataclasses import dataclass

from . import observe
from .observe import ContainerFacts, HostFacts
from .properties import BY_ID, DEFAULT_PROFILE, ERROR, PROFILES, Verdict, judge
from .targets import (ContainerTarget, HostTarget, ManagedContainer, TargetError, UsageError,
                      check_label, container_from_url, explain_engine_failure)
from .waivers import Waivers

DEFAULT_IMAGE = "busybox:latest"
DEFAULT_ENGINE = "docker"


class SetupError(TargetError):
    """The run as a whole cannot go on (engine down, image missing): one line for all."""


@dataclass(frozen=True)
class Slot:
    """A container to verify, as the user named it; `id` is safe for test ids."""

    id: str
    label: str
    host: HostTarget
    url: str | None  # None: the container the suite starts itself


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:/@-]", "_", text)


class Run:
    def __init__(self, host_url: str = "local://", container_urls: tuple[str, ...] = (),
                 image: str = DEFAULT_IMAGE, profile: str = DEFAULT_PROFILE,
                 timeout: int = observe.DEFAULT_TIMEOUT, labels: tuple[str, ...] = (),
                 waivers: Waivers | None = None):
        if profile not in PROFILES:
            raise UsageError(f"--iso-profile {profile!r}: choose one of {', '.join(PROFILES)}")
        self.host = HostTarget(host_url)
        self.image, self.profile, self.timeout = image, profile, timeout
        self.labels = tuple(check_label(label) for label in labels)
        self.waivers = waivers or Waivers([])
        self.session = secrets.token_hex(4)
        self._named = {url: container_from_url(url, self.host) for url in container_urls}
        self.slots = [Slot(_safe_id(url), url, self.host, url) for url in self._named] or \
            [Slot("managed", f"{image} (managed)", self.host, None)]
        self._managed: ManagedContainer | None = None
        self._host_facts: HostFacts | SetupError | None = None
        self._facts: dict[str, ContainerFacts | TargetError] = {}

    # -- observation, once per target ---------------------------------------

    def host_facts(self) -> HostFacts:
        if self._host_facts is None:
            try:
                facts = observe.observe_host(self.host, DEFAULT_ENGINE, self.timeout)
                if not facts["engine"].readable:
                    raise TargetError(explain_engine_failure(
                        DEFAULT_ENGINE, self.host, facts["engine"].output))
                self._host_facts = facts
            except TargetError as exc:
                self._host_facts = SetupError(str(exc))
        if isinstance(self._host_facts, SetupError):
            raise self._host_facts
        return self._host_facts

    def container(self, slot: Slot) -> ContainerTarget:
        if slot.url is not None:
            return self._named[slot.url]
        if self._managed is None:
            self._managed = ManagedContainer(self.host, DEFAULT_ENGINE, self.image, self.session,
                                             self.labels)
            try:
                self._managed.start()
            except TargetError as exc:
                raise SetupError(str(exc)) from exc
        return self._managed.target

    def facts(self, slot: Slot) -> tuple[HostFacts, ContainerFacts]:
        host = self.host_facts()
        if slot.id not in self._facts:
            try:
                self._facts[slot.id] = observe.observe_container(self.container(slot), self.timeout)
            except SetupError:
                raise
            except TargetError as exc:
                self._facts[slot.id] = exc
        facts = self._facts[slot.id]
        if isinstance(facts, TargetError):
            raise facts
        return host, facts

    # -- verdicts --------------------------------------------------------------

    def enforced(self, property_id: str) -> bool:
        return property_id in PROFILES[self.profile]

    def verdict(self, property_id: str, slot: Slot) -> Verdict:
        """The verdict on one property of one container; raises SetupError only."""
        prop = BY_ID[property_id]
        waiver = self.waivers.find(property_id, slot.label)
        try:
            host, ctr = self.facts(slot)
        except SetupError:
            raise
        except TargetError as exc:
            return Verdict(prop, slot.label, ERROR, self.enforced(property_id), str(exc))
        verdict = judge(prop, slot.label, self.enforced(property_id), host, ctr)
        return verdict.waived(waiver.as_record(self.waivers.today)) if waiver else verdict

    def describe_host(self) -> dict[str, str]:
        """The host as this run saw it — name, kernel, engine, runtime — for report headers.

        Never probes: a run that observed nothing describes nothing.
        """
        if not isinstance(self._host_facts, HostFacts):
            return {}
        facts = self._host_facts
        engine = facts["engine"].value
        parts = engine["components"]
        return {
            "hostname": facts["hostname"].value or "?",
            "kernel": facts["kernel"].value or "?",
            "engine": f"{DEFAULT_ENGINE} {engine['version']}",
            "runtime": ", ".join(f"{name} {parts[name]}" for name in ("runc", "containerd", "crun")
                                 if name in parts) or "?",
        }

    def close(self) -> None:
        """Remove the managed container, if one was (being) started; safe to call again."""
        if self._managed is not None:
            self._managed.remove()
            self._managed = None
