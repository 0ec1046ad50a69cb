"""The run as an OSCAL assessment results document (JSON), for the tools that collect evidence.

Built with compliance-trestle's models of NIST's OSCAL schema, which check every
field as it is made, so that what is written validates. As a GRC tool reads it:

- one observation per record (a property judged on a target, with its evidence),
  advisories included: what the profile does not enforce is observed, nothing more;
- one risk per enforced property that does not hold: open for a failure, and for a
  waived one `deviation-approved`, the waiver in its log and its expiry the deadline;
- one finding per control the profile enforces and target, from the enforced
  properties evidencing it there alone: satisfied only when every one passes, so a
  run that exits 0 without a waiver is satisfied for every one; a waived failure is
  not satisfied, its deviation approved (the finding's remarks and its risk say so).

Hosts and containers are the subjects, as inventory items. OSCAL's text fields are
Markdown: what a target said is escaped or fenced as code, so that no tool that
renders them turns it into markup.
"""

import datetime
import re
import uuid
from pathlib import Path

from trestle.oscal import OSCAL_VERSION
from trestle.oscal import common as oscal
from trestle.oscal.assessment_results import AssessmentResults, ImportAp, LocalDefinitions1, Result

from isoverify.judge.frameworks import CIS_DOCKER, NIST_800_190, POD_SECURITY
from isoverify.judge.guidance import RUNTIMES
from isoverify.judge.words import ERROR, FAIL, PASS, WAIVED, worst

NS = "urn:isoverify:oscal"  # names the props isoverify defines
# Stable UUIDs for what is the same across runs (a host, a container, a control's finding target).
SUBJECTS = uuid.UUID("5b8e3f52-3c1f-4a0e-9d5e-7a1f0c2b6d41")
CONTROL_PREFIXES = {CIS_DOCKER.name: "cis-docker-", NIST_800_190.name: "nist-800-190-",
                    POD_SECURITY.name: "pss-"}


def _md(text: str) -> str:
    """Text in Markdown, every character that could start markup escaped."""
    return re.sub(r"([\\`*_{}\[\]()<>&#!|~])", r"\\\1", text)


def _line(text: str) -> str:
    """One escaped line, for OSCAL's single-line fields."""
    return _md(" ".join(text.split())) or "-"


def _code(label: str, text: str) -> str:
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{_md(label)}\n\n{fence}text\n{text}\n{fence}"


def _prop(name: str, value: str) -> oscal.Property:
    return oscal.Property(name=name, value=" ".join(str(value).split()) or "-", ns=NS)


def control_id(control: str) -> str:
    """A control as an OSCAL token: CIS Docker Benchmark v1.6.0 5.16 -> cis-docker-5.16."""
    for framework, prefix in CONTROL_PREFIXES.items():
        if control.startswith(framework + " "):
            control = prefix + control[len(framework) + 1:]
            break
    token = re.sub(r"[^A-Za-z0-9_.-]+", "-", control).strip("-.")
    return token if re.match(r"[A-Za-z_]", token) else f"control-{token}"


def _subject(kind: str, name: str) -> str:
    return str(uuid.uuid5(SUBJECTS, f"{kind}:{name}"))


def _inventory(records: list[dict], hosts: list[dict]) -> list[oscal.InventoryItem]:
    items = [oscal.InventoryItem(
        uuid=_subject("host", host["host"]), description=_line(f"Host {host['host']}"),
        props=[_prop("kind", "host"), _prop("host", host["host"]),
               *(_prop(field, host[field]) for field in ("hostname", "kernel", "engine", "runtime")
                 if str(host.get(field, "")).strip())])
        for host in hosts]
    items += [oscal.InventoryItem(uuid=_subject("target", target), description=_line(f"Container {target}"),
                                  props=[_prop("kind", "container"), _prop("target", target)])
              for target in dict.fromkeys(r["target"] for r in records)]
    return items


def _observation(record: dict, collected: datetime.datetime) -> oscal.Observation:
    evidence = [oscal.RelevantEvidence(description=_code(f"{side}: {piece['label']}", piece["text"]))
                for side in ("host", "container") for piece in record["evidence"][side]]
    return oscal.Observation(
        uuid=str(uuid.uuid4()), title=_line(f"{record['property']} on {record['target']}: {record['title']}"),
        description=_md(record["summary"]), methods=["TEST"], types=["finding"], collected=collected,
        props=[_prop("property", record["property"]), _prop("target", record["target"]),
               _prop("verdict", record["verdict"]), _prop("enforced", str(record["enforced"]).lower()),
               *([_prop("severity", record["severity"])] if record.get("severity") else [])],
        subjects=[oscal.SubjectReference(subject_uuid=_subject("target", record["target"]),
                                         type="inventory-item", title=_line(record["target"]))],
        relevant_evidence=evidence or None)


def _waiver_words(waiver: dict) -> str:
    state = "expired on" if waiver["expired"] else "until"
    return (f"accepted by the waiver at line {waiver['line']} ({state} {waiver['expires']}): "
            f"{waiver['reason']} ({waiver['owner']})")


