"""Waiver files: what they select, what they accept, and how a malformed one is refused."""

import datetime
import json
import re
from pathlib import Path

import pytest

from isoverify.collect.facts import Containers
from isoverify.errors import WaiverError
from isoverify.judge.catalogue import BY_ID
from isoverify.judge.verdict import Verdict
from isoverify.judge.waivers import NAMING_FINDINGS, Identity, Waiver, Waivers, load, selection
from isoverify.judge.words import FAIL, PASS, WAIVED

REPO = Path(__file__).resolve().parents[3]
KNOWN = set(BY_ID)
TODAY = datetime.date(2026, 6, 1)


ID = "3f2a9c81d0e4" + "7" * 52


OTHER_ID = "3f2a9c81d0e5" + "7" * 52


IMAGE = "sha256:" + "ab" * 32


def read(tmp_path, name: str, text: str) -> list[Waiver]:
    path = tmp_path / name
    path.write_text(text)
    return load(path, KNOWN)


def toml(**fields) -> str:
    fields = {"property": "caps", "reason": "r", "owner": "o", **fields}
    lines = [f"{key} = {value if key in ('expires', 'accept') else repr(value)}" for key, value in fields.items()]
    return "[[waiver]]\n" + "\n".join(lines) + "\nexpires = 2030-01-01\n"


def waiver(**fields) -> Waiver:
    return Waiver(**{"property": "caps", "reason": "r", "owner": "o", "expires": datetime.date(2030, 1, 1),
                     "line": 3, **fields})


def vpn(name: str = "docker://vpn-1", container: str = ID, labels=None) -> Identity:
    return Identity(name, container, IMAGE, labels or {"team": "net"})


def test_a_container_id_or_a_prefix_of_12_hex_digits_selects_that_container_only():
    for pinned in (ID, ID[:12]):
        assert waiver(container=pinned).selects(vpn())
        assert not waiver(container=pinned).selects(vpn("docker://vpn-1", OTHER_ID))


def test_an_image_id_selects_the_containers_running_it():
    assert waiver(image=IMAGE).selects(vpn("docker://anything"))
    assert not waiver(image="sha256:" + "cd" * 32).selects(vpn())


def test_a_label_selects_by_key_and_value():
    assert waiver(label="team=net").selects(vpn())
    assert not waiver(label="team=web").selects(vpn())
    assert not waiver(label="team=net").selects(vpn(labels={"other": "net"}))


def test_a_target_glob_matches_any_name_its_pattern_allows():
    assert waiver(target="docker://vpn-*").selects(vpn("docker://vpn-evil", OTHER_ID))


def test_every_selector_given_must_match():
    pinned = waiver(target="docker://vpn-*", container=ID[:12], label="team=net")
    assert pinned.selects(vpn())
    assert not pinned.selects(vpn("docker://vpn-evil", OTHER_ID))  # same glob, another container
    assert not pinned.selects(vpn("docker://web-1"))
    assert not pinned.selects(vpn(labels={"team": "web"}))


def test_a_process_without_an_engine_matches_target_globs_only():
    bare = Identity.of("pid://4242", None)
    assert waiver(target="pid://*").selects(bare)
    assert not waiver(container=ID[:12]).selects(bare)
    assert not waiver(image=IMAGE).selects(bare)
    assert not waiver(label="team=net").selects(bare)


def test_identity_from_the_engines_inspect_document():
    docker = Identity.of("docker://vpn-1", {"Id": ID, "Image": IMAGE, "Config": {"Labels": {"team": "net"}},
                                            "ImageLabels": {}})
    assert docker == vpn()
    podman = Identity.of("podman://vpn-1", {"Id": ID, "Image": IMAGE.removeprefix("sha256:"),
                                            "Config": {"Labels": None}, "ImageLabels": {}})
    assert podman.image == IMAGE and podman.labels == {}


