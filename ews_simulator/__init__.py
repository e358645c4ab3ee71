"""An on-premises Exchange (2010 SP2 - 2019) stand-in speaking EWS over SOAP 1.1.

Not imported by portal/. Start it with ``python -m ews_simulator`` or, in tests,
``ews_simulator.testing.running_simulator``. See README.md in this folder.
"""
