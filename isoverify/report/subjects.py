"""What a record's target is, for the formats that name it as its own kind of thing: a pod's
container (its record carries what the CRI runtime said of its pod), a bare process, or an
engine's container, and the host it ran on. Kinds come from the record's engine and pod;
nothing is parsed out of a label made of names a container's author chose."""

from isoverify.judge.frameworks import FRAMEWORKS

TEXT_CHARS = 1000  # a message in a format a dashboard lists: the summary, bounded; the JSON keeps it whole


def bounded_line(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def pod(record: dict) -> dict | None:
    """namespace, name, uid, container and init of a cri:// target's pod, else None."""
    return record.get("pod")


def kind(record: dict) -> str:
    """Pod, Process (pid://), Container (docker://, podman://, the container the suite starts),
    or Node (a merge's node that was not measured)."""
    if pod(record) is not None:
        return "Pod"
    if record.get("engine") == "node":
        return "Node"
    return "Process" if record.get("engine") == "pid" else "Container"


def host(record: dict, hosts: list[dict]) -> dict | None:
    """The host the target ran on: its node in merged results, else the only one, or the one
    whose label begins the target's (a run of several hosts names each target after its host)."""
    if "node" in record:
        return next((h for h in hosts if h["host"] == record["node"]), None)
    if len(hosts) == 1:
        return hosts[0]
    return next((h for h in hosts if record["target"].startswith(f"{h['host']} ")), None)


def category(record: dict) -> str:
    """The framework of the first control the property cites, else isoverify's own."""
    for control in record["controls"]:
        for framework in FRAMEWORKS:
            if control.startswith(f"{framework.name} "):
                return framework.name
    return "isoverify"