def test_a_label_counts_only_as_the_operator_set_it_whole():
    def labels(own: dict, image: dict | None) -> dict:
        document = {"Id": ID, "Image": IMAGE, "Config": {"Labels": own}}
        return dict(Identity.of("docker://vpn-1", {**document, **({"ImageLabels": image} if image is not None else {})})
                    .labels)
    assert labels({"team": "net", "tier": "edge"}, {"team": "net"}) == {"tier": "edge"}  # baked in: its author's
    assert labels({"team": "net"}, {"team": "web"}) == {"team": "net"}  # the operator's value over the image's
    assert labels({"team": "net"}, None) == {}  # the image's labels unknown: none can be told apart
    assert labels({"team": "net…[cut: 5000 bytes]", "k…[cut: 300 bytes]": "v"}, {}) == {}


def test_labels_are_read_bounded_and_a_cut_one_is_marked():
    big = "x" * 1024
    output = "\n".join([
        f"ref vpn-1 {ID}", f"{ID} 4242 " + json.dumps({"Id": ID, "State": {"Running": True}, "Config": {}}),
        f"{ID} image {IMAGE}", f"{ID} labels 4",
        'label 4 3 "team" "net"', f'label 3 71680 "big" "{big}"', 'label 5 2 "bro', '"not": "a label line"',
        f"image {IMAGE} labels 1", 'label 4 3 "team" "net"'])
    [(pid, document)] = Containers("docker", ["vpn-1"]).parse(output)["details"].values()
    assert pid == 4242 and document["Config"]["Labels"] == {"team": "net", "big": f"{big}…[cut: 71680 bytes]"}
    assert document["Config"]["LabelsNotRead"] == 2 and document["ImageLabels"] == {"team": "net"}
    assert dict(Identity.of("docker://vpn-1", document).labels) == {}  # team is the image's; big was cut


def test_image_labels_not_all_read_are_not_trusted():
    output = "\n".join([f"{ID} 1 " + '{"State": {}, "Config": {}}', f"{ID} image {IMAGE.removeprefix('sha256:')}",
                        f"{ID} labels 0", f"image {IMAGE.removeprefix('sha256:')} labels 2", 'label 1 1 "a" "b"'])
    [(_, document)] = Containers("podman", [ID]).parse(output)["details"].values()
    assert "ImageLabels" not in document


def test_waivers_for_the_property_in_the_files_order():
    first, second = waiver(image=IMAGE, line=1), waiver(container=ID, line=7)
    waivers = Waivers([first, second, waiver(property="seccomp", image=IMAGE, line=13)], TODAY)
    assert waivers.matching("caps", vpn()) == [first, second]
    assert waivers.matching("caps", vpn("docker://x", OTHER_ID)) == [first]
    assert waivers.unmatched({1, 7}) == [waivers.waivers[2]]


def test_reports_name_a_waiver_by_its_selectors():
    assert selection(waiver(container=ID[:12]).as_record(TODAY)) == f"container {ID[:12]}"
    assert selection(waiver(target="docker://vpn-*", image=IMAGE).as_record(TODAY)) == \
        f"image {IMAGE} and target docker://vpn-*"
    assert selection(waiver(target="*").as_record(TODAY)) == "target *"


def test_a_container_pin_without_accept_waives_the_whole_failure():
    assert waiver(container=ID).declines(("NET_ADMIN", "SYS_ADMIN"), TODAY) is None


def test_accept_waives_only_failures_whose_every_finding_it_names():
    net = waiver(image=IMAGE, accept=("NET_ADMIN",))
    assert net.declines(("NET_ADMIN",), TODAY) is None
    assert net.declines(("NET_ADMIN", "SYS_ADMIN", "SYS_MODULE"), TODAY) == \
        "waiver at line 3 accepts NET_ADMIN only; not accepted: SYS_ADMIN, SYS_MODULE"


def test_accept_does_not_waive_a_failure_that_names_no_finding():
    assert "names no finding" in waiver(image=IMAGE, accept=("NET_ADMIN",)).declines((), TODAY)


def test_an_expired_waiver_declines_whatever_it_accepts():
    old = waiver(image=IMAGE, expires=datetime.date(2026, 5, 31))
    assert old.declines(("NET_ADMIN",), TODAY).startswith("waiver expired on 2026-05-31")


