"""The run as Kubernetes Policy Reports (wgpolicyk8s.io/v1alpha2, YAML), for the tools that
read them (Policy Reporter, kubectl): one PolicyReport per namespace of the pods verified
(cri:// targets) and one ClusterPolicyReport for the rest, which no namespace holds (an
engine's container, a bare process).

Each record is one result: policy isoverify, rule the property, scored when the profile
enforces it. Verdicts map to the API's results: pass and fail as they are, advisory to warn
(does not hold, not enforced), waived to skip (the waiver in the message and properties),
error to error. Every value is a YAML string written by safe_dump: what a target said stays
data.
"""

import datetime
from pathlib import Path

import yaml

from isoverify.judge.words import ADVISORY, ERROR, FAIL, PASS, WAIVED
from isoverify.report import subjects

API_VERSION = "wgpolicyk8s.io/v1alpha2"
RESULTS = {PASS: "pass", FAIL: "fail", ADVISORY: "warn", WAIVED: "skip", ERROR: "error"}
SEVERITIES = {"high": "high", "medium": "medium", "low": "low", "info": "info"}  # the API adds critical


def _timestamp(meta: dict) -> dict:
    started = datetime.datetime.fromisoformat(meta["started"])
    return {"seconds": int(started.timestamp()), "nanos": started.microsecond * 1000}


def _resource(record: dict) -> dict:
    """The pod by namespace, name and UID (its container as the field path), else the target by
    its label, and the node it ran on."""
    pod = subjects.pod(record)
    if pod is not None:
        containers = "initContainers" if pod["init"] else "containers"
        return {"apiVersion": "v1", "kind": "Pod", "namespace": pod["namespace"], "name": pod["name"],
                "uid": pod["uid"], "fieldPath": f"spec.{containers}{{{pod['container']}}}"}
    if subjects.kind(record) == "Node":
        return {"apiVersion": "v1", "kind": "Node", "name": record["node"]}
    return {"kind": subjects.kind(record), "name": record["target"]}


def _message(record: dict) -> str:
    waiver = record.get("waiver")
    if record["verdict"] == WAIVED and waiver:
        return subjects.bounded_line(f"{record['summary']} — waived: {waiver['reason']} ({waiver['owner']}, "
                                     f"until {waiver['expires']}, waiver line {waiver['line']})")
    return subjects.bounded_line(record["summary"])


def _properties(record: dict, hosts: list[dict]) -> dict[str, str]:
    """Strings only, as the API wants: what a reader needs beside the result."""
    found = {"target": record["target"], "verdict": record["verdict"],
             "enforced": str(record["enforced"]).lower(), "controls": "; ".join(record["controls"])}
    host = subjects.host(record, hosts)
    if host is not None:
        found["node"] = host.get("hostname") or host["host"]
    waiver = record.get("waiver")
    if record["verdict"] == WAIVED and waiver:
        found.update({"waiver.reason": waiver["reason"], "waiver.owner": waiver["owner"],
                      "waiver.expires": str(waiver["expires"]), "waiver.line": str(waiver["line"])})
    return {key: subjects.bounded_line(value) for key, value in found.items()}


def result(record: dict, meta: dict) -> dict:
    """One record as a PolicyReportResult."""
    hosts = meta["hosts"]
    return {
        "source": "isoverify", "policy": "isoverify", "rule": record["property"],
        "category": subjects.category(record),
        **({"severity": SEVERITIES[record["severity"]]} if record.get("severity") else {}),
        "result": RESULTS[record["verdict"]], "scored": bool(record["enforced"]),
        "message": _message(record), "timestamp": _timestamp(meta),
        "resources": [_resource(record)], "properties": _properties(record, hosts),
    }


def _report(kind: str, namespace: str | None, results: list[dict], meta: dict) -> dict:
    counts = {word: sum(r["result"] == word for r in results) for word in ("pass", "fail", "warn", "error", "skip")}
    return {
        "apiVersion": API_VERSION, "kind": kind,
        "metadata": {"name": f"isoverify-{meta['profile']}", **({"namespace": namespace} if namespace else {}),
                     "labels": {"app.kubernetes.io/managed-by": "isoverify"},
                     "annotations": {"isoverify.io/started": meta["started"], "isoverify.io/by": meta["by"],
                                     "isoverify.io/version": meta["isoverify"]}},
        "summary": counts, "results": results,
    }


def documents(records: list[dict], meta: dict) -> list[dict]:
    """A PolicyReport per pod namespace, in order, then the ClusterPolicyReport (always, so that
    a run has one report saying what it found, even of nothing)."""
    by_namespace: dict[str, list[dict]] = {}
    cluster = []
    for record in records:
        pod = subjects.pod(record)
        if pod is not None:
            by_namespace.setdefault(pod["namespace"], []).append(result(record, meta))
        else:
            cluster.append(result(record, meta))
    return [*(_report("PolicyReport", namespace, by_namespace[namespace], meta) for namespace in sorted(by_namespace)),
            _report("ClusterPolicyReport", None, cluster, meta)]


def write(path: Path, records: list[dict], meta: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(documents(records, meta), explicit_start=True, sort_keys=False,
                                       allow_unicode=True, width=120), encoding="utf-8")
