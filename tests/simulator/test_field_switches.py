"""The switches for the server behaviours of the field report (S6/I1, U6, G10): each is listed in the
simulator's README and `fault --help`, reachable from the `fault` CLI, and cleared by faults.clear()."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ews_simulator.admin import FAULT_METHODS
from ews_simulator.testing import running_simulator

ROOT = Path(__file__).resolve().parents[2]
SWITCHES = ("cannot_find_user", "impersonation_out_of_scope", "calendar_view_unexpanded", "calendar_view_partial",
            "update_keeps_time")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ews_simulator", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30)


@pytest.mark.parametrize("name", SWITCHES)
def test_s6_u6_g10_switch_is_documented_and_reachable(name):
    readme = (ROOT / "ews_simulator" / "README.md").read_text()
    assert f"`{name}(" in readme and name in FAULT_METHODS
    assert name in _cli("fault", "--help").stdout


def test_s6_u6_g10_switches_from_the_cli_and_cleared():
    with running_simulator(version="2016", auth="basic") as sim:
        assert _cli("fault", "--url", sim.base_url, "cannot_find_user").returncode == 0
        assert _cli("fault", "--url", sim.base_url, "update_keeps_time", "always=true").returncode == 0
        assert _cli("fault", "--url", sim.base_url, "calendar_view_partial").returncode == 0
        assert sim.sim.directory.missing_code == "ErrorCannotFindUser"
        assert sim.faults.update_keeps_time_mode == "always" and sim.faults.calendar_view_mode == "partial"
        sim.faults.clear()
        assert sim.sim.directory.missing_code == "ErrorNonExistentMailbox"
        assert sim.faults.update_keeps_time_mode is None and sim.faults.calendar_view_mode == "expanded"
