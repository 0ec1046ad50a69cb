"""The isolation suite: every property of the catalogue on every container.

Each test is one property on one container (`pid-managed`, `net-docker://web`);
select with -k. What each property checks, and from which evidence, is in
isoverify/properties/ (the catalogue in its __init__.py); the verdict arrives
ready, this file only gates on it: a failure of an enforced property fails the
test. An advisory or a waived failure does not, and the reports say which it is.
"""

import pytest

from isoverify.judge.words import FAIL


def test_isolation(verdict):
    if verdict.status == FAIL:
        pytest.fail(f"{verdict.property.id} on {verdict.target}: {verdict.summary}", pytrace=False)