def caps_verdict(status: str, items: tuple[str, ...]) -> Verdict:
    return Verdict(BY_ID["caps"], "docker://vpn-1", status, True, "beyond docker's default", items=items)


def test_a_failure_is_waived_by_the_first_waiver_that_accepts_it():
    narrow, broad = waiver(image=IMAGE, accept=("NET_ADMIN",), line=1), waiver(container=ID, line=7)
    waived = caps_verdict(FAIL, ("NET_ADMIN", "SYS_ADMIN")).under([narrow, broad], TODAY)
    assert waived.status == WAIVED and waived.waiver["line"] == 7 and waived.matching_waivers == (1, 7)


def test_a_failure_beyond_every_waiver_fails_and_says_why():
    verdict = caps_verdict(FAIL, ("NET_ADMIN", "SYS_ADMIN")).under([waiver(image=IMAGE, accept=("NET_ADMIN",))],
                                                                   TODAY)
    assert verdict.status == FAIL and verdict.waiver["line"] == 3
    assert verdict.summary.endswith("(waiver at line 3 accepts NET_ADMIN only; not accepted: SYS_ADMIN)")
    assert verdict.as_record()["findings"] == ["NET_ADMIN", "SYS_ADMIN"]


def test_a_passing_verdict_notes_the_waivers_that_match_it():
    verdict = caps_verdict(PASS, ()).under([waiver(container=ID)], TODAY)
    assert verdict.status == PASS and verdict.waiver is None and verdict.as_record()["matching_waivers"] == [3]


def test_toml_and_yaml_read_alike(tmp_path):
    from_toml = read(tmp_path, "w.toml", toml(container=ID[:12], image=IMAGE, label="team=net",
                                              target="docker://vpn-*", accept='["NET_ADMIN"]'))
    from_yaml = read(tmp_path, "w.yaml", f"waivers:\n  - property: caps\n    container: '{ID[:12]}'\n"
                                         f"    image: {IMAGE}\n    label: team=net\n    target: docker://vpn-*\n"
                                         "    accept: [NET_ADMIN]\n    reason: r\n    owner: o\n"
                                         "    expires: 2030-01-01\n")
    assert from_toml == [waiver(line=1, container=ID[:12], image=IMAGE, label="team=net", target="docker://vpn-*",
                                accept=("NET_ADMIN",))]
    assert from_yaml == [waiver(line=2, container=ID[:12], image=IMAGE, label="team=net",
                                target="docker://vpn-*", accept=("NET_ADMIN",))]


def test_without_a_target_a_waiver_selects_any_name(tmp_path):
    [pinned] = read(tmp_path, "w.toml", toml(container=ID))
    assert pinned.target == "*" and pinned.accept is None


@pytest.mark.parametrize("selectors", [{"image": IMAGE}, {"label": "team=net"}, {"target": "docker://vpn-*"},
                                       {"image": IMAGE, "label": "team=net"}])
def test_a_waiver_pinned_to_what_many_containers_carry_must_accept_findings(tmp_path, selectors):
    with pytest.raises(WaiverError) as refused:
        read(tmp_path, "w.toml", toml(**selectors))
    message = str(refused.value)
    assert message.startswith(f"{tmp_path / 'w.toml'}:1: a waiver pinned to ") and "\n" not in message
    assert "add accept = [...]" in message and "pin it to the container's ID" in message
    assert "names no findings" not in message  # caps names them
    [accepted] = read(tmp_path, "ok.toml", toml(**selectors, accept='["NET_ADMIN"]'))
    [pinned] = read(tmp_path, "pinned.toml", toml(**selectors, container=ID[:12]))
    assert accepted.accept == ("NET_ADMIN",) and pinned.accept is None


def test_a_property_naming_no_findings_can_be_waived_only_by_a_container_pin(tmp_path):
    with pytest.raises(WaiverError, match="privileged names no findings, so only a container pin can waive it"):
        read(tmp_path, "w.toml", toml(property="privileged", image=IMAGE))


