"""A run used directly, without pytest: one probe per target, however many properties."""

from isoverify.judge.catalogue import CATALOGUE
from isoverify.run import Run


def test_one_round_trip_per_host_for_all_containers_and_properties(canary):
    first, second, third = canary(), canary(), canary()
    run = Run(containers=tuple(f"docker://{c.name}" for c in (first, second, third)))
    for slot in run.plan.containers():
        for prop in CATALOGUE:
            assert run.verdict(prop.id, slot).status != "error"
    assert run.plan.hosts[0].round_trips == 1


def test_the_managed_container_lives_from_first_use_to_close(docker_client):
    run = Run()
    [slot] = run.plan.containers()
    assert run.verdict("pid", slot).status == "pass"
    name = run.observations.target(slot).ref
    assert docker_client.containers.get(name).status == "running"
    run.close()
    assert not docker_client.containers.list(all=True, filters={"name": name})


def test_both_inside_paths_give_the_same_facts(canary):
    """The host's reading of the lesson's six and the container's own commands agree: what
    differs is only what the host cannot know without running the container's files (user
    names from its /etc/passwd) and how df lays out its table."""
    containers = [canary(), canary(user="1000:1000")]
    urls = tuple(f"docker://{c.name}" for c in containers)
    views = {}
    for path in ("host", "exec"):
        run = Run(containers=urls, inside=path)
        for slot in run.plan.containers():
            _, facts = run.facts(slot)
            inside = {name: reading.value for name, reading in facts.inside.items()}
            first = next(p for p in inside.pop("ps") if p.pid == 1)
            root = next(row["filesystem"] for row in inside.pop("df") if row["mounted_on"] == "/")
            who = inside.pop("id")
            views.setdefault(slot.label, []).append(
                {**inside, "pid 1": first.command.split()[0].rsplit("/", 1)[-1], "root": root,
                 "id": (who["uid"], who["gid"])})
    for label, (by_host, by_exec) in views.items():
        assert by_host == by_exec, label
    assert views["docker://" + containers[1].name][0]["id"] == (1000, 1000)
