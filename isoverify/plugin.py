"""The pytest front end: options, fixtures and hooks. It plans a run (run.py), which
collects (isoverify.collect) and judges (isoverify.judge); it reports (isoverify.report)."""

import contextlib
import datetime
import gc
import getpass
import importlib.util
import re
import shlex
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from isoverify import __version__, hooks, user_checks
from isoverify.collect.observe import DEFAULT_TIMEOUT, INSIDE_PATHS
from isoverify.errors import SetupError, TargetError, UsageError, WaiverError
from isoverify.judge.catalogue import BY_ID, CATALOGUE, DEFAULT_PROFILE, PROFILES, judged_in, own_property
from isoverify.judge.waivers import Waivers, load, selection
from isoverify.judge.words import ERROR, FAIL, PASS, VERDICTS
from isoverify.report import baseline, page, policy_report, sarif
from isoverify.report.html import guidance_properties, write_json
from isoverify.run import DEFAULT_IMAGE, PlannedContainer, Run

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # --iso-run: what names a sweep of runs
EXIT_UNOBSERVABLE = 6  # the run could not observe what it was asked to verify

RUN = pytest.StashKey[Run]()
RECORD = pytest.StashKey[dict]()  # the verdict of a test, as every report carries it
RECORDS = pytest.StashKey[list]()
STARTED = pytest.StashKey[str]()
HOSTS_SEEN = pytest.StashKey[dict]()  # host descriptions sent by xdist workers
OWN_PROPERTY = pytest.StashKey[object]()  # the property a test of the user's own decides
TRANSCRIPT = pytest.StashKey[user_checks.Transcript]()  # the commands a test ran through the fixtures


def pytest_addhooks(pluginmanager):
    pluginmanager.add_hookspecs(hooks)
BASELINE = pytest.StashKey[dict | None]()  # the earlier run's verdicts (--iso-baseline)


def pytest_addoption(parser):
    group = parser.getgroup("isoverify", "container isolation (isoverify)")
    group.addoption("--iso-host", action="append", default=[], metavar="URL",
                    help="a host, as a testinfra URL (local://, ssh://, paramiko://, ansible://), "
                         "vagrant://NAME[?root=DIR], or node:// (the node under the suite's own pod); "
                         "repeatable; default: local://")
    group.addoption("--iso-container", action="append", default=[], metavar="URL",
                    help="a container to verify on each host: docker://NAME-or-ID, podman://NAME-or-ID, "
                         "docker://* (every running one), docker://*?label=KEY=VALUE, pid://PID, or "
                         "cri://* (every pod container of the node's CRI runtime; ?namespace=, ?pod=, ...) "
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
    group.addoption("--iso-report", default=None, metavar="PATH",
                    help="write the auditor's report there: one self-contained HTML page")
    group.addoption("--iso-json", default=None, metavar="PATH",
                    help="write the JSON results there")
    group.addoption("--iso-baseline", default=None, metavar="PATH",
                    help="an earlier run's JSON results: mark each verdict new, fixed or unchanged against it")
    group.addoption("--iso-oscal", default=None, metavar="PATH",
                    help="write the run there as an OSCAL assessment results document (JSON)")
    group.addoption("--iso-policy-report", default=None, metavar="PATH",
                    help="write the run there as Kubernetes Policy Reports (wgpolicyk8s.io/v1alpha2, YAML): "
                         "one per pod namespace, one cluster-wide for the rest")
    group.addoption("--iso-sarif", default=None, metavar="PATH",
                    help="write the run there as SARIF 2.1.0 (JSON), each property a rule")
    group.addoption("--iso-run", default=None, metavar="ID",
                    help="name the run in its results (letters, digits, . _ -): `isoverify merge --run=ID` "
                         "takes only the results of one sweep")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    try:
        waivers_file = config.getoption("iso_waivers")
        # property IDs are checked once the user's own are collected too
        waivers = Waivers(load(Path(waivers_file), None), path=Path(waivers_file)) if waivers_file else None
        config.stash[RUN] = Run(
            hosts=tuple(config.getoption("iso_host")) or ("local://",),
            containers=tuple(config.getoption("iso_container")),
            image=config.getoption("iso_image"), profile=config.getoption("iso_profile"),
            timeout=config.getoption("iso_timeout"), labels=tuple(config.getoption("iso_label")),
            waivers=waivers, inside=config.getoption("iso_inside"),
            # testinfra's own options, for every ssh host
            ssh_config=config.getoption("ssh_config", None),
            ssh_identity_file=config.getoption("ssh_identity_file", None),
        )
        if config.getoption("iso_oscal") and importlib.util.find_spec("trestle") is None:
            raise UsageError("--iso-oscal needs compliance-trestle: pip install 'isoverify[oscal]'")
        if config.getoption("iso_run") is not None and not RUN_ID.fullmatch(config.getoption("iso_run")):
            raise UsageError(f"--iso-run {config.getoption('iso_run')!r}: use 1 to 64 letters, digits and . _ -")
        baseline_file = config.getoption("iso_baseline")
        config.stash[BASELINE] = baseline.load(Path(baseline_file)) if baseline_file else None
    except (UsageError, WaiverError, baseline.BaselineError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RECORDS] = []
    config.stash[HOSTS_SEEN] = {}
    config.pluginmanager.register(Recorder(config.stash[RECORDS]), "isoverify-records")
    config.pluginmanager.register(Stopped(config), "isoverify-stopped")
    config.stash[STARTED] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    config.addinivalue_line("markers", "iso_property(id, title, controls=(), profile='seed', advisory=False): "
                            "this test is an isolation property of the run (see README: Writing your own checks)")
    for control in {c for prop in CATALOGUE for c in prop.controls}:
        config.addinivalue_line("markers", f"{control.marker}: evidences {control}")
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlLog(), "isoverify-html-log")
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


