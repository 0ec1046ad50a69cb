"""Waiver files: what they select, what they accept, and how a malformed one is refused."""

import datetime
import re

import pytest

from conftest import REPO
from isoverify.properties import BY_ID, Verdict
from isoverify.verdicts import FAIL, PASS, WAIVED
from isoverify.waivers import Identity, Waiver, WaiverError, Waivers, load, selection

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


# -- what a waiver selects --------------------------------------------------------------

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
    docker = Identity.of("docker://vpn-1", {"Id": ID, "Image": IMAGE, "Config": {"Labels": {"team": "net"}}})
    assert docker == vpn()
    podman = Identity.of("podman://vpn-1", {"Id": ID, "Image": IMAGE.removeprefix("sha256:"),
                                            "Config": {"Labels": None}})
    assert podman.image == IMAGE and podman.labels == {}


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


# -- what a waiver accepts ------------------------------------------------------------

def test_a_waiver_without_accept_waives_the_whole_failure():
    assert waiver(image=IMAGE).declines(("NET_ADMIN", "SYS_ADMIN"), TODAY) is None


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
    verdict = caps_verdict(PASS, ()).under([waiver(image=IMAGE)], TODAY)
    assert verdict.status == PASS and verdict.waiver is None and verdict.as_record()["matching_waivers"] == [3]


# -- reading the file -----------------------------------------------------------------

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


def test_the_readmes_examples_are_valid(tmp_path):
    section = re.search(r"^## Waivers\n(.*?)^## ", (REPO / "README.md").read_text(), re.M | re.S)[1]
    for kind in ("toml", "yaml"):
        [example] = re.findall(rf"```{kind}\n(.*?)```", section, re.S)
        loaded = read(tmp_path, f"readme.{kind}", example)
        assert [(w.image, w.container, w.accept) for w in loaded] == [
            (IMAGE_IN_README, None, None), (None, "3f2a9c81d0e4", ("NET_ADMIN",))]


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
    ("image.toml", toml(image=IMAGE.removeprefix("sha256:")), "image.toml:1: image 'abab"),
    ("reference.toml", toml(image="busybox:latest"), "image 'busybox:latest' is not an image ID"),
    ("label.toml", toml(label="team"), "label.toml:1: label 'team' is not a label as KEY=VALUE"),
    ("none.toml", toml(), "none.toml:1: no selector"),
    ("inline.toml", 'waiver = [{property = "caps", target = "*"}]\n', "inline.toml:1: expected only [[waiver]]"),
])
def test_a_malformed_file_is_refused_naming_the_line(tmp_path, name, text, message):
    with pytest.raises(WaiverError) as refused:
        read(tmp_path, name, text)
    assert message in str(refused.value)
