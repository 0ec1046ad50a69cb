"""The pytest plugin: options, fixtures and hooks; the work is done in plain modules."""

import datetime
import getpass
import importlib.util
import shlex
import signal
import socket
import sys
from pathlib import Path

import pytest

from . import __version__, audit, baseline
from .observe import DEFAULT_TIMEOUT, INSIDE_PATHS
from .properties import BY_ID, CATALOGUE, DEFAULT_PROFILE, PROFILES
from .report import (CSS, HEADER_CELLS, guidance_properties, hosts_table, matrix, row_cells, run_header,
                     targets_summary, unmatched_waivers, write_json)
from .run import DEFAULT_IMAGE, Run, SetupError
from .targets import UsageError
from .verdicts import ERROR, of_outcome
from .waivers import WaiverError, Waivers, load, selection

EXIT_UNOBSERVABLE = 6  # the run could not observe what it was asked to verify

RUN = pytest.StashKey[Run]()
VERDICT = pytest.StashKey[object]()
RECORDS = pytest.StashKey[list]()
STARTED = pytest.StashKey[str]()
HOSTS_SEEN = pytest.StashKey[dict]()  # host descriptions sent by xdist workers
BASELINE = pytest.StashKey[dict | None]()  # the earlier run's verdicts (--iso-baseline)