def _or_end_run(call, *args):
    """`call(*args)`, or the run stops with one line when it cannot go on at all."""
    try:
        return call(*args)
    except SetupError as exc:
        pytest.exit(f"isoverify: {exc}", returncode=EXIT_UNOBSERVABLE)


def _planned(run: Run) -> list[PlannedContainer]:
    return _or_end_run(run.plan.containers)


def pytest_collection(session):
    """The plan's selections (`docker://*`, `cri://*`) are made before any module is collected: an
    engine or a runtime that cannot be asked ends the run in one line, not as a module's collection
    error. An xdist controller collects nothing itself: its workers plan."""
    if getattr(session.config.option, "numprocesses", None) and not hasattr(session.config, "workerinput"):
        return
    _planned(session.config.stash[RUN])


def pytest_generate_tests(metafunc):
    """The catalogue, and any test taking `iso_container` or `iso_host`, once per target of
    the run; ids are built from what the user typed, never from what a target said."""
    run = metafunc.config.stash[RUN]
    names = metafunc.fixturenames
    if "iso_case" in names:
        controls = {prop.id: [getattr(pytest.mark, c.marker) for c in prop.controls] for prop in CATALOGUE}
        groups = {host.url: pytest.mark.xdist_group(host.url) for host in run.plan.hosts}
        metafunc.parametrize("iso_case", [
            pytest.param((prop.id, slot), id=f"{prop.id}-{slot.id}", marks=[groups[slot.host.url], *controls[prop.id]])
            for slot in _planned(run) for prop in judged_in(run.judge.profile)])
    elif "iso_container" in names:
        metafunc.parametrize("iso_container", [
            pytest.param(slot, id=slot.id, marks=pytest.mark.xdist_group(slot.host.url))
            for slot in _planned(run)], indirect=True)
    elif "iso_host" in names:
        metafunc.parametrize("iso_host", [
            pytest.param(host, id=re.sub(r"[^A-Za-z0-9_.:/@-]", "_", run.plan.host_label(host)),
                         marks=pytest.mark.xdist_group(host.url))
            for host in run.plan.hosts], indirect=True)


