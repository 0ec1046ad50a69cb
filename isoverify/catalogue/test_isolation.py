"""The isolation suite: every property of the catalogue on every container.

Each test is one property on one container (`pid-managed`, `net-docker://web`);
select with -k. What each property checks, and from which evidence, is in
isoverify/properties/ (the catalogue in its __init__.py); the verdict arrives
ready, this file only gates on it.
"""

import pytest

from isoverify.verdicts import ADVISORY, PASS, WAIVED


def test_isolation(verdict):
    if verdict.status == ADVISORY:
        pytest.xfail(f"advisory, not enforced by this profile: {verdict.summary}")
    if verdict.status == WAIVED:
        pytest.xfail(f"waived until {verdict.waiver['expires']} ({verdict.waiver['reason']}): {verdict.summary}")
    if verdict.status != PASS:
        pytest.fail(f"{verdict.property.id} on {verdict.target}: {verdict.summary}", pytrace=False)
