"""Two simulators in one process with the same account name each accept only their own password over NTLM
(pyspnego's credential file is chosen per simulator for every handshake step)."""
import requests
from requests_ntlm import HttpNtlmAuth

from ews_simulator.testing import running_simulator

BODY = b"""<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"
 xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Header>
<t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetFolder><m:FolderShape>
<t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/>
</m:FolderIds></m:GetFolder></s:Body></s:Envelope>"""


def status(sim, password):
    with requests.Session() as s:
        s.auth = HttpNtlmAuth(sim.service_account.upn, password)
        return s.post(sim.url, data=BODY, headers={"Content-Type": "text/xml"}, timeout=10).status_code


def test_g4_same_account_name_in_two_simulators_never_shares_passwords():
    with running_simulator(auth="ntlm", service_password="First-1!") as one, \
            running_simulator(auth="ntlm", service_password="Second-2!") as two:
        one.add_mailbox(one.service_account.upn)
        two.add_mailbox(two.service_account.upn)
        assert one.service_account.upn == two.service_account.upn
        assert status(one, "First-1!") == 200 and status(two, "Second-2!") == 200
        assert status(one, "Second-2!") == 401 and status(two, "First-1!") == 401
