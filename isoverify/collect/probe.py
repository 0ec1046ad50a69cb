"""One batched probe: many shell commands in one round trip to a target.

Each command's output is framed by marker lines that carry a fresh random
nonce, and the parser accepts the markers only in exactly the order the
script emits them. A command cannot pass its output off as another's: a
forged marker is either unguessable or a duplicate, and a duplicate makes
the whole probe an error, never a quiet success. The total output is cut at
`OUTPUT_LIMIT` bytes by the trusted side, so a flooding target costs memory
no more than that; a cut probe is an error too.
"""

import re
import secrets
from dataclasses import dataclass

from isoverify.untrusted import decode, one_line

OUTPUT_LIMIT = 40 * 1024 * 1024
MARK = "@@isoverify"


class ProbeError(Exception):
    """The probe ran but its output cannot be trusted to say what was read."""


@dataclass(frozen=True)
class Section:
    """What one command printed (stdout and stderr) and how it exited."""

    output: str
    rc: int


def section(name: str, command: str, nonce: str) -> str:
    """One command framed by markers; `name` may use shell parameters (`c$1.ns`).

    The markers are assembled by printf at run time, so the script's own text
    (which a container's `ps` may show) never contains one.
    """
    mark = MARK.lstrip("@")
    return (f"printf '\\n@@%s:%s:begin:%s\\n' {mark} {nonce} \"{name}\"\n"
            f"{{ {command}\n}} </dev/null 2>&1\n"
            f"printf '\\n@@%s:%s:rc:%s\\n' {mark} {nonce} \"$?\"")


def script(commands: dict[str, str], nonce: str, preludes: tuple[str, ...] = ()) -> str:
    """A POSIX sh script running each command, its output framed by markers.

    `preludes` (shell functions the commands use) are defined once, first.
    """
    lines = list(dict.fromkeys(p for p in preludes if p))
    lines += [section(name, command, nonce) for name, command in commands.items()]
    return "\n".join(lines) + "\n"


def new_nonce() -> str:
    return secrets.token_hex(12)


def command_line(runner: str, script_text: str, nonce: str, timeout: int, limit: int = OUTPUT_LIMIT) -> str:
    """A host command line feeding `script_text` to `runner` (a shell reading stdin).

    The script goes in on stdin, not on a command line a container could
    read; the output is cut at OUTPUT_LIMIT bytes by the host's own `head`;
    stderr carries nothing but the exit status line, so nothing the probed
    side prints can be mistaken for it.
    """
    end = f"ISOVERIFY_{nonce}"
    mark = MARK.lstrip("@")
    return (
        f"{{ timeout -k 5 {int(timeout)} {runner} 2>&1 <<'{end}'\n{script_text}{end}\n"
        f"printf '@@%s:%s:exit:%s\\n' {mark} {nonce} \"$?\" >&2; }} | head -c {int(limit)}"
    )


def exit_status(stderr: bytes, nonce: str) -> int | None:
    found = re.search(rf"{MARK}:{nonce}:exit:(\d+)".encode(), stderr)
    return int(found.group(1)) if found else None


def parse(output: bytes, nonce: str, names: list[str], limit: int = OUTPUT_LIMIT) -> dict[str, Section]:
    """Split a probe's output into its sections, or raise ProbeError."""
    if len(output) >= limit:
        raise ProbeError(f"output exceeded {limit} bytes and was cut")
    marker = re.compile(rb"\n?" + re.escape(f"{MARK}:{nonce}:".encode()) + rb"([a-z]+):([^\n]*)\n")
    expected = [("begin", name) for name in names]
    sections: dict[str, Section] = {}
    position = 0
    current = None
    for found in marker.finditer(output):
        kind, value = found.group(1).decode(), decode(found.group(2))
        before = output[position:found.start()]
        if current is None:
            if not expected or (kind, value) != expected[0]:
                raise ProbeError(f"unexpected marker {kind}:{one_line(value, 40)} in the output")
            if before.strip():
                raise ProbeError(f"output before the first command: {one_line(decode(before))}")
            current = expected.pop(0)[1]
        else:
            if kind != "rc" or not value.isdigit():
                raise ProbeError(f"section {current} was not closed cleanly; output tampered with?")
            sections[current] = Section(decode(before), int(value))
            current = None
        position = found.end()
    if current is not None or expected:
        missing = current or expected[0][1]
        raise ProbeError(f"the probe stopped before finishing section {missing}")
    if output[position:].strip():
        raise ProbeError("output after the last section; output tampered with?")
    return sections
