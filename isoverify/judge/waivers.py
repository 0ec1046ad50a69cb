"""Waivers: accepted failures, each with a reason, an owner and an expiry date.

A waived failure is reported as `waived`, never as a pass. A waiver selects
containers by the container's ID, its image's ID, a label the operator set on
it (not one its image carries), or by a glob over target labels, which are
names whoever starts a container chooses; when it gives several selectors,
all must match. Only a container ID selects one container: a waiver pinned
to anything else covers every container that carries it, whatever flags it
was started with, so it must name in `accept` the findings it accepts, and
waives a failure only when every finding of it is accepted. An expired
waiver waives nothing and says so; a waiver that matches no property on any
target is reported, so that stale ones get noticed. The file is TOML or YAML:

    [[waiver]]                              waivers:
    property = "caps"                         - property: caps
    image = "sha256:4c5e…"                      image: "sha256:4c5e…"
    accept = ["NET_ADMIN"]                      accept: [NET_ADMIN]
    reason = "needs NET_ADMIN"                  reason: needs NET_ADMIN
    owner = "net-team@example.com"              owner: net-team@example.com
    expires = 2027-03-31                        expires: 2027-03-31
"""

import datetime
import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from isoverify.errors import WaiverError
from isoverify.model import cut

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib  # type: ignore[no-redef]

REQUIRED = ("property", "reason", "owner", "expires")
PINS = ("container", "image", "label")  # what the engine, the image's content or the operator decides
SELECTORS = PINS + ("target",)
# The properties whose failures name findings (Finding.items) that `accept` can list; a
# failure of any other can be waived only by a waiver pinned to the container itself.
NAMING_FINDINGS = frozenset({"caps", "seccomp", "host-mounts", "runtime-socket", "devices", "masked-paths",
                             "readonly-paths", "propagation"})
FIELDS = REQUIRED + SELECTORS + ("accept",)
TEXT_FIELDS = ("property", "reason", "owner") + SELECTORS
ANY_TARGET = "*"
PIN_FORMATS = {
    "container": (re.compile(r"[0-9a-f]{12,64}"),
                  "a container ID: 12 to 64 lowercase hex digits of `docker ps --no-trunc`"),
    "image": (re.compile(r"sha256:[0-9a-f]{64}"),
              "an image ID: sha256: and 64 hex digits, as `docker inspect -f '{{.Image}}' CONTAINER` shows it"),
    "label": (re.compile(r"[^=\s]+=.*"), "a label as KEY=VALUE"),
}


@dataclass(frozen=True)
class Identity:
    """What waivers match a target against: its label, which whoever starts the container
    chooses, and what its engine says it is (nothing, where there is no engine: pid://)."""

    target: str
    container: str | None = None  # the full ID
    image: str | None = None  # sha256:<64 hex>
    labels: Mapping[str, str] = field(default_factory=dict)  # the ones the operator set, whole

    @classmethod
    def of(cls, target: str, inspect: dict | None) -> "Identity":
        """From the engine's inspect document as facts.Containers reads it; podman writes the
        image ID without `sha256:`. A label counts only as its operator set it: one cut where
        it was read does not, nor one its image carries with the same value (its author's
        choice), nor any where the image's labels could not all be read."""
        if not inspect:
            return cls(target)
        image = inspect.get("Image") or None
        if image and re.fullmatch(r"[0-9a-f]{64}", image):
            image = f"sha256:{image}"
        labels = (inspect.get("Config") or {}).get("Labels") or {}
        baked = inspect.get("ImageLabels")
        operators = {} if baked is None else {key: value for key, value in labels.items()
                                              if not cut(key) and not cut(value) and baked.get(key) != value}
        return cls(target, inspect.get("Id") or None, image, operators)


@dataclass(frozen=True)
class Waiver:
    property: str
    reason: str
    owner: str
    expires: datetime.date
    line: int
    target: str = ANY_TARGET  # a glob over target labels, e.g. docker://web-*
    container: str | None = None  # a container ID, or a prefix of it of 12 hex digits or more
    image: str | None = None  # sha256:<64 hex>
    label: str | None = None  # KEY=VALUE
    accept: tuple[str, ...] | None = None  # the findings it accepts; None: the whole failure

    def selects(self, who: Identity) -> bool:
        """Whether every selector it gives matches: a pin never matches a target without an engine."""
        key, _, value = (self.label or "").partition("=")
        return (fnmatch.fnmatchcase(who.target, self.target)
                and (self.container is None or (who.container or "").startswith(self.container))
                and (self.image is None or who.image == self.image)
                and (self.label is None or who.labels.get(key) == value))

    def matches(self, property_id: str, who: Identity) -> bool:
        return self.property == property_id and self.selects(who)

    def expired(self, today: datetime.date) -> bool:
        return today > self.expires

    def declines(self, findings: tuple[str, ...], today: datetime.date) -> str | None:
        """Why it does not waive a failure with these findings; None when it does."""
        if self.expired(today):
            return f"waiver expired on {self.expires}: {self.reason}; owner {self.owner}"
        if self.accept is None:
            return None
        accepts = f"waiver at line {self.line} accepts {', '.join(self.accept)} only"
        if not findings:
            return f"{accepts}, and this failure names no finding to compare"
        beyond = [finding for finding in findings if finding not in self.accept]
        return f"{accepts}; not accepted: {', '.join(beyond)}" if beyond else None

    def as_record(self, today: datetime.date) -> dict:
        return {"property": self.property, "target": self.target, "container": self.container,
                "image": self.image, "label": self.label,
                "accept": list(self.accept) if self.accept is not None else None,
                "reason": self.reason, "owner": self.owner, "expires": self.expires.isoformat(),
                "expired": self.expired(today), "line": self.line}


