"""TLS, Autodiscover, the version table, the demo seed and the command line."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from lxml import etree
from requests_ntlm import HttpNtlmAuth
from sim_helpers import ALICE, account, needs_schema, populate

from ews_simulator import seed
from ews_simulator.schema import load_schema
from ews_simulator.soap import server_version_header
from ews_simulator.testing import running_simulator
from ews_simulator.versions import VERSIONS

ROOT = Path(__file__).resolve().parents[2]
GET_FOLDER = (b'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"'
              b' xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" '
              b'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion '
              b'Version="Exchange2013"/></s:Header><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly'
              b'</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds>'
              b'</m:GetFolder></s:Body></s:Envelope>')


def test_tls_with_connection_bound_ntlm(tmp_path):
    with running_simulator(tls=True, auth="ntlm") as sim:
        populate(sim)
        ca = tmp_path / "ca.pem"
        ca.write_text(sim.ca_pem)
        assert sim.url.startswith("https://")
        session = requests.Session()
        session.auth = HttpNtlmAuth(f"{sim.service_account.domain}\\svc-sundial", sim.service_account.password)
        r = session.post(sim.url, data=GET_FOLDER, verify=str(ca), timeout=10,
                         headers={"Content-Type": "text/xml"})
        assert r.status_code == 200 and "ErrorNonExistentMailbox" in r.text  # authenticated; no own mailbox
        assert [h.status_code for h in r.history] == [401, 401]  # NTLM negotiate + challenge
        r = session.post(sim.url, data=GET_FOLDER, verify=str(ca), timeout=10)
        assert r.status_code == 200 and r.history == []  # the TLS connection stays authenticated
        with pytest.raises(requests.exceptions.SSLError):
            requests.post(sim.url, data=GET_FOLDER, timeout=10)


def test_pox_autodiscover_returns_ews_url():
    with running_simulator(auth="basic", version="2010_SP1") as sim:
        populate(sim)
        body = ('<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
                '<Request><EMailAddress>a.smith@example.com</EMailAddress><AcceptableResponseSchema>'
                'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a'
                '</AcceptableResponseSchema></Request></Autodiscover>')
        r = requests.post(sim.autodiscover_url, data=body, auth=(ALICE, "Password1!"), timeout=10)
        tree = etree.fromstring(r.content)
        ns = {"o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
        assert tree.findtext(".//o:EwsUrl", namespaces=ns) == sim.url
        assert tree.findtext(".//o:AutoDiscoverSMTPAddress", namespaces=ns) == ALICE
        assert tree.findtext(".//o:ServerVersion", namespaces=ns) == "738180DA"  # 14.1.218
        missing = requests.post(sim.autodiscover_url, data=body.replace("a.smith", "zed"),
                                auth=(ALICE, "Password1!"), timeout=10)
        assert b"<ErrorCode>500</ErrorCode>" in missing.content
        bad = requests.post(sim.autodiscover_url, data=b"<nope/>", auth=(ALICE, "Password1!"), timeout=10)
        assert b"<ErrorCode>600</ErrorCode>" in bad.content


@needs_schema
@pytest.mark.parametrize("key", sorted(VERSIONS))
def test_server_version_info_validates(key):
    assert load_schema().errors(server_version_header(VERSIONS[key])) == []


@pytest.mark.parametrize(("key", "api"), [("2010_SP2", "Exchange2010_SP2"), ("2019", "Exchange2016")])
def test_exchangelib_guesses_version(key, api):
    with running_simulator(version=key, auth="ntlm") as sim:
        populate(sim)
        acc = account(sim, ALICE)
        assert acc.version.api_version == api
        assert acc.calendar.name == "Calendar"


def test_demo_seed_matches_portal_demo_staff():
    try:
        from portal.demo import DEMO_STAFF
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"portal.demo not importable here: {exc}")
    assert seed.own_staff() == list(DEMO_STAFF)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port, state, *extra):
    proc = subprocess.Popen([sys.executable, "-m", "ews_simulator", "--port", str(port), "--seed", "demo",
                             "--state", str(state), "--auth", "basic", "--no-validate", *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "mailboxes:" in line:
            break
    return proc, "".join(lines)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ews_simulator", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30)


def _elapsed(url) -> float:
    began = time.monotonic()
    assert requests.post(url, data=GET_FOLDER, timeout=5).status_code == 401
    return time.monotonic() - began


def test_cli_demo_seed_outlook_and_state_file(tmp_path):
    port, state = _free_port(), tmp_path / "state.pickle"
    proc, banner = _start(port, state, "--latency-ms", "400")
    try:
        assert "svc-sundial@sundial-demo.test" in banner and "Demo-Exchange-2026!" in banner
        assert f"http://127.0.0.1:{port}/EWS/Exchange.asmx" in banner and "mailboxes: 26" in banner
        url = f"http://127.0.0.1:{port}"
        assert _elapsed(f"{url}/EWS/Exchange.asmx") >= 0.4  # --latency-ms 400 (a 401 waits too)
        assert _cli("fault", "--url", url, "latency_ms", "value=0").returncode == 0
        assert _elapsed(f"{url}/EWS/Exchange.asmx") < 0.4
        out = _cli("outlook", "--url", url, "zoe.chen@sundial-demo.test", "create", "subject=CLI event",
                   "start=2027-05-03T10:00:00+00:00", "end=2027-05-03T11:00:00+00:00")
        assert out.returncode == 0 and '"ok": true' in out.stdout
        assert _cli("fault", "--url", url, "http_503", "n=1").returncode == 0
        r = requests.post(f"{url}/EWS/Exchange.asmx", data=GET_FOLDER, timeout=5)
        assert r.status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    proc, _ = _start(port, state)
    try:
        time.sleep(0.2)
        out = _cli("outlook", "--url", f"http://127.0.0.1:{port}", "zoe.chen@sundial-demo.test", "items")
        assert "CLI event" in out.stdout  # the state file kept it
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("access", ["impersonation", "delegate"])
def test_g5_demo_seed_is_reachable_by_the_service_account(access):
    from datetime import timedelta

    from exchangelib import EWSDateTime, EWSTimeZone
    with running_simulator(seed="demo", auth="ntlm") as sim:
        assert sim.service_account.upn == "svc-sundial@sundial-demo.test"
        assert sim.service_account.password == "Demo-Exchange-2026!" and sim.service_account.domain == "SUNDIAL-DEMO"
        staff = seed.demo_staff()
        assert len(staff) == 25 and len(sim.directory.mailboxes) == 26  # + the service account's own (S6)
        acc = account(sim, staff[0][1], access=access)
        now = EWSDateTime.now(tz=EWSTimeZone("UTC"))
        items = list(acc.calendar.view(start=now - timedelta(days=7), end=now + timedelta(days=21)))
        kinds = {i.type for i in items}
        assert "Occurrence" in kinds and "Single" in kinds
        assert {i.legacy_free_busy_status for i in items} >= {"Busy"}
        everyone = [i for s in staff for i in sim.outlook(s[1]).items()]
        assert any(i.sensitivity == "Private" for i in everyone) and any(i.free_busy == "Free" for i in everyone)
        assert any(i.is_all_day for i in everyone)
