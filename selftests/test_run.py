"""A run used directly, without pytest: one probe per target, however many properties."""

from isoverify.properties import CATALOGUE
from isoverify.report import row_cells
from isoverify.run import Run


def test_each_target_is_probed_once_for_all_properties(canary):
    first, second = canary(), canary()
    run = Run(container_urls=(f"docker://{first.name}", f"docker://{second.name}"))
    for slot in run.slots():
        for prop in CATALOGUE:
            run.verdict(prop.id, slot)
    # one host probe, then per container: the kernel's view and one exec inside
    assert run.hosts[0].round_trips == 1 + 2 * len(run.slots())


def test_the_managed_container_lives_from_first_use_to_close(docker_client):
    run = Run()
    [slot] = run.slots()
    assert run.verdict("pid", slot).status == "pass"
    name = run.container(slot).ref
    assert docker_client.containers.get(name).status == "running"
    run.close()
    assert not docker_client.containers.list(all=True, filters={"name": name})


def test_report_cells_escape_what_a_target_said():
    record = {"property": "uts", "title": "t", "target": "docker://x", "verdict": "fail",
              "controls": ["<i>c</i>"], "summary": "its hostname is <img src=x onerror=alert(1)>",
              "evidence": {"host": [{"label": "$ hostname", "text": "<script>alert(1)</script>"}],
                           "container": []}}
    html = "".join(row_cells(record))
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
