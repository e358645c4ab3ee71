"""G2: server affinity of mailboxes from SOAP Autodiscover GetUserSettings (EWS-FACTS §6), over real
HTTP with NTLM against the simulator, and Microsoft's published GetUserSettings responses parsed the same way."""
from __future__ import annotations

from pathlib import Path

import pytest
from ews_simkit import ALICE, BOB, CAROL, counting, populate, session

from portal.ews_soap import AuthenticationFailed, ProtocolError
from portal.ews_soap.affinity import MAX_USERS, parse, request_body, service_url
from portal.ews_soap.transport import close_pools

running_simulator = pytest.importorskip("ews_simulator.testing").running_simulator
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "ews-samples"


@pytest.fixture(scope="module")
def sim():
    with running_simulator(version="2016", auth="ntlm") as s:
        populate(s)
        s.sim.directory.mailboxes[CAROL].grouping = "EXSIM-DAG2"
        for i in range(150):
            s.add_mailbox(f"staff{i:03d}@example.com", grouping=f"EXSIM-DAG{1 + i % 3}")
        yield s
        close_pools()


def test_g2_affinity_groups_mailboxes_by_ews_url_and_grouping_information(sim):
    found = session(sim).mailbox_affinity([ALICE, BOB, CAROL, "nobody@example.com"])
    assert [a.mailbox for a in found] == [ALICE, BOB, CAROL, "nobody@example.com"]
    alice, bob, carol, nobody = found
    assert alice.ews_url == sim.url and alice.grouping == "EXSIM-DAG1"
    assert alice.key == bob.key != carol.key
    assert carol.grouping == "EXSIM-DAG2"
    assert nobody.error == "InvalidUser" and nobody.key is None


def test_g2_affinity_of_150_mailboxes_costs_two_requests(sim):
    boxes = [f"staff{i:03d}@example.com" for i in range(150)]
    with counting(sim) as by_op:
        found = session(sim).mailbox_affinity(boxes)
    assert by_op()["GetUserSettings"] == 2  # ⌈150 / 100⌉
    assert {a.grouping for a in found} == {"EXSIM-DAG1", "EXSIM-DAG2", "EXSIM-DAG3"}
    assert found[4].grouping == "EXSIM-DAG2"  # answers stay in request order


def test_g4_affinity_with_a_wrong_password_is_an_authentication_failure(sim):
    with pytest.raises(AuthenticationFailed):
        session(sim, password="wrong").mailbox_affinity([ALICE])


def test_g2_exchange_2010_answers_no_grouping_information():
    with running_simulator(version="2010_SP2", auth="basic") as s:
        s.add_mailbox(ALICE)
        (alice,) = session(s, auth="basic", version="2010_SP2").mailbox_affinity([ALICE])
    assert alice.ews_url == s.url and alice.grouping is None


def test_g2_affinity_request_shape_and_limits():
    body = request_body([ALICE, BOB], service_url("https://mail.example.com/EWS/Exchange.asmx"))
    assert b"https://mail.example.com/autodiscover/autodiscover.svc" in body
    assert body.count(b"<a:Mailbox>") == 2 and b"GroupingInformation" in body
    with pytest.raises(ValueError):
        request_body([ALICE] * (MAX_USERS + 1), "https://x/autodiscover/autodiscover.svc")
    with pytest.raises(ProtocolError):
        parse(b"<html>Service unavailable</html>", [ALICE])


def _published(name: str) -> bytes:
    if not SAMPLES.is_dir():
        pytest.skip("../shared/ews-samples is not beside this checkout (Microsoft's published messages)")
    text = (SAMPLES / name).read_text(encoding="utf-8")
    # The samples README's normalisations: https namespaces back to http, double escaping, a missing '>'.
    text = text.replace("https://schemas.", "http://schemas.").replace("&amp;amp;", "&amp;")
    text = text.replace("&amp;lt;", "&lt;").replace("&amp;gt;", "&gt;").rstrip()
    return (text if text.endswith(">") else text + ">").encode()


def test_g2_microsofts_published_get_user_settings_response_parses():
    (mara,) = parse(_published("GetUserSettings-howto-response.xml"), ["mara@contoso.com"])
    assert mara.ews_url == "https://mail.contoso.com/EWS/Exchange.asmx"
    assert mara.grouping == "CONTOSO-1" and mara.key == "https://mail.contoso.com/ews/exchange.asmx|CONTOSO-1"