def pytest_addoption(parser):
    group = parser.getgroup("isoverify", "container isolation (isoverify)")
    group.addoption("--iso-host", action="append", default=[], metavar="URL",
                    help="a host, as a testinfra URL (local://, ssh://, paramiko://, ansible://) or "
                         "vagrant://NAME[?root=DIR]; repeatable; default: local://")
    group.addoption("--iso-container", action="append", default=[], metavar="URL",
                    help="a container to verify on each host: docker://NAME-or-ID, podman://NAME-or-ID, "
                         "docker://* (every running one), docker://*?label=KEY=VALUE, or pid://PID "
                         "(repeatable); default: a busybox container the suite starts and removes")
    group.addoption("--iso-image", default=DEFAULT_IMAGE, metavar="IMAGE",
                    help=f"image of the container the suite starts (default: {DEFAULT_IMAGE})")
    group.addoption("--iso-label", action="append", default=[], metavar="KEY=VALUE",
                    help="an extra label for the container the suite starts, e.g. a CI job id (repeatable)")
    group.addoption("--iso-profile", default=DEFAULT_PROFILE, choices=sorted(PROFILES),
                    help=f"which properties are enforced; the rest are advisory (default: {DEFAULT_PROFILE})")
    group.addoption("--iso-waivers", default=None, metavar="FILE",
                    help="accepted failures, with reason, owner and expiry (TOML, or YAML by extension)")
    group.addoption("--iso-inside", default="host", choices=INSIDE_PATHS,
                    help="how the lesson's commands are read: by the host's own tools, running nothing "
                         "of the container's (fast, the default), or by its own shell through the "
                         "engine's exec, confined as the container is")
    group.addoption("--iso-timeout", type=int, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help=f"how long one probe of a target may take (default: {DEFAULT_TIMEOUT})")
    group.addoption("--iso-json", default=None, metavar="PATH",
                    help="write the JSON results there")
    group.addoption("--iso-baseline", default=None, metavar="PATH",
                    help="an earlier run's JSON results: mark each verdict new, fixed or unchanged against it")
    group.addoption("--iso-oscal", default=None, metavar="PATH",
                    help="write the run there as an OSCAL assessment results document (JSON)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    try:
        waivers_file = config.getoption("iso_waivers")
        waivers = Waivers(load(Path(waivers_file), set(BY_ID)) if waivers_file else [])
        config.stash[RUN] = Run(
            tuple(config.getoption("iso_host")) or ("local://",), tuple(config.getoption("iso_container")),
            config.getoption("iso_image"), config.getoption("iso_profile"),
            config.getoption("iso_timeout"), tuple(config.getoption("iso_label")), waivers,
            # testinfra's own options, for every ssh host
            config.getoption("ssh_config", None), config.getoption("ssh_identity_file", None),
            config.getoption("iso_inside"),
        )
        if config.getoption("iso_oscal") and importlib.util.find_spec("trestle") is None:
            raise UsageError("--iso-oscal needs compliance-trestle: pip install 'isoverify[oscal]'")
        baseline_file = config.getoption("iso_baseline")
        config.stash[BASELINE] = baseline.load(Path(baseline_file)) if baseline_file else None
    except (UsageError, WaiverError, baseline.BaselineError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RECORDS] = []
    config.stash[HOSTS_SEEN] = {}
    config.pluginmanager.register(Recorder(config.stash[RECORDS]), "isoverify-records")
    config.stash[STARTED] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    for control in {c for prop in CATALOGUE for c in prop.controls}:
        config.addinivalue_line("markers", f"{control.marker}: evidences {control}")
    if config.pluginmanager.hasplugin("html"):
        config.option.css = [*config.getoption("css"), str(CSS)]
        config.pluginmanager.register(HtmlReport(config.stash[BASELINE]), "isoverify-html")
    if config.pluginmanager.hasplugin("xdist"):
        # Each host's tests go to one worker (grouped by their xdist_group mark), so that each
        # host and its containers are probed once: the controller schedules by group, workers
        # name groups.
        if getattr(config.option, "dist", "no") == "load":
            config.option.dist = "loadgroup"
        if hasattr(config, "workerinput"):
            config.option.loadgroup = True
        config.pluginmanager.register(Workers(config.stash[HOSTS_SEEN]), "isoverify-xdist")
    # SIGTERM ends the run the way Ctrl-C does, so the managed container is removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def pytest_generate_tests(metafunc):
    if "iso_case" not in metafunc.fixturenames:
        return
    run = metafunc.config.stash[RUN]
    try:
        slots = run.slots()
    except SetupError as exc:
        pytest.exit(f"isoverify: {exc}", returncode=EXIT_UNOBSERVABLE)
    cases = [pytest.param((prop.id, slot), id=f"{prop.id}-{slot.id}",
                          marks=[pytest.mark.xdist_group(slot.host.url),
                                 *(getattr(pytest.mark, c.marker) for c in prop.controls)])
             for slot in slots for prop in CATALOGUE]
    metafunc.parametrize("iso_case", cases)


@pytest.fixture(scope="session")
def iso_run(request):
    """The run; its managed container is removed when the session ends, however it ends."""
    run = request.config.stash[RUN]
    yield run
    run.close()


@pytest.fixture
def verdict(request, iso_run, iso_case):
    """The verdict on this test's property and container; an error verdict errors the test."""
    property_id, slot = iso_case
    try:
        result = iso_run.verdict(property_id, slot)
    except SetupError as exc:
        pytest.exit(f"isoverify: {exc}", returncode=EXIT_UNOBSERVABLE)
    request.node.stash[VERDICT] = result
    request.node.user_properties.extend([
        ("isoverify.property", result.property.id),
        ("isoverify.target", result.target),
        ("isoverify.verdict", result.status),
        ("isoverify.enforced", str(result.enforced).lower()),
        ("isoverify.controls", "; ".join(map(str, result.property.controls))),
    ])
    request.node.user_properties.extend(guidance_properties(result.as_record()))
    if result.status == ERROR:
        pytest.fail(f"{result.property.id} on {result.target}: {result.summary}", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the verdict's record to the report that decides the test (xdist carries it along)."""
    test_report = yield
    found = item.stash.get(VERDICT, None)
    decisive = call.when == "call" or (call.when == "setup" and test_report.failed)
    if found is not None and decisive:
        test_report.iso_record = found.as_record()
    return test_report


def run_meta(config) -> dict:
    """When, by whom, where and how: the header of every report."""
    run = config.stash[RUN]
    hosts = {**run.describe_hosts(), **config.stash[HOSTS_SEEN]}
    records = config.stash[RECORDS]
    return {
        "started": config.stash[STARTED],
        "by": f"{getpass.getuser()}@{socket.gethostname()}",
        "command": shlex.join(["pytest", *sys.argv[1:]]),
        "isoverify": __version__,
        "profile": run.profile,
        "hosts": [{"host": run.host_label(host), **hosts.get(run.host_label(host), {})} for host in run.hosts],
        "unmatched_waivers": [w.as_record(run.waivers.today) for w in
                              run.waivers.unmatched({line for r in records for line in r["matching_waivers"]})],
    }


def pytest_sessionfinish(session):
    config = session.config
    if hasattr(config, "workeroutput"):  # an xdist worker: hand the hosts it saw to the controller
        config.workeroutput["isoverify_hosts"] = config.stash[RUN].describe_hosts()
        return
    records = config.stash[RECORDS]
    verdicts = {r["verdict"] for r in records}
    failures = config.pluginmanager.get_plugin("isoverify-records").other_failures
    # pytest says 1 for any failed or errored test; an unobservable target is not a
    # violation, but any failing test — a verdict, or a test of the user's own — outranks it.
    if session.exitstatus == pytest.ExitCode.TESTS_FAILED and ERROR in verdicts and not failures:
        session.exitstatus = EXIT_UNOBSERVABLE
    base = config.stash[BASELINE]
    if base is not None:
        records[:] = baseline.mark(records, base)
    meta = run_meta(config)
    path = config.getoption("iso_json")
    if path:
        write_json(Path(path), records, {**meta, **({"baseline": baseline.summary(records, base)} if base else {})})
    oscal_path = config.getoption("iso_oscal")
    if oscal_path:
        from . import oscal  # its models take a moment to load: only when asked for
        oscal.write(Path(oscal_path), records, meta)


def pytest_terminal_summary(terminalreporter, config):
    base = config.stash.get(BASELINE, None)
    if base is not None:
        for line in baseline.terminal_lines(config.stash[RECORDS], base):
            terminalreporter.write_line(f"isoverify: {line}")
    for waiver in run_meta(config)["unmatched_waivers"]:
        terminalreporter.write_line(f"isoverify: waiver at line {waiver['line']} ({waiver['property']} on "
                                    f"{selection(waiver)}) matched nothing", yellow=True)


def pytest_unconfigure(config):
    run = config.stash.get(RUN, None)
    if run is not None:
        run.close()


class Recorder:
    """Collects the verdict records where the reports arrive: the controller, under xdist,
    and counts the failures that are no verdict that could not be observed."""

    def __init__(self, records: list):
        self.records = records
        self.other_failures = 0  # a failing test of the user's own, say

    def pytest_runtest_logreport(self, report):
        record = getattr(report, "iso_record", None)
        if record is not None:
            self.records.append(record)
        if report.failed and (record is None or record["verdict"] != ERROR):
            self.other_failures += 1


class Workers:
    """pytest-xdist hooks, registered only when xdist is active."""

    def __init__(self, hosts_seen: dict):
        self.hosts_seen = hosts_seen

    def pytest_testnodedown(self, node, error):
        self.hosts_seen.update(getattr(node, "workeroutput", {}).get("isoverify_hosts", {}))


class HtmlReport:
    """pytest-html hooks, registered only when pytest-html is active."""

    def __init__(self, base: dict | None):
        self.baseline = base  # rows are made as tests end: each is compared with it then

    def pytest_html_report_title(self, report):
        report.title = "Container isolation report"

    def pytest_html_results_table_header(self, cells):
        cells[1:1] = HEADER_CELLS

    def pytest_html_results_table_row(self, report, cells):
        record = getattr(report, "iso_record", None)
        if record is not None and self.baseline is not None:
            [record] = baseline.mark([record], self.baseline)
        cells[1:1] = row_cells(record, of_outcome(report.outcome, report.when, hasattr(report, "wasxfail")))

    def pytest_html_results_table_html(self, report, data):
        if getattr(report, "iso_record", None) is not None:
            data.clear()  # pytest's log of a verdict says what its cells say, in pytest's words

    def pytest_html_results_summary(self, prefix, summary, postfix, session):
        meta = run_meta(session.config)
        records = session.config.stash[RECORDS]
        unmatched = meta.pop("unmatched_waivers")
        hosts = meta.pop("hosts")
        base = self.baseline
        prefix.extend([audit.print_header(meta), run_header(meta), hosts_table(hosts),
                       audit.since_baseline(records, baseline.summary(records, base) if base else None),
                       audit.score(records), audit.controls(records), audit.to_fix(records),
                       targets_summary(records), matrix(records, [p.id for p in CATALOGUE]),
                       unmatched_waivers(unmatched)])
        postfix.append(audit.ENGINEERS_TABLE)
