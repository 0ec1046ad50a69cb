"""The hooks isoverify adds to pytest: implement them in a conftest.py or a plugin."""


def pytest_isoverify_container_facts(config):
    """Facts of your own to read about every container, in the suite's one probe per host.

    Return a dict of names to `isoverify.facts.Fact`: each one's command runs on the host
    (as the prober: root there) in a shell of the host's started for that container, with `$pid` its
    main process as the host numbers it, and its output goes to the fact's `parse`. Read
    the kernel's files under /proc/$pid; never run, load or follow anything of the
    container's (its binaries, libraries or links) there. A check reads the value with
    `iso_container.fact(NAME)`.
    """