def test_the_readmes_examples_are_valid(tmp_path):
    section = re.search(r"^## Waivers\n(.*?)^## ", (REPO / "README.md").read_text(), re.M | re.S)[1]
    for kind in ("toml", "yaml"):
        [example] = re.findall(rf"```{kind}\n(.*?)```", section, re.S)
        loaded = read(tmp_path, f"readme.{kind}", example)
        assert [(w.image, w.container, w.accept) for w in loaded] == [
            (IMAGE_IN_README, None, ("NET_ADMIN",)), (None, "3f2a9c81d0e4", ("NET_ADMIN",))]


def test_the_readme_names_the_properties_that_name_findings():
    section = re.search(r"^## Waivers\n(.*?)^## ", (REPO / "README.md").read_text(), re.MULTILINE | re.DOTALL)[1]
    table = re.search(r"\| Property \| Findings \|\n\|---\|---\|\n(.*?)\n\n", section, re.DOTALL)[1]
    named = {name for row in table.splitlines() for name in re.findall(r"`([a-z-]+)`", row.split("|")[1])}
    assert named == NAMING_FINDINGS


IMAGE_IN_README = "sha256:4c5ea8f6a8b4c5a8d1a1f4e0e5e3c2b1a0f9e8d7c6b5a4938271605f4e3d2c1b"


YAML_HEAD = "waivers:\n  - property: caps\n    reason: r\n    owner: o\n    expires: 2030-01-01\n"


@pytest.mark.parametrize("name, text, message", [
    ("twice.yaml", YAML_HEAD + "    target: a\n    target: b\n", "twice.yaml:7: 'target' is given twice"),
    ("twice-top.yaml", YAML_HEAD + "waivers: []\n", "twice-top.yaml:6: 'waivers' is given twice"),
    ("twice.toml", toml(target="a") + 'target = "b"\n', "twice.toml:7: Cannot overwrite a value"),
    ("list.yaml", YAML_HEAD.replace("property: caps", "property: [caps]") + "    target: a\n",
     "list.yaml:2: property must be a non-empty string, not ['caps']"),
    ("number.yaml", YAML_HEAD + "    container: 123456789012\n",
     "number.yaml:2: container must be a non-empty string, not 123456789012"),
    ("owner.toml", toml(target="a").replace('owner = \'o\'', "owner = 7"), "owner.toml:1: owner must be a non-empty"),
    ("accept.toml", toml(target="a", accept='"NET_ADMIN"'), "accept.toml:1: accept must be a list"),
    ("accept-items.toml", toml(target="a", accept="[1]"), "accept-items.toml:1: accept must be a list"),
    ("accept-empty.toml", toml(target="a", accept="[]"), "accept-empty.toml:1: accept must be a list"),
    ("short.toml", toml(container="3f2a9c81d0e"), "short.toml:1: container '3f2a9c81d0e' is not a container ID"),
    ("name.toml", toml(container="vpn-1-tunnel"), "name.toml:1: container 'vpn-1-tunnel' is not a container ID"),
    ("upper.toml", toml(container=ID.upper()), "is not a container ID"),
    ("image.toml", toml(image=IMAGE.removeprefix("sha256:"), accept='["NET_ADMIN"]'), "image.toml:1: image 'abab"),
    ("reference.toml", toml(image="busybox:latest"), "image 'busybox:latest' is not an image ID"),
    ("label.toml", toml(label="team"), "label.toml:1: label 'team' is not a label as KEY=VALUE"),
    ("shared.toml", toml(image=IMAGE), f"shared.toml:1: a waiver pinned to image {IMAGE} covers every container"),
    ("none.toml", toml(), "none.toml:1: no selector"),
    ("inline.toml", 'waiver = [{property = "caps", target = "*"}]\n', "inline.toml:1: expected only [[waiver]]"),
])
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, name, text, message):
    with pytest.raises(WaiverError) as refused:
        read(tmp_path, name, text)
    assert message in str(refused.value)