@pytest.hookimpl(tryfirst=True)  # before -m and -k deselect: the controls' markers select too
def pytest_collection_modifyitems(config, items):
    """Tests marked `iso_property` become properties of the run, one ID each: selected by
    their controls' markers, and waivable by their ID."""
    first_of: dict[str, tuple] = {}
    for item in items:
        marker = item.get_closest_marker("iso_property")
        if marker is None:
            continue
        if not {"iso_container", "iso_host"} & set(getattr(item, "fixturenames", ())):
            raise pytest.UsageError(f"{item.nodeid}: a test marked iso_property takes iso_container or "
                                    "iso_host, so that it is judged on each target of the run (testinfra's "
                                    "`host` is the machine running the suite, not a target)")
        try:
            prop = own_property(*marker.args, **marker.kwargs)
        except (TypeError, ValueError) as exc:
            raise pytest.UsageError(f"{item.nodeid}: iso_property: {exc}") from None
        test = (item.path, getattr(item, "originalname", item.name))
        if first_of.setdefault(prop.id, test) != test:
            raise pytest.UsageError(f"{item.nodeid}: property ID {prop.id!r} is another test's too: "
                                    "give each check an ID of its own")
        item.stash[OWN_PROPERTY] = prop
        for control in prop.controls:
            config.addinivalue_line("markers", f"{control.marker}: evidences {control}")
            item.add_marker(control.marker)
    try:
        config.stash[RUN].judge.waivers.check(set(BY_ID) | set(first_of))
    except WaiverError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_collection_finish(session):
    """The user's own facts join the probe: every conftest is loaded by now. The items
    collected live to the end of the run: the cyclic collector need not walk them again."""
    gc.freeze()
    config = session.config
    try:
        extra = user_checks.own_facts(config.hook.pytest_isoverify_container_facts(config=config))
    except ValueError as exc:
        raise pytest.UsageError(f"pytest_isoverify_container_facts: {exc}") from None
    config.stash[RUN].observations.own_facts = extra


@pytest.fixture(scope="session")
def iso_run(request):
    """The run; its managed container is removed when the session ends, however it ends."""
    run = request.config.stash[RUN]
    yield run
    run.close()


def _keep_record(item, result, slot: PlannedContainer | None = None):
    """Keep the verdict for the reports, JUnit's properties included; a catalogue verdict's
    record says what its target is (`slot`), a check of your own's does not."""
    record = item.stash[RECORD] = {**result.as_record(), **(slot.subject() if slot is not None else {})}
    item.user_properties.extend([
        ("isoverify.property", result.property.id),
        ("isoverify.target", result.target),
        ("isoverify.verdict", result.status),
        ("isoverify.enforced", str(result.enforced).lower()),
        ("isoverify.controls", "; ".join(map(str, result.property.controls))),
        *guidance_properties(record),
    ])
    return result


@pytest.fixture
def verdict(request, iso_run, iso_case):
    """The verdict on this test's property and container; an error verdict errors the test."""
    result = _keep_record(request.node, _or_end_run(iso_run.verdict, *iso_case), iso_case[1])
    if result.status == ERROR:
        pytest.fail(f"{result.property.id} on {result.target}: {result.summary}", pytrace=False)
    return result


def _transcript(item) -> user_checks.Transcript:
    if TRANSCRIPT not in item.stash:
        item.stash[TRANSCRIPT] = user_checks.Transcript()
    return item.stash[TRANSCRIPT]


def _unobservable(item, target: str, why: str):
    """A target a check cannot look at: an error of that check, never a pass."""
    prop = item.stash.get(OWN_PROPERTY, None)
    if prop is not None:
        _keep_record(item, item.config.stash[RUN].judge.error(prop, target, why))
    pytest.fail(f"{target}: {why}", pytrace=False)


@pytest.fixture
def iso_container(request, iso_run):
    """A container of the run, each in turn: testinfra's modules inside it, through its
    engine's exec, confined as it is; `.facts` is what the suite read of it."""
    slot = request.param
    try:
        host_facts, facts = _or_end_run(iso_run.facts, slot)
    except TargetError as exc:
        _unobservable(request.node, slot.label, str(exc))
    observations = iso_run.observations
    return user_checks.IsoContainer(observations.target(slot), slot.label, host_facts, facts, _transcript(request.node),
                            observations.timeout, user_checks.host_views(observations.own_facts))