def _risk(record: dict, observation: str, logged: datetime.datetime) -> oscal.Risk:
    """An enforced property that does not hold: open, or a deviation approved by its waiver."""
    remediation = record.get("remediation") or {}
    fixes = "\n".join(f"- {_md(RUNTIMES.get(runtime, runtime))}: {_md(how)}"
                      for runtime, how in remediation.items() if runtime != "action")
    waiver = record.get("waiver") if record["verdict"] == WAIVED else None
    approved = None
    if waiver:
        approved = oscal.RiskLog(entries=[oscal.Entry(
            uuid=str(uuid.uuid4()), title="Deviation approved", start=logged, status_change="deviation-approved",
            description=_md(f"The failure of {record['property']} on {record['target']} is "
                            f"{_waiver_words(waiver)}."))])
    return oscal.Risk(
        uuid=str(uuid.uuid4()), title=_line(f"{record['property']} does not hold on {record['target']}"),
        description=_md(record.get("rationale") or "No rationale given."), statement=_md(record["summary"]),
        status="deviation-approved" if waiver else "open",
        props=[_prop("verdict", record["verdict"]),
               *([_prop("severity", record["severity"])] if record.get("severity") else [])],
        deadline=datetime.datetime.combine(datetime.date.fromisoformat(waiver["expires"]), datetime.time(),
                                           datetime.timezone.utc) if waiver else None,
        risk_log=approved,
        remediations=[oscal.Response(
            uuid=str(uuid.uuid4()), lifecycle="recommendation", title="What to change",
            description=_md(remediation.get("action") or "No remediation given.") + (f"\n\n{fixes}" if fixes else ""))],
        related_observations=[oscal.RelatedObservation(observation_uuid=observation)])


REASONS = {PASS: "pass", ERROR: "other"}  # the rest: "fail"


def _finding(control: str, target: str, judged: list[tuple[dict, str, str | None]]) -> oscal.Finding:
    """A control the profile enforces, on one target, from the enforced properties evidencing it."""
    verdict = worst(record["verdict"] for record, _, _ in judged)
    listed = ", ".join(f"{record['property']} {record['verdict']}" for record, _, _ in judged)
    waived = [f"{record['property']}: {_waiver_words(record['waiver'])}" for record, _, _ in judged
              if record["verdict"] == WAIVED and record.get("waiver")]
    remarks = ("Not satisfied; the deviation is approved: " + "; ".join(waived) + "." if verdict == WAIVED
               else "Not judged: the target could not be observed." if verdict == ERROR else None)
    return oscal.Finding(
        uuid=str(uuid.uuid4()), title=_line(f"{control} on {target}"),
        description=_md(f"Evidenced by {listed}."),
        props=[_prop("control", control), _prop("target", target), _prop("verdict", verdict)],
        target=oscal.FindingTarget(
            type="objective-id", target_id=control_id(control),
            status=oscal.ObjectiveStatus(state="satisfied" if verdict == PASS else "not-satisfied",
                                         reason=REASONS.get(verdict, "fail"),
                                         remarks=_md(remarks) if remarks else None)),
        related_observations=[oscal.RelatedObservation(observation_uuid=o) for _, o, _ in judged],
        related_risks=[oscal.AssociatedRisk(risk_uuid=r) for _, _, r in judged if r] or None,
        remarks=_md(remarks) if remarks else None)


def document(records: list[dict], meta: dict) -> AssessmentResults:
    """The assessment results of one run: its records and the header every report has."""
    started = datetime.datetime.fromisoformat(meta["started"])
    now = datetime.datetime.now(datetime.timezone.utc)
    observations, risks, judged = [], [], []
    for record in records:
        observation = _observation(record, started)
        observations.append(observation)
        if not record["enforced"]:
            continue  # an advisory, or a pass the profile does not ask for: observed, nothing more
        risk = _risk(record, observation.uuid, started) if record["verdict"] in (FAIL, WAIVED) else None
        risks += [risk] if risk else []
        judged.append((record, observation.uuid, risk.uuid if risk else None))
    by_control: dict[tuple[str, str], list] = {}
    for entry in judged:
        for control in entry[0]["controls"]:
            by_control.setdefault((control, entry[0]["target"]), []).append(entry)
    findings = [_finding(control, target, entries) for (control, target), entries in by_control.items()]
    controls = list(dict.fromkeys(control_id(control) for control, _ in by_control))
    plan = str(uuid.uuid4())
    return AssessmentResults(
        uuid=str(uuid.uuid4()),
        metadata=oscal.Metadata(
            title="Container isolation assessment results", last_modified=now, version=meta["isoverify"],
            oscal_version=OSCAL_VERSION,
            props=[_prop("profile", meta["profile"]), _prop("by", meta["by"]), _prop("command", meta["command"])]),
        import_ap=ImportAp(href=f"#{plan}"),
        results=[Result(
            uuid=str(uuid.uuid4()), title=_line(f"isoverify run of {meta['started']}"),
            description=_md(f"Each isolation property judged on each container from the kernel's view on "
                            f"its host, profile {meta['profile']}."),
            start=started, end=now,
            local_definitions=LocalDefinitions1(inventory_items=_inventory(records, meta["hosts"]) or None),
            reviewed_controls=oscal.ReviewedControls(control_selections=[oscal.ControlSelections(
                include_controls=[oscal.SelectControlById(control_id=c) for c in controls])]
                if controls else [oscal.ControlSelectionsAll(include_all=oscal.IncludeAll())]),
            observations=observations or None, risks=risks or None, findings=findings or None)],
        back_matter=oscal.BackMatter(resources=[oscal.Resource(
            uuid=plan, title=_line(f"isoverify {meta['isoverify']}, profile {meta['profile']}"),
            description=_md("The plan this run followed: isoverify's catalogue of isolation properties, each "
                            "enforced or advisory as the profile says, on the targets given."))]))


def write(path: Path, records: list[dict], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document(records, meta).oscal_write(path)
