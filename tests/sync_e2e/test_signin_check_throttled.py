"""A busy answer while Sundial asks which sign-in the server offers is throttling (issue item 6, G3)."""
from __future__ import annotations

import pytest


@pytest.mark.parametrize("status", [503, 429])
def test_g3_busy_answer_while_checking_the_signin_offer_reads_throttled_not_unsupported(world, status):
    """A 503/429 to the unauthenticated request that asks which sign-in the server offers is throttling: the
    mailbox waits ("throttled until …"), it is not put in error as "does not offer Basic or NTLM sign-in"."""
    from portal.ews_soap import transport
    from portal.extensions import db
    from portal.models import ExchangeIntegration

    ExchangeIntegration.get().auth_type = "auto"  # Sundial asks the server which sign-in it offers
    db.session.commit()
    transport.close_pools()  # forget any cached offer: the next request asks again
    getattr(world.sim.faults, f"http_{status}")(1, retry_after_s=30)
    world.initial(world.alice)
    st = world.state(world.alice)
    assert st.state == "throttled" and st.throttled_until is not None, (st.state, st.last_error)
    assert "does not offer" not in (st.last_error or "")