@pytest.fixture
def iso_host(request, iso_run):
    """A host of the run, each in turn (or this test's container's): testinfra's modules
    there, over the run's connection; `.facts` is what the suite read of it."""
    callspec = getattr(request.node, "callspec", None)
    slot = callspec.params.get("iso_container") if callspec else None
    host = slot.host if slot is not None else request.param
    label = iso_run.plan.host_label(host)
    try:
        facts = _or_end_run(iso_run.host_facts, host)
    except TargetError as exc:
        _unobservable(request.node, label, str(exc))
    return user_checks.IsoHost(host, label, facts, _transcript(request.node))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test marked iso_property is a verdict: a failed assertion a failure (an advisory
    where the profile does not enforce it, waived where a waiver accepts it), anything
    else going wrong an error, never a pass; its evidence is every command it ran, those
    through testinfra's own `host` (not a target of the run) marked as that machine's."""
    prop = item.stash.get(OWN_PROPERTY, None)
    if prop is None:
        return (yield)
    container = item.funcargs.get("iso_container")
    target = container.label if container is not None else item.funcargs["iso_host"].label
    testinfra_host, suite_machine, watching = user_checks.testinfra_host(item.funcargs), "", contextlib.nullcontext()
    if testinfra_host is not None:
        slot = item.callspec.params.get("iso_container")
        suite_machine = user_checks.machine(testinfra_host, slot.host if slot else item.callspec.params["iso_host"])
        watching = user_checks.recorded(testinfra_host, suite_machine, _transcript(item))
    raised, result = None, None
    try:
        with watching:
            result = yield
    except pytest.skip.Exception:
        raise
    except (AssertionError, pytest.fail.Exception) as exc:
        raised, status = exc, FAIL
    except Exception as exc:  # the check could not decide: an error
        raised, status = exc, ERROR
    else:
        status = PASS
    found = _keep_record(item, user_checks.verdict(item.config.stash[RUN].judge, prop, target, status, raised,
                                     _transcript(item), container.facts if container is not None else None,
                                     suite_machine))
    if found.status in (FAIL, ERROR):
        raise raised
    return result


CATALOGUE_FIXTURES = {"verdict", "iso_run", "iso_case", "request"}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    """A property of the catalogue is a lookup of its verdict: it needs none of pytest's
    per-test machinery (fixtures, capture, call and teardown phases), only its reports,
    which go through the same hooks as every test's (terminal, JUnit, HTML, xdist). A test
    with more to set up — an autouse fixture of the user's — takes the ordinary way."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or "iso_case" not in callspec.params or set(item.fixturenames) - CATALOGUE_FIXTURES:
        return None
    started, hooks = time.time(), item.ihook
    hooks.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    case = callspec.params["iso_case"]
    found = _keep_record(item, _or_end_run(item.config.stash[RUN].verdict, *case), case[1])
    why = f"{found.property.id} on {found.target}: {found.summary}"
    phases = ([("setup", "failed", why), ("teardown", "passed", None)] if found.status == ERROR else
              [("setup", "passed", None), ("call", "failed" if found.status == FAIL else "passed",
                                           why if found.status == FAIL else None), ("teardown", "passed", None)])
    keywords = {name: 1 for name in item.keywords}
    for when, outcome, longrepr in phases:
        report = pytest.TestReport(item.nodeid, item.location, keywords, outcome, longrepr, when,
                                   duration=time.time() - started, start=started, stop=time.time(),
                                   user_properties=item.user_properties)
        if when == "call" or outcome == "failed":
            report.iso_record = item.stash[RECORD]
            report.iso_unjudged = found.status == ERROR
        else:
            report.iso_bookkeeping = True  # a phase that passed: no row of pytest-html's log shows it
        hooks.pytest_runtest_logreport(report=report)
    hooks.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the verdict's record to the report that decides the test (xdist carries it along)."""
    test_report = yield
    found = item.stash.get(RECORD, None)
    decisive = call.when == "call" or (call.when == "setup" and test_report.failed)
    if found is not None and decisive:
        test_report.iso_record = found
        # a target the suite could not observe, not an exception of a check's own code
        test_report.iso_unjudged = (found["verdict"] == ERROR and test_report.failed and call.excinfo is not None
                                    and isinstance(call.excinfo.value, (TargetError, pytest.fail.Exception)))
    return test_report


def command_as_typed(argv: list[str]) -> str:
    """The command line as it was typed: `isoverify …` for the installed command (or its
    module), else `pytest …`; what pytest adds itself (the defaults) is not shown."""
    program = "isoverify" if Path(argv[0]).name in ("isoverify", "cli.py") else "pytest"
    return shlex.join([program, *argv[1:]])


