"""The facts a check sees: what one probe read of a host, and of one container on it.

Plain data, importing neither the shell nor pytest: every property, and every check
of your own, is a function of these.
"""

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

from .facts import Reading

if TYPE_CHECKING:  # how the machines were reached; only named here
    from .targets import ContainerTarget, HostTarget


@dataclass(frozen=True)
class HostFacts:
    target: "HostTarget"
    readings: dict[str, Reading]
    _derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __getitem__(self, name: str) -> Reading:
        return self.readings[name]

    def derive(self, compute: Callable[["HostFacts"], Any]) -> Any:
        """compute(self), computed once: what every container's checks derive from the host's
        facts alone (its mounts and processes grow with every container)."""
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        return self._derived[compute]


@dataclass(frozen=True)
class ContainerFacts:
    target: "ContainerTarget"
    outside: dict[str, Reading]  # empty: no host can read this container (a pod seen by kubectl)
    inside: dict[str, Reading] | None
    inside_error: str  # why the inside view is missing, or how it was read instead
    declared: dict | None = None  # the engine's inspect document, where there is an engine
    inside_by_host: bool = False  # the inside view was read by the host, not said by the container

    @property
    def pid(self) -> int:
        """The container's main process, as the host numbers it."""
        return self.outside["locate"].value

    def others(self) -> list["ContainerFacts"] | None:
        """The same container, once for each of its other processes and threads: what judging
        one task needs, read of that task (a container is as weak as its weakest);
        None when they could not be found."""
        members = self.outside.get("members")
        if members is None or not members.readable:
            return None
        views = []
        for member in members.value:
            proc = member.proc
            what = f"process {member.pid}" if proc == f"/proc/{member.pid}" else \
                f"thread {member.pid} of process {member.process}"
            readings = {
                "locate": Reading(f"{what} of the container", member.pid, 0, int(member.pid)),
                "status": Reading(f"cat {proc}/status", "", 0, member.status),
                "ns": Reading(f"ls -l {proc}/ns/", "", 0, member.namespaces),
                "root_id": Reading(f"stat -L -c %d:%i {proc}/root/", member.root_id, 0, member.root_id or None),
                "uid_map": Reading(f"cat {proc}/uid_map", "", 0, member.uid_map or None),
                "label": Reading(f"cat {proc}/attr/current", member.label, 0, member.label),
            }
            views.append(replace(self, outside={**self.outside, **readings}, inside=None,
                                 inside_error="another process of the container: its own view is not read"))
        return views