def selection(record: dict) -> str:
    """What a waiver record selects, as reports say it: each selector it gives."""
    given = [f"{name} {record[name]}" for name in PINS if record[name] is not None]
    if record["target"] != ANY_TARGET or not given:
        given.append(f"target {record['target']}")
    return " and ".join(given)


def _toml_error(path: Path, message: str) -> str:
    """tomllib ends its messages with `(at line N, column M)`: put the line where the others have it."""
    found = re.fullmatch(r"(.*) \(at line (\d+), column \d+\)", message, re.DOTALL)
    return f"{path}:{found[2]}: {found[1]}" if found else f"{path}: {message}"


def _entries_toml(text: str, path: Path) -> list[tuple[dict, int]]:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WaiverError(_toml_error(path, str(exc))) from None
    lines = [n + 1 for n, line in enumerate(text.splitlines()) if re.match(r"\s*\[\[\s*waiver\s*\]\]", line)]
    entries = document.get("waiver", [])
    if set(document) - {"waiver"} or not isinstance(entries, list) or len(entries) != len(lines):
        raise WaiverError(f"{path}:1: expected only [[waiver]] tables")
    return list(zip(entries, lines))


def _expiry(value, where: str) -> datetime.date:
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value)
        except ValueError:
            raise WaiverError(f"{where}: expires {value!r} is not a date (YYYY-MM-DD)") from None
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not isinstance(value, datetime.date):
        raise WaiverError(f"{where}: expires must be a date (YYYY-MM-DD)")
    return value


def _waiver(entry, line: int, path: Path, known: set[str] | None) -> Waiver:
    where = f"{path}:{line}"
    if not isinstance(entry, dict):
        raise WaiverError(f"{where}: a waiver is a table of {', '.join(FIELDS)}")
    missing = [name for name in REQUIRED if entry.get(name) in (None, "")]
    unknown = sorted(str(name) for name in entry if name not in FIELDS)
    if missing or unknown:
        raise WaiverError(f"{where}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else [])
            + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
    for name in TEXT_FIELDS:
        if name in entry and not (isinstance(entry[name], str) and entry[name]):
            raise WaiverError(f"{where}: {name} must be a non-empty string, not {entry[name]!r}")
    if not any(name in entry for name in SELECTORS):
        raise WaiverError(f"{where}: no selector: give container, image or label (or a target glob); "
                          "when several are given, all must match")
    if known is not None:
        check_property(entry["property"], where, known)
    for name, (pattern, what) in PIN_FORMATS.items():
        if name in entry and not pattern.fullmatch(entry[name]):
            raise WaiverError(f"{where}: {name} {entry[name]!r} is not {what}")
    accept = entry.get("accept")
    if "accept" in entry and not (isinstance(accept, list) and accept
                                  and all(isinstance(item, str) and item for item in accept)):
        raise WaiverError(f"{where}: accept must be a list of the findings it accepts, "
                          f"e.g. [\"NET_ADMIN\"], not {accept!r}")
    if accept is None and "container" not in entry:
        raise WaiverError(f"{where}: {_shared(entry)}" + (
            f"; {entry['property']} names no findings, so only a container pin can waive it"
            if entry["property"] not in NAMING_FINDINGS else ""))
    return Waiver(entry["property"], entry["reason"], entry["owner"], _expiry(entry["expires"], where), line,
                  entry.get("target", ANY_TARGET), entry.get("container"), entry.get("image"), entry.get("label"),
                  tuple(accept) if accept is not None else None)


def _shared(entry: dict) -> str:
    """Why a waiver pinned to what more than one container carries needs `accept`."""
    pinned = " and ".join(f"{name} {entry[name]}" for name in SELECTORS if name in entry)
    return (f"a waiver pinned to {pinned} covers every container that matches it, whatever it runs with: "
            "add accept = [...] naming the findings it accepts, or pin it to the container's ID (container = ...)")


def check_property(property_id: str, where: str, known: set[str]) -> None:
    if property_id not in known:
        raise WaiverError(f"{where}: no property {property_id!r}; known: {', '.join(sorted(known))}")


def load(path: Path, known_properties: set[str] | None) -> list[Waiver]:
    """Read and check a waiver file: TOML unless its name ends in .yaml or .yml. With
    `known_properties` None, the property IDs are checked later (`Waivers.check`), once
    the checks of the user's own are known too."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise WaiverError(f"{path}: cannot read it ({exc})") from None
    if path.suffix in (".yaml", ".yml"):
        from isoverify.judge.waivers_yaml import entries as read  # PyYAML takes a moment to load: only for such a file
    else:
        read = _entries_toml
    return [_waiver(entry, line, path, known_properties) for entry, line in read(text, path)]


@dataclass
class Waivers:
    """The waivers of one run."""

    waivers: list[Waiver]
    today: datetime.date = field(default_factory=datetime.date.today)
    path: Path | None = None  # the file they came from

    def check(self, known: set[str]) -> None:
        """Every waiver names a property of this run (WaiverError naming the line if not)."""
        for waiver in self.waivers:
            check_property(waiver.property, f"{self.path}:{waiver.line}", known)

    def matching(self, property_id: str, who: Identity) -> list[Waiver]:
        """Every waiver for this property on this target, in the file's order."""
        return [w for w in self.waivers if w.matches(property_id, who)]

    def unmatched(self, matched_lines: set[int]) -> list[Waiver]:
        """Waivers that matched no judged property on any target: stale, or mistyped."""
        return [w for w in self.waivers if w.line not in matched_lines]
