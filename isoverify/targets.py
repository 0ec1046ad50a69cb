"""How a machine or a container is reached.

Hosts are testinfra hosts (`local://`, `ssh://…`). Containers are reached
*through* their host: the host runs the engine's CLI (`docker exec …`), so
the containers of a remote host are checked over the same connection as the
host itself, and no engine is ever asked from the machine running pytest.
"""

import re
import shlex
from dataclasses import dataclass

import testinfra

LABEL = "io.isoverify.suite"
SESSION_LABEL = "io.isoverify.session"
ENGINES = ("docker", "podman")
PROCESS = "pid"  # pid://PID: any process as a container, entered with nsenter
HOST_SCHEMES = ("local", "ssh", "safe-ssh", "paramiko", "ansible")
_CONTAINER_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}=[A-Za-z0-9_.:/@-]{0,128}")


class UsageError(ValueError):
    """A target named in a way the suite cannot use; the message says how to name it."""


class TargetError(Exception):
    """A target that cannot be reached or observed; the message names the fix."""


class HostTarget:
    """A machine, reached through a testinfra connection."""

    def __init__(self, url: str):
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in HOST_SCHEMES:
            raise UsageError(
                f"--iso-host {url!r}: unknown host URL; use one of "
                + ", ".join(f"{s}://" for s in HOST_SCHEMES)
            )
        self.url = url
        self.round_trips = 0  # commands run on the host: what batching keeps small
        self._testinfra = None

    def __repr__(self):
        return f"HostTarget({self.url!r})"

    @property
    def label(self) -> str:
        return self.url.split("?", 1)[0]

    def run(self, command: str) -> tuple[int, bytes, bytes]:
        """Run a shell command on the host: (exit status, stdout, stderr)."""
        self.round_trips += 1
        try:
            if self._testinfra is None:
                self._testinfra = testinfra.get_host(self.url)
            result = self._testinfra.run(command)
        except Exception as exc:  # any backend's way of saying "unreachable"
            raise TargetError(f"cannot run commands on {self.label}: {exc}") from exc
        return result.rc, result.stdout_bytes, result.stderr_bytes


@dataclass(frozen=True)
class ContainerTarget:
    """A container of `host`, named to its engine by `ref` (name or ID)."""

    host: HostTarget
    engine: str  # docker, podman, or "pid" for a bare process
    ref: str
    label: str

    @property
    def has_engine(self) -> bool:
        return self.engine != PROCESS

    def exec_command(self, command: str) -> str:
        """A host command line that runs `command` inside the container, stdin attached."""
        if not self.has_engine:
            return f"nsenter -t {int(self.ref)} -a {command}"
        return f"{self.engine} exec -i {shlex.quote(self.ref)} {command}"


def container_from_url(url: str, host: HostTarget) -> ContainerTarget:
    scheme, sep, ref = url.partition("://")
    if not sep or scheme not in ENGINES + (PROCESS,):
        raise UsageError(
            f"--iso-container {url!r}: unknown container URL; use "
            + ", ".join(f"{e}://NAME-or-ID" for e in ENGINES) + f" or {PROCESS}://PID"
        )
    if scheme == PROCESS and not (ref.isdigit() and int(ref) > 0):
        raise UsageError(f"--iso-container {url!r}: {ref!r} is not a process ID")
    if not _CONTAINER_REF.fullmatch(ref):
        raise UsageError(f"--iso-container {url!r}: {ref!r} is not a container name or ID")
    return ContainerTarget(host, scheme, ref, label=url)


def check_label(label: str) -> str:
    """An extra label for the managed container, as KEY=VALUE with shell-safe characters."""
    if not _LABEL.fullmatch(label) or label.startswith(LABEL):
        raise UsageError(f"--iso-label {label!r}: use KEY=VALUE (letters, digits, . _ - : / @), "
                         f"not under {LABEL}")
    return label


def explain_engine_failure(cli: str, host: HostTarget, output: str) -> str:
    """One line saying why the engine refused, and what fixes it."""
    detail = " ".join(output.split())[:200]
    lowered = output.lower()
    if "permission denied" in lowered and "socket" in lowered:
        return (f"not allowed to talk to the {cli} engine on {host.label}: run as root, "
                f"or with ?sudo=true in the --iso-host URL ({detail})")
    if ("cannot connect" in lowered or "is the docker daemon running" in lowered
            or "connection refused" in lowered or "no such file or directory" in lowered
            and ".sock" in lowered):
        return (f"the {cli} engine on {host.label} does not answer: start it "
                f"(`sudo ci/setup.sh` here, or `systemctl start {cli}`) ({detail})")
    if "not found" in lowered and cli in ("docker", "podman") and "command" in lowered:
        return f"no `{cli}` command on {host.label}: install the engine (`sudo ci/setup.sh`)"
    return f"{cli} on {host.label} failed: {detail}"


class ManagedContainer:
    """The container the suite starts itself, as in the lesson's `docker run -it busybox`:
    the image's shell as PID 1 with a tty, labelled as the suite's, removed at the end.
    """

    def __init__(self, host: HostTarget, engine: str, image: str, session: str,
                 labels: tuple[str, ...] = ()):
        self.host, self.engine, self.image, self.session = host, engine, image, session
        self.labels = labels
        self.name = f"isoverify-{session}"
        self.target: ContainerTarget | None = None

    def start(self) -> ContainerTarget:
        command = (
            f"{self.engine} run -d -i -t --name {self.name} "
            f"--label {LABEL}=managed --label {SESSION_LABEL}={self.session} "
            + "".join(f"--label {label} " for label in self.labels)
            + f"{shlex.quote(self.image)} 2>&1"
        )
        rc, out, _ = self.host.run(command)
        if rc != 0:
            self.remove()
            raise TargetError(self._explain(out.decode("utf-8", "replace")))
        self.target = ContainerTarget(self.host, self.engine, self.name,
                                      label=f"{self.image} (managed)")
        return self.target

    def remove(self) -> None:
        """Remove the container whether or not `start` finished: by its unique name."""
        self.host.run(f"{self.engine} rm -f {self.name} >/dev/null 2>&1")

    def _explain(self, output: str) -> str:
        lowered = output.lower()
        if "unable to find image" in lowered or "no such image" in lowered:
            return (f"image {self.image} is not on {self.host.label} and no registry answered: "
                    "build busybox offline with `sudo ci/setup.sh`, or pass --iso-image")
        if "no command specified" in lowered or "executable file not found" in lowered:
            return (f"image {self.image} has no shell to start as in the lesson's `docker run -it`; "
                    "pass an image with /bin/sh as --iso-image, or name a running container")
        return explain_engine_failure(self.engine, self.host, output)
