"""SOAP Autodiscover (/autodiscover/autodiscover.svc): GetUserSettings, the way Exchange 2013+ answers it.

Only what a notification client asks for is answered with values (ExternalEwsUrl, InternalEwsUrl,
GroupingInformation, UserDisplayName, CasVersion); other settings come back as UserSettingErrors
(InvalidSetting). Shapes: ews-samples GetUserSettings-response.xml / -howto-response.xml (MSDOC
getusersettings-operation-soap). GroupingInformation is the mailbox's `grouping` (one per simulated DAG/site);
Exchange 2010 servers do not know the setting.
"""
from __future__ import annotations

from lxml import etree

from .autodiscover import authenticated, ews_url

A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MAX_USERS = 100


def _sub(parent, name, text=None, ns=A, **attrib):
    el = etree.SubElement(parent, f"{{{ns}}}{name}", **attrib)
    if text is not None:
        el.text = text
    return el


@authenticated
def handle(app, environ, data: bytes) -> bytes:
    sim = app.sim
    sim.counters.add("GetUserSettings", "")
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
        mailboxes = [m.text or "" for m in root.iterfind(f".//{{{A}}}Users/{{{A}}}User/{{{A}}}Mailbox")]
        wanted = [s.text or "" for s in root.iterfind(f".//{{{A}}}RequestedSettings/{{{A}}}Setting")]
    except etree.XMLSyntaxError:
        mailboxes, wanted = [], []
    return _response(environ, sim, mailboxes, wanted)


def _response(environ, sim, mailboxes: list[str], wanted: list[str]) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"s": SOAP, "a": WSA})
    header = _sub(env, "Header", ns=SOAP)
    _sub(header, "Action", f"{A}/Autodiscover/GetUserSettingsResponse", ns=WSA)
    info = _sub(header, "ServerVersionInfo", nsmap={"h": A})
    v = sim.version
    for name, value in (("MajorVersion", v.major), ("MinorVersion", v.minor), ("MajorBuildNumber", v.build),
                        ("MinorBuildNumber", v.revision),
                        ("Version", "Exchange2013" if v.major >= 15 else v.header_version)):
        _sub(info, name, str(value))
    message = _sub(_sub(env, "Body", ns=SOAP), "GetUserSettingsResponseMessage", nsmap={None: A})
    response = _sub(message, "Response", nsmap={"i": XSI})
    if not mailboxes or len(mailboxes) > MAX_USERS:
        _sub(response, "ErrorCode", "InvalidRequest")
        _sub(response, "ErrorMessage", "The request is invalid.")
        return etree.tostring(env, xml_declaration=True, encoding="utf-8")
    _sub(response, "ErrorCode", "NoError")
    _sub(response, "ErrorMessage")
    answers = _sub(response, "UserResponses")
    url = ews_url(environ, sim)
    for address in mailboxes:
        _user(answers, sim, address, wanted, url)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


def _user(answers, sim, address: str, wanted: list[str], url: str) -> None:
    answer = _sub(answers, "UserResponse")
    mbx = sim.directory.mailboxes.get(address.lower()) or sim.directory.mailboxes.get(
        sim.directory.aliases.get(address.lower(), ""))
    if mbx is None:
        _sub(answer, "ErrorCode", "InvalidUser")
        _sub(answer, "ErrorMessage", f"Invalid user: '{address}'")
        _sub(answer, "RedirectTarget", **{f"{{{XSI}}}nil": "true"})
        _sub(answer, "UserSettingErrors")
        _sub(answer, "UserSettings")
        return
    values = {"UserDisplayName": mbx.name, "ExternalEwsUrl": url, "InternalEwsUrl": url,
              "CasVersion": f"{sim.version.major:02d}.{sim.version.minor:02d}.{sim.version.build:04d}.000"}
    if sim.version.major >= 15:  # GroupingInformation arrived with Exchange 2013
        values["GroupingInformation"] = mbx.grouping
    _sub(answer, "ErrorCode", "NoError")
    _sub(answer, "ErrorMessage", "No error.")
    _sub(answer, "RedirectTarget", **{f"{{{XSI}}}nil": "true"})
    errors = _sub(answer, "UserSettingErrors")
    settings = _sub(answer, "UserSettings")
    for name in wanted:
        if name in values:
            setting = _sub(settings, "UserSetting", **{f"{{{XSI}}}type": "StringSetting"})
            _sub(setting, "Name", name)
            _sub(setting, "Value", values[name])
        else:
            err = _sub(errors, "UserSettingError")
            _sub(err, "ErrorCode", "InvalidSetting")
            _sub(err, "ErrorMessage", f"The requested setting is not available: {name}")
            _sub(err, "SettingName", name)
