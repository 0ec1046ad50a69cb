"""JUnit XML written from verdict records, for what is not one pytest run (a merge of runs):
the same test cases and properties a run's --junitxml carries, one per target × property.
A failure fails its case; what could not be judged errors it; advisories and waived
failures pass (isoverify.verdict says which), so no CI dashboard counts them as failed."""

import xml.etree.ElementTree as ET
from pathlib import Path

from isoverify.report.html import guidance_properties


def write(path: Path, records: list[dict], meta: dict) -> None:
    suite = ET.Element("testsuite", name="isoverify", timestamp=meta["started"],
                       tests=str(len(records)),
                       failures=str(sum(r["verdict"] == "fail" for r in records)),
                       errors=str(sum(r["verdict"] == "error" for r in records)), skipped="0")
    for record in records:
        case = ET.SubElement(suite, "testcase", classname=f"isoverify.{record.get('node', 'run')}",
                             name=f"{record['property']} on {record['target']}")
        properties = ET.SubElement(case, "properties")
        for name, value in [
            ("isoverify.property", record["property"]),
            ("isoverify.target", record["target"]),
            ("isoverify.verdict", record["verdict"]),
            ("isoverify.enforced", str(record["enforced"]).lower()),
            ("isoverify.controls", "; ".join(record["controls"])),
            *guidance_properties(record),
        ]:
            ET.SubElement(properties, "property", name=name, value=value)
        if record["verdict"] in ("fail", "error"):
            ET.SubElement(case, "failure" if record["verdict"] == "fail" else "error",
                          message=record["summary"]).text = record["summary"]
    path.parent.mkdir(parents=True, exist_ok=True)
    root = ET.Element("testsuites", name="isoverify")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