def run_meta(config) -> dict:
    """When, by whom, where and how: the header of every report."""
    run = config.stash[RUN]
    hosts = {**run.describe_hosts(), **config.stash[HOSTS_SEEN]}
    records, waivers = config.stash[RECORDS], run.judge.waivers
    return {
        "started": config.stash[STARTED],
        "by": f"{getpass.getuser()}@{socket.gethostname()}",
        "command": command_as_typed(sys.argv),
        "isoverify": __version__,
        "profile": run.judge.profile,
        "hosts": [{"host": run.plan.host_label(host), **hosts.get(run.plan.host_label(host), {})}
                  for host in run.plan.hosts],
        "unmatched_waivers": [w.as_record(waivers.today) for w in
                              waivers.unmatched({line for r in records for line in r["matching_waivers"]})],
        **({"run": config.getoption("iso_run")} if config.getoption("iso_run") else {}),
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
    compared = {**meta, **({"baseline": baseline.summary(records, base)} if base else {})}
    path = config.getoption("iso_json")
    if path:
        write_json(Path(path), records, compared)
    report_path = config.getoption("iso_report")
    if report_path:
        page.write(Path(report_path), records, compared, companions(config))
    oscal_path = config.getoption("iso_oscal")
    if oscal_path:
        from isoverify.report import oscal  # its models take a moment to load: only when asked for
        oscal.write(Path(oscal_path), records, meta)
    for option, report in (("iso_policy_report", policy_report), ("iso_sarif", sarif)):
        if config.getoption(option):
            report.write(Path(config.getoption(option)), records, meta)


def companions(config) -> dict[str, Path]:
    """The run's other files, by whom each is for: the auditor's page links them."""
    written = {"every verdict with its evidence, for machines (JSON)": config.getoption("iso_json"),
               "for CI dashboards (JUnit XML)": getattr(config.option, "xmlpath", None),
               "the developers' log of the test run": getattr(config.option, "htmlpath", None)}
    return {whom: Path(where) for whom, where in written.items() if where}


NOT_JUDGED = "not judged"  # the terminal's word for a verdict that could not be reached


def pytest_report_teststatus(report, config):
    """A property that could not be judged for want of its target is one line of the summary
    per target and reason (a missing container: one line, not a block per property); pytest's
    error blocks stay for what went wrong in a test's own code."""
    if getattr(report, "iso_unjudged", False):
        return NOT_JUDGED, "E", "ERROR"
    return None


def not_judged_lines(records: list[dict]) -> list[str]:
    """One line per target and reason that left its properties unjudged, in the order met."""
    reasons = Counter((r["target"], r["summary"]) for r in records if r["verdict"] == ERROR)
    return [f"{target}: {reason}" + (f" ({count} properties not judged)" if count > 1 else "")
            for (target, reason), count in reasons.items()]


def pytest_terminal_summary(terminalreporter, config):
    counts = Counter(record["verdict"] for record in config.stash[RECORDS])
    if counts:
        terminalreporter.write_line("isoverify: " + ", ".join(f"{counts[word]} {word}" for word in VERDICTS))
    for line in not_judged_lines(config.stash[RECORDS]):
        terminalreporter.write_line(f"isoverify: {line}", red=True)
    base = config.stash.get(BASELINE, None)
    if base is not None:
        for line in baseline.terminal_lines(config.stash[RECORDS], base):
            terminalreporter.write_line(f"isoverify: {line}")
    for waiver in run_meta(config)["unmatched_waivers"]:
        terminalreporter.write_line(f"isoverify: waiver at line {waiver['line']} ({waiver['property']} on "
                                    f"{selection(waiver)}) matched nothing", yellow=True)
    report_path = config.getoption("iso_report")
    if report_path and config.stash[RECORDS]:
        terminalreporter.write_line(f"isoverify: the auditor's report: {Path(report_path).resolve().as_uri()}")


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


class Stopped:
    """A run that cannot go on ends with its one line naming the fix, not with pytest's
    banner around the exception's type (`! _pytest.outcomes.Exit: … !`)."""

    def __init__(self, config):
        self.config = config

    @pytest.hookimpl(trylast=True)  # after the terminal has kept the exception for its banner
    def pytest_keyboard_interrupt(self, excinfo):
        stopped = excinfo.value
        if not (isinstance(stopped, pytest.exit.Exception) and stopped.returncode == EXIT_UNOBSERVABLE):
            return
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None:
            sys.stderr.write(f"{stopped.msg}\n")
            return
        terminal.write_line(stopped.msg, red=True)
        terminal._keyboardinterrupt_memo = None  # pytest 8's banner: said already, in one line


class Workers:
    """pytest-xdist hooks, registered only when xdist is active."""

    def __init__(self, hosts_seen: dict):
        self.hosts_seen = hosts_seen

    def pytest_testnodedown(self, node, error):
        self.hosts_seen.update(getattr(node, "workeroutput", {}).get("isoverify_hosts", {}))


class HtmlLog:
    """pytest-html hooks, registered only when pytest-html is active: its page is the
    developers' log of the test run, as pytest-html makes it."""

    def pytest_html_results_table_row(self, report, cells):
        if getattr(report, "iso_bookkeeping", False):
            cells.clear()  # pytest-html drops the row of a phase that passed: it is not built either
