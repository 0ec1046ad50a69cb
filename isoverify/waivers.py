"""Waivers: accepted failures, each with a reason, an owner and an expiry date.

A waived failure is reported as `waived`, never as a pass. An expired waiver
waives nothing and says so; a waiver that matches no property on any target
is reported, so that stale ones get noticed. The file is TOML or YAML:

    [[waiver]]                        waivers:
    property = "caps"                   - property: caps
    target = "docker://vpn-*"             target: "docker://vpn-*"
    reason = "needs NET_ADMIN"            reason: needs NET_ADMIN
    owner = "net-team@example.com"        owner: net-team@example.com
    expires = 2027-03-31                  expires: 2027-03-31
"""

import datetime
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ("property", "target", "reason", "owner", "expires")


class WaiverError(ValueError):
    """A waiver file the suite cannot use; the message names the file and the line."""


@dataclass(frozen=True)
class Waiver:
    property: str
    target: str  # a glob over target labels, e.g. docker://web-*
    reason: str
    owner: str
    expires: datetime.date
    line: int

    def matches(self, property_id: str, target: str) -> bool:
        return self.property == property_id and fnmatch.fnmatchcase(target, self.target)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    def as_record(self, today: datetime.date) -> dict:
        return {"property": self.property, "target": self.target, "reason": self.reason,
                "owner": self.owner, "expires": self.expires.isoformat(),
                "expired": self.expired(today), "line": self.line}


def _entries_toml(text: str, path: Path) -> list[tuple[dict, int]]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(f"{path}: {exc}") from None
    lines = [n + 1 for n, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*waiver\s*\]\]", line)]
    entries = document.get("waiver", [])
    if set(document) - {"waiver"} or not isinstance(entries, list):
        raise WaiverError(f"{path}:1: expected only [[waiver]] tables")
    return list(zip(entries, lines))


def _entries_yaml(text: str, path: Path) -> list[tuple[dict, int]]:
    import yaml
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise WaiverError(f"{path}{where}: {getattr(exc, 'problem', None) or exc}") from None
    if document is None:
        return []
    if not isinstance(document, dict) or set(document) != {"waivers"} or not isinstance(document["waivers"], list):
        raise WaiverError(f"{path}:1: expected a top-level `waivers:` list")
    nodes = next(value for key, value in root.value if key.value == "waivers").value
    return [(entry, node.start_mark.line + 1) for entry, node in zip(document["waivers"], nodes)]


def _waiver(entry, line: int, path: Path, known: set[str]) -> Waiver:
    where = f"{path}:{line}"
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}: a waiver is a table of {', '.join(FIELDS)}")
    missing = [name for name in FIELDS if entry.get(name) in (None, "")]
    unknown = sorted(set(entry) - set(FIELDS))
    if missing or unknown:
        raise WaiverError(f"{where}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
    if entry["property"] not in known:
        raise WaiverError(f"{where}: no property {entry['property']!r}; known: {', '.join(sorted(known))}")
    expires = entry["expires"]
    if isinstance(expires, str):
        try:
            expires = datetime.date.fromisoformat(expires)
        except ValueError:
            raise WaiverError(f"{where}: expires {expires!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(expires, datetime.datetime):
        expires = expires.date()
    if not isinstance(expires, datetime.date):
        raise WaiverError(f"{where}: expires must be a date (YYYY-MM-DD)")
    return Waiver(str(entry["property"]), str(entry["target"]), str(entry["reason"]), str(entry["owner"]),
                  expires, line)


def load(path: Path, known_properties: set[str]) -> list[Waiver]:
    """Read and check a waiver file: TOML unless its name ends in .yaml or .yml."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}: cannot read it ({exc})") from None
    read = _entries_yaml if path.suffix in (".yaml", ".yml") else _entries_toml
    return [_waiver(entry, line, path, known_properties) for entry, line in read(text, path)]


@dataclass
class Waivers:
    """The waivers of one run."""

    waivers: list[Waiver]
    today: datetime.date = field(default_factory=datetime.date.today)

    def find(self, property_id: str, target: str) -> Waiver | None:
        """The first waiver for this property on this target."""
        return next((w for w in self.waivers if w.matches(property_id, target)), None)

    def unmatched(self, judged: set[tuple[str, str]]) -> list[Waiver]:
        """Waivers that match none of the judged (property, target) pairs: stale, or mistyped."""
        return [w for w in self.waivers if not any(w.matches(p, t) for p, t in judged)]
