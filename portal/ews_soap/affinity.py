"""Which mailboxes may share a streaming connection (EWS-FACTS §6).

Exchange 2013 and later route a notification connection to one mailbox server. Mailboxes whose SOAP
Autodiscover settings `ExternalEwsUrl` and `GroupingInformation` are equal live behind the same server and may
share a GetStreamingEvents connection (≤ 200 of them). MSDOC
exchange-web-services/how-to-maintain-affinity-between-group-of-subscriptions-and-mailbox-server;
request/response shapes: ews-samples GetUserSettings-*.xml (MSDOC getusersettings-operation-soap).

SOAP Autodiscover is its own service (`/autodiscover/autodiscover.svc`, WCF, namespace …/2010/Autodiscover),
not part of the EWS WSDL, so its one small request is written with lxml here. GroupingInformation arrived with
Exchange 2013: older servers get no call (one affinity for the whole server).
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from .errors import ProtocolError
from .xml import parse_xml

A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ACTION = f"{A}/Autodiscover/GetUserSettings"
SETTINGS = ("ExternalEwsUrl", "GroupingInformation")
MAX_USERS = 100  # GetUserSettings accepts at most 100 mailboxes per request (MSDOC getusersettings-operation-soap)


@dataclass(frozen=True)
class MailboxAffinity:
    mailbox: str
    ews_url: str | None = None
    grouping: str | None = None
    error: str | None = None  # the UserResponse's ErrorCode when it is not NoError

    @property
    def key(self) -> str | None:
        """Equal keys may share a connection; None when the server did not say."""
        if self.error or not (self.ews_url or self.grouping):
            return None
        return f"{(self.ews_url or '').lower()}|{self.grouping or ''}"


def service_url(ews_url: str) -> str:
    """On-premises the Client Access service that serves EWS also serves SOAP Autodiscover."""
    parts = urlsplit(ews_url)
    return f"{parts.scheme}://{parts.netloc}/autodiscover/autodiscover.svc"


def request_body(mailboxes: list[str], url: str) -> bytes:
    if not 1 <= len(mailboxes) <= MAX_USERS:
        raise ValueError(f"GetUserSettings takes 1 to {MAX_USERS} mailboxes")
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soap": SOAP, "a": A, "wsa": WSA, "xsi": XSI})
    header = etree.SubElement(env, f"{{{SOAP}}}Header")
    etree.SubElement(header, f"{{{A}}}RequestedServerVersion").text = "Exchange2013"
    etree.SubElement(header, f"{{{WSA}}}Action").text = ACTION
    etree.SubElement(header, f"{{{WSA}}}To").text = url
    body = etree.SubElement(env, f"{{{SOAP}}}Body")
    request = etree.SubElement(etree.SubElement(body, f"{{{A}}}GetUserSettingsRequestMessage"), f"{{{A}}}Request")
    users = etree.SubElement(request, f"{{{A}}}Users")
    for mailbox in mailboxes:
        etree.SubElement(etree.SubElement(users, f"{{{A}}}User"), f"{{{A}}}Mailbox").text = mailbox
    wanted = etree.SubElement(request, f"{{{A}}}RequestedSettings")
    for name in SETTINGS:
        etree.SubElement(wanted, f"{{{A}}}Setting").text = name
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def fetch(client, mailboxes: list[str]) -> list[MailboxAffinity]:
    """GetUserSettings for every mailbox, ⌈n/100⌉ requests through the EWS client's connection and credentials."""
    url = service_url(client.config.url)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}"'}
    out: list[MailboxAffinity] = []
    for start in range(0, len(mailboxes), MAX_USERS):
        batch = mailboxes[start:start + MAX_USERS]
        reply = client.send(request_body(batch, url), headers, url=url)
        if reply.status != 200:
            raise ProtocolError(f"Autodiscover answered HTTP {reply.status}")
        out += parse(reply.content, batch)
    return out


def parse(data: bytes, mailboxes: list[str]) -> list[MailboxAffinity]:
    """UserResponses come back in request order (MSDOC); each becomes one MailboxAffinity."""
    root = parse_xml(data)
    response = root.find(f".//{{{A}}}GetUserSettingsResponseMessage/{{{A}}}Response")
    if response is None:
        raise ProtocolError("Autodiscover answered without a GetUserSettingsResponseMessage")
    code = response.findtext(f"{{{A}}}ErrorCode") or "NoError"
    if code != "NoError":
        raise ProtocolError(f"Autodiscover GetUserSettings failed: {code} "
                            f"{response.findtext(f'{{{A}}}ErrorMessage') or ''}".strip())
    answers = response.findall(f"{{{A}}}UserResponses/{{{A}}}UserResponse")
    if len(answers) != len(mailboxes):
        raise ProtocolError(f"Autodiscover answered {len(answers)} users for {len(mailboxes)} asked")
    out = []
    for mailbox, answer in zip(mailboxes, answers, strict=True):
        user_code = answer.findtext(f"{{{A}}}ErrorCode") or "NoError"
        values = {s.findtext(f"{{{A}}}Name"): (s.findtext(f"{{{A}}}Value") or "").strip()
                  for s in answer.iterfind(f"{{{A}}}UserSettings/{{{A}}}UserSetting")}
        out.append(MailboxAffinity(mailbox, values.get("ExternalEwsUrl") or None,
                                   values.get("GroupingInformation") or None,
                                   None if user_code == "NoError" else user_code))
    return out
