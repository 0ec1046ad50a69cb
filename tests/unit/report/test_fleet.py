"""Many runs as one fleet: each node's newest results, nodes not measured said so (an error,
never left out), templates judged differently on two nodes, and differing versions named."""

from datetime import UTC, datetime, timedelta

import pytest

from isoverify.report import fleet

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def document(hostname: str, started: datetime, verdicts: dict[str, str], *, kernel="6.1.0", run=None,
             runtime="containerd 1.7.24") -> dict:
    return {"started": started.isoformat(), "profile": "baseline", **({"run": run} if run else {}),
            "hosts": [{"host": "node://", "hostname": hostname, "kernel": kernel, "runtime": runtime}],
            "results": [{"target": key.rsplit(" ", 1)[0], "property": key.rsplit(" ", 1)[1], "verdict": verdict}
                        for key, verdict in verdicts.items()]}


def merged(*documents, **options):
    found = [m for number, d in enumerate(documents) for m in fleet.measurements(d, f"n{number}.json")]
    return fleet.merge(found, now=NOW, **options)


WEB = "cri://shop/web-7d9c8f6b5d-x2x4q/app (pod 1, a1)"
WEB_ELSEWHERE = "cri://shop/web-7d9c8f6b5d-zz8k1/app (pod 2, b2)"


def test_each_target_is_named_by_its_node_and_natural_order_holds():
    records, summary = merged(document("node10", NOW, {f"{WEB} pid": "pass"}),
                              document("node2", NOW, {f"{WEB_ELSEWHERE} pid": "pass"}))
    assert [r["target"] for r in records] == [f"node2: {WEB_ELSEWHERE}", f"node10: {WEB}"]
    assert [r["node"] for r in records] == ["node2", "node10"]
    assert [n["node"] for n in summary["nodes"]] == ["node2", "node10"]


def test_the_newest_results_of_a_node_count_and_the_older_are_named():
    records, summary = merged(document("a", NOW - timedelta(hours=2), {f"{WEB} pid": "fail"}),
                              document("a", NOW, {f"{WEB} pid": "pass"}))
    assert [r["verdict"] for r in records] == ["pass"]
    assert summary["superseded"] == ["n0.json"]


@pytest.mark.parametrize("options, documents, why", [
    ({"expected": ("a", "b")}, [document("a", NOW, {f"{WEB} pid": "pass"})], "no results from it were given"),
    ({"max_age": timedelta(hours=1)}, [document("b", NOW - timedelta(hours=3), {f"{WEB} pid": "pass"})],
     "older than 1:00:00"),
    ({"run": "sweep-7"}, [document("b", NOW, {f"{WEB} pid": "pass"}, run="sweep-6")], "of another run (sweep-6)"),
    ({}, [document("b", NOW, {})], "judged nothing"),
])
def test_a_node_not_measured_is_an_error_of_its_own(options, documents, why):
    records, summary = merged(*documents, **options)
    [missing] = [r for r in records if r["node"] == "b"]
    assert missing["verdict"] == "error" and missing["enforced"] and why in missing["summary"]
    assert missing["property"] == fleet.NOT_MEASURED
    [node] = [n for n in summary["nodes"] if n["node"] == "b"]
    assert node["measured"] is False and why in node["why"]


def test_a_template_judged_differently_on_two_nodes_is_named():
    _, summary = merged(document("a", NOW, {f"{WEB} pid": "pass", f"{WEB} caps": "pass"}),
                        document("b", NOW, {f"{WEB_ELSEWHERE} pid": "fail", f"{WEB_ELSEWHERE} caps": "pass"}))
    assert summary["divergence"] == [{"template": "cri://shop/web/app", "property": "pid",
                                      "verdicts": {"fail": ["b"], "pass": ["a"]}}]


@pytest.mark.parametrize("pod, template", [
    ("web-7d9c8f6b5d-x2x4q", "web"),  # a Deployment's ReplicaSet hash, then the pod's
    ("fluentd-8xk2p", "fluentd"),  # a DaemonSet's
    ("db-0", "db"), ("db-12", "db"),  # a StatefulSet's ordinal
    ("standalone", "standalone"),
])
def test_a_pods_template_is_its_name_without_what_was_generated(pod, template):
    assert fleet.template(f"node1: cri://ns/{pod}/app (pod u, id)") == f"cri://ns/{template}/app"


def test_differing_kernels_and_runtimes_name_their_nodes():
    _, summary = merged(document("a", NOW, {f"{WEB} pid": "pass"}, kernel="6.1.0"),
                        document("b", NOW, {f"{WEB} pid": "pass"}, kernel="6.8.0"),
                        document("c", NOW, {f"{WEB} pid": "pass"}, kernel="6.8.0"))
    assert summary["versions"] == {"kernel": {"6.1.0": ["a"], "6.8.0": ["b", "c"]}}


def test_a_run_of_several_hosts_gives_each_its_own_records():
    several = {"started": NOW.isoformat(), "profile": "baseline",
               "hosts": [{"host": "ssh://web1", "hostname": "web1"}, {"host": "ssh://web2", "hostname": "web2"}],
               "results": [{"target": "ssh://web1 docker://api (abc)", "property": "pid", "verdict": "pass"},
                           {"target": "ssh://web2 docker://api (def)", "property": "pid", "verdict": "fail"}]}
    records, summary = merged(several)
    assert {r["target"]: r["verdict"] for r in records} == {"web1: docker://api (abc)": "pass",
                                                            "web2: docker://api (def)": "fail"}
    assert summary["divergence"] == [{"template": "docker://api", "property": "pid",
                                      "verdicts": {"fail": ["web2"], "pass": ["web1"]}}]


@pytest.mark.parametrize("text, age", [("90s", timedelta(seconds=90)), ("30m", timedelta(minutes=30)),
                                       ("12h", timedelta(hours=12)), ("2d", timedelta(days=2))])
def test_ages_are_written_with_a_unit(text, age):
    assert fleet.parse_age(text) == age


@pytest.mark.parametrize("text", ["", "2", "0h", "-1h", "2 h", "1w", "1h30m"])
def test_an_age_without_its_unit_is_refused(text):
    with pytest.raises(ValueError, match="--max-age"):
        fleet.parse_age(text)
