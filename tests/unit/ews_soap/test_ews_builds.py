"""S3 and S13 from the one versions table: Exchange Server SE is offered and sent as Exchange2016; a server's
build is named and its Microsoft support stated."""
from __future__ import annotations

from datetime import date

import pytest

from portal.ews_soap.versions import VERSIONS, describe_build, header_for, label_for_build

TODAY = date(2026, 12, 7)


def test_s3_exchange_server_se_is_offered_and_sent_as_exchange2016():
    assert VERSIONS["SE"][1] == "Exchange Server SE"
    assert header_for("SE") == header_for("2019") == "Exchange2016"


@pytest.mark.parametrize("build, name, supported, label", [
    ("15.2.2562.17", "Exchange Server SE RTM", True, "SE"),
    ("15.2.2600.1", "Exchange Server SE RTM", True, "SE"),
    ("15.2.1748.10", "Exchange 2019 CU15", False, "2019"),
    ("15.2.1544.4", "Exchange 2019 CU14", False, "2019"),
    ("15.2.1118.7", "Exchange 2019 CU12", False, "2019"),
    ("15.1.2507.6", "Exchange 2016 CU23", False, "2016"),
    ("15.1.2176.12", "Exchange 2016 CU19", False, "2016"),
    ("15.0.1497.2", "Exchange 2013 CU23", False, "2013_SP1"),
    ("14.3.123.4", "Exchange 2010 SP3", False, "2010_SP2"),
])
def test_s13_build_is_named_with_its_support(build, name, supported, label):
    info = describe_build(build, TODAY)
    assert (info.name, info.supported) == (name, supported)
    assert label_for_build(build) == label
    assert ("no longer supported" in info.sentence) is not supported


def test_s13_support_follows_the_lifecycle_date():
    assert describe_build("15.2.1748.10", date(2025, 10, 14)).supported is True
    assert describe_build("15.2.1748.10", date(2025, 10, 15)).supported is False


@pytest.mark.parametrize("build", [None, "", "unknown", "15"])
def test_s13_no_build_no_claim(build):
    assert describe_build(build, TODAY) is None


def test_s13_older_than_2010_is_not_named():
    info = describe_build("8.3.0.0", TODAY)
    assert info.name is None and info.supported is None and "does not recognise" in info.sentence
