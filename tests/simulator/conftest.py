"""Fixtures for the simulator's tests: a running simulator, exchangelib accounts, and a hook that
validates every response body the simulator sends against Microsoft's messages.xsd."""
from __future__ import annotations

import threading

import pytest
from sim_helpers import SCHEMA_DIR, populate

from ews_simulator import core
from ews_simulator.schema import load_schema
from ews_simulator.testing import running_simulator

_FAILURES: list[str] = []
_CHECKED = [0]
_LOCK = threading.Lock()


def _validate(sim, element):
    validator = load_schema(SCHEMA_DIR)
    errors = validator.errors(element)
    with _LOCK:
        _CHECKED[0] += 1
        if errors:
            _FAILURES.append(f"{element.tag}: {errors[:3]}")


@pytest.fixture(autouse=True)
def no_internal_errors():
    """A simulator bug (an unexpected exception while serving) fails the test that triggered it."""
    before = {id(s): len(s.internal_errors) for s in list(core.ALL_SIMULATORS)}
    yield
    new = [e for s in list(core.ALL_SIMULATORS) for e in s.internal_errors[before.get(id(s), 0):]]
    assert not new, "simulator internal errors:\n" + "\n".join(new)


@pytest.fixture(autouse=True)
def schema_checked_responses():
    """Every response body sent during a test must validate; the test fails otherwise."""
    if SCHEMA_DIR is None:
        yield
        return
    core.GLOBAL_BODY_HOOKS.append(_validate)
    start = len(_FAILURES)
    try:
        yield
    finally:
        core.GLOBAL_BODY_HOOKS.remove(_validate)
    new = _FAILURES[start:]
    assert not new, "simulator responses failed schema validation:\n" + "\n".join(new)


def pytest_terminal_summary(terminalreporter):
    if SCHEMA_DIR is not None:
        terminalreporter.write_line(f"ews_simulator: {_CHECKED[0]} response bodies validated against "
                                    f"messages.xsd, {len(_FAILURES)} failed")


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="both") as handle:
        yield populate(handle)
