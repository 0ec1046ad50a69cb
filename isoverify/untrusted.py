"""Text that came from a target is untrusted: decode it safely and bound it.

A container decides what its commands print: markup, terminal escapes,
invalid UTF-8, gigabytes. Everything read from a target passes through
`decode` before anything parses it, and through `bounded` before anything
shows it; HTML escaping is the report's job, at the moment it renders.
"""

import re

# C0 and C1 controls except tab and newline (they move a terminal's cursor,
# hide text or end a line early) and the bidirectional overrides (they make
# text read differently from what it is): none has a place in evidence.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

SHOWN_CHARS = 4000


def decode(data: bytes) -> str:
    """Bytes from a target as text: invalid UTF-8 replaced, controls shown as `?`."""
    return _CONTROL.sub("?", data.decode("utf-8", errors="replace"))


def bounded(text: str, limit: int = SHOWN_CHARS) -> str:
    """At most `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [{len(text) - limit} more characters not shown]"


def one_line(text: str, limit: int = 200) -> str:
    """A target's words squeezed into one bounded line, for messages."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
