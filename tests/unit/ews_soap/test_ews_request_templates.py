"""Issue 15 (G2 safety net): SyncFolderItems requests come from a template zeep rendered once per shape — the
same envelope zeep renders itself, only the strings put in; anything the template cannot vouch for goes to zeep."""
from __future__ import annotations

import pytest
from ews_testkit import config
from lxml import etree

from portal.ews_soap import templates
from portal.ews_soap.client import EwsClient
from portal.ews_soap.operations import sync_folder_items as sfi

BODIES = {
    "impersonated, folder id, state": (("AAMkAGI2TG93AAA=", "alice@example.com", False, "H4sIAAAAAAAEAO29B2AcS"),
                                       "alice@example.com"),
    "impersonated, first sync": ((None, "alice@example.com", False, None), "alice@example.com"),
    "delegate, distinguished folder": ((None, "bob@example.com", True, "H4sIAAAAAAAEAO29B2AcS"), None),
    "odd strings": (('AAM"k&<b>\nA==', "o'brien&co@example.com", False, "state with \t tab & <angle>"),
                    "o'brien&co@example.com"),
}


def c14n(data: bytes) -> bytes:
    return etree.tostring(etree.fromstring(data), method="c14n")


@pytest.mark.parametrize("name", sorted(BODIES))
def test_g2_a_templated_request_is_the_request_zeep_renders(name):
    args, who = BODIES[name]
    client = EwsClient(config())
    for _ in range(2):  # the first builds the template, the second uses it
        body = sfi.body(*args, max_changes=100)
        data, headers = client.build(sfi.OPERATION, body, impersonate=who)
        zeep_data, zeep_headers = client._render(sfi.OPERATION, body, impersonate=who)
        assert c14n(data) == c14n(zeep_data) and headers == zeep_headers
    assert len(client._templates) == 1
    if name != "odd strings":  # no escaping to differ in: byte for byte
        assert data == zeep_data


def test_g2_each_shape_has_its_own_template_and_values_never_leak_between_requests():
    client = EwsClient(config())
    first, _ = client.build(sfi.OPERATION, sfi.body("F1", "a@example.com", False, "S1", 512), impersonate="a@x.com")
    second, _ = client.build(sfi.OPERATION, sfi.body("F2", "b@example.com", False, "S2", 512), impersonate="b@x.com")
    other_max, _ = client.build(sfi.OPERATION, sfi.body("F2", "b@example.com", False, "S2", 5), impersonate="b@x.com")
    assert b"S1" in first and b"S1" not in second and b"a@x.com" not in second and b"b@x.com" in second
    assert b">5<" in other_max and len(client._templates) == 2  # MaxChangesReturned is part of the shape


def test_g2_a_string_xml_cannot_carry_is_left_to_zeep_which_refuses_it_as_before():
    client = EwsClient(config())
    with pytest.raises(ValueError):
        client.build(sfi.OPERATION, sfi.body(None, "a@example.com", False, "bad\x00state", 512),
                     impersonate="a@example.com")


@pytest.mark.parametrize("rendered", ["<x>{v}{v}</x>", "<x/>", "<x>{v}</x><y>{v}</y>"],
                         ids=["twice", "dropped", "copied"])
def test_g2_a_value_the_renderer_does_not_take_as_given_gets_no_template(rendered):
    def renderer(operation, body, impersonate=None, time_zone=None):  # a renderer that does not keep strings as given
        return rendered.format(v=body["v"]).encode(), {}

    cache = templates.Templates()
    assert cache.build("SyncFolderItems", {"v": "ABC"}, None, None, renderer) is None
    assert cache.build("SyncFolderItems", {"v": "ABC"}, None, None, renderer) is None  # stays with the renderer


def test_g2_templates_are_bounded():
    client = EwsClient(config())
    for n in range(1, templates.MAX_TEMPLATES + 10):
        client.build(sfi.OPERATION, sfi.body("F", "a@example.com", False, "S", n), impersonate="a@example.com")
    assert len(client._templates) <= templates.MAX_TEMPLATES
