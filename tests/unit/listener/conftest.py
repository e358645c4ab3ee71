"""Fixtures for the listener's unit tests (the fakes live in listener_fakes.py)."""
from __future__ import annotations

import pytest
from listener_fakes import FakeSession, RecordingTrigger


@pytest.fixture
def fake_session():
    return FakeSession()


@pytest.fixture
def recorder():
    return RecordingTrigger()
