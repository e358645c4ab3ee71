"""ARCHITECTURE.md boundaries, enforced: a module importing across a line fails here.

- portal/ews_soap knows EWS/SOAP/NTLM/XML, nothing of Flask, SQLAlchemy, RQ, Redis or the models.
- portal/sync is pure: no I/O (no network, files, database, Redis, EWS client) and no clock.
- portal/ (outside ews_soap's own tests) never imports ews_simulator; the simulator never imports portal
  at module level.
- web views reach Exchange only through ews_soap.probe/autodiscover, and jobs only through jobs.after_commit.
- jobs, the engine and the listener import no web code; booking imports neither web code nor jobs;
  notifications import no jobs.
- importing portal.sync loads no I/O library, even transitively; `importlib.import_module("...")` strings
  count as imports.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imports_of(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at_module_level) for every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    found = []
    top_level = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _dynamic_import(node):
            found.append((node.args[0].value, node.lineno, False))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            found.append((mod, node.lineno, id(node) in top_level))
            found += [(f"{mod}.{a.name}", node.lineno, id(node) in top_level) for a in node.names]
    return found


def _dynamic_import(call: ast.Call) -> bool:
    """importlib.import_module("x") / import_module("x") / __import__("x") with a literal name."""
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name in ("import_module", "__import__") and bool(call.args) and isinstance(call.args[0], ast.Constant) \
        and isinstance(call.args[0].value, str)


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).exists() else []


def offenders(folder: str, forbidden: tuple[str, ...], module_level_only=False) -> list[str]:
    bad = []
    for f in files(folder):
        for mod, line, top in imports_of(f):
            if module_level_only and not top:
                continue
            if any(mod == p or mod.startswith(p + ".") for p in forbidden):
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {mod}")
    return bad


EWS_FORBIDDEN = ("flask", "flask_sqlalchemy", "flask_login", "flask_wtf", "sqlalchemy", "rq", "redis",
                 "portal.models", "portal.jobs", "portal.sync", "portal.extensions", "portal.settings",
                 "ews_simulator")
SYNC_FORBIDDEN = ("flask", "sqlalchemy", "rq", "redis", "requests", "zeep", "socket", "urllib.request",
                  "http", "smtplib", "subprocess", "time", "portal.models", "portal.extensions",
                  "portal.jobs", "portal.ews_soap.client", "portal.ews_soap.session", "ews_simulator")


def test_ews_soap_knows_nothing_of_flask_sqlalchemy_rq():
    assert files("portal/ews_soap"), "portal/ews_soap is missing"
    assert offenders("portal/ews_soap", EWS_FORBIDDEN) == []


def test_sync_is_pure_no_io_no_clock():
    assert files("portal/sync"), "portal/sync is missing"
    assert offenders("portal/sync", SYNC_FORBIDDEN) == []
    clock = []
    for f in files("portal/sync"):
        text = f.read_text()
        for call in ("datetime.now(", "datetime.utcnow(", "date.today(", "time.time(", "open("):
            if call in text:
                clock.append(f"{f.relative_to(ROOT)} calls {call}")
    assert clock == []


def test_portal_never_imports_the_simulator():
    assert offenders("portal", ("ews_simulator",)) == []


def test_simulator_does_not_import_portal_at_module_level():
    assert offenders("ews_simulator", ("portal",), module_level_only=True) == []


@pytest.mark.parametrize("folder", ["portal/schedule", "portal/settings", "portal/auth", "portal/notifications"])
def test_views_reach_exchange_only_through_probe_and_jobs_only_through_after_commit(folder):
    bad = []
    for f in files(folder):
        for mod, line, _top in imports_of(f):
            if mod.startswith("portal.ews_soap") and not (
                mod.startswith("portal.ews_soap.probe") or mod.startswith("portal.ews_soap.autodiscover")
                or mod.startswith("portal.ews_soap.errors") or mod.startswith("portal.ews_soap.types")
                or mod == "portal.ews_soap"
            ):
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {mod}")
            if mod.startswith(("portal.jobs", "portal.engine", "portal.listener")) \
                    and not mod.startswith(("portal.jobs.after_commit", "portal.engine.record")):
                bad.append(f"{f.relative_to(ROOT)}:{line} imports {mod}")
    assert bad == []


WEB = ("portal.schedule", "portal.settings", "portal.auth", "flask_login", "flask_wtf", "wtforms")


@pytest.mark.parametrize("folder", ["portal/jobs", "portal/engine", "portal/listener"])
def test_jobs_engine_and_listener_import_no_web_code(folder):
    assert files(folder), f"{folder} is missing"
    assert offenders(folder, WEB) == []


def test_booking_imports_neither_web_code_nor_jobs():
    assert files("portal/booking"), "portal/booking is missing"
    assert offenders("portal/booking", WEB + ("portal.jobs", "portal.engine", "portal.listener", "flask")) == []


def test_notifications_import_no_jobs():
    assert offenders("portal/notifications", ("portal.jobs", "portal.engine", "portal.listener", "rq")) == []


def test_the_detector_catches_a_violation(tmp_path, monkeypatch):
    """The checker itself can fail: a planted flask import in a fake ews_soap module is found."""
    fake = ROOT / "portal" / "ews_soap" / "_planted_violation_test.py"
    fake.write_text("import flask\nimport importlib\nfrom ..models import User\n"
                    "importlib.import_module('portal.jobs.hooks')\n")
    try:
        found = offenders("portal/ews_soap", EWS_FORBIDDEN)
    finally:
        fake.unlink()
    assert any("imports flask" in f for f in found)
    assert any("imports portal.models" in f for f in found)
    assert any("imports portal.jobs.hooks" in f for f in found)  # an importlib string counts


# What importing a package really loads, through every module it imports (ARCHITECTURE.md: portal/sync's value
# types live where nothing heavy comes with them).
IO_LIBRARIES = ("zeep", "lxml", "requests", "urllib3", "flask", "sqlalchemy", "redis", "rq")


def loaded_by(modules: list[str], path: Path = ROOT) -> list[str]:
    """Top-level packages in sys.modules after importing `modules` in a fresh interpreter."""
    code = ("import importlib, json, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))")
    done = subprocess.run([sys.executable, "-c", code], cwd=path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def package_modules(folder: str) -> list[str]:
    return [".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for f in files(folder)]


def test_sync_loads_no_io_library_even_transitively():
    loaded = loaded_by(package_modules("portal/sync"))
    assert sorted(set(loaded) & set(IO_LIBRARIES)) == []


def test_the_transitive_check_catches_a_violation(tmp_path):
    """Planted: a pure-looking package whose second module imports redis is caught through the first."""
    pkg = tmp_path / "planted_pure"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import values\n")
    (pkg / "values.py").write_text("import redis  # noqa\n")
    assert "redis" in loaded_by(["planted_pure"], tmp_path)


def test_s8_only_engine_record_moves_a_mailbox_from_one_state_to_another():
    """MailboxState.state is assigned in portal/engine/record.py only (the integration's own state aside)."""
    bad = []
    for f in files("portal"):
        if f == ROOT / "portal" / "engine" / "record.py":
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else []
            flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            for t in flat:
                if isinstance(t, ast.Attribute) and t.attr == "state" and "integ" not in ast.unparse(t.value):
                    bad.append(f"{f.relative_to(ROOT)}:{node.lineno} sets {ast.unparse(t)}")
    assert bad == []


def test_u1_every_sync_action_has_a_handler_in_the_applier():
    """The engine dispatches actions through a written-out table: an action without a handler fails here."""
    import typing

    from portal.engine.apply import HANDLERS
    from portal.sync.actions import Action

    assert set(HANDLERS) == set(typing.get_args(Action))
