"""One module per EWS operation: `body(...)` builds zeep keyword values, `parse(reply)` reads the lxml reply
into dataclasses. They do no I/O; portal/ews_soap/session.py sends them through client.EwsClient."""
