"""Run the WSGI app under waitress in a background thread (tests) or the foreground (CLI)."""
from __future__ import annotations

import threading
import warnings

from waitress import create_server, wasyncore

from .server import App

# Streaming connections each hold a worker thread for up to 30 minutes, so keep plenty of threads.
THREADS = 64


class ServerThread:
    def __init__(self, sim, host: str = "127.0.0.1", port: int = 0, threads: int = THREADS):
        self.sim = sim
        self.app = App(sim)
        # send_bytes=1: flush every write at once (streaming notifications must not wait for 18 KB);
        # channel_timeout above the 30-minute streaming maximum.
        with warnings.catch_warnings():  # waitress 3 deprecates send_bytes but still honours it
            warnings.simplefilter("ignore", DeprecationWarning)
            self.server = create_server(self.app, host=host, port=port, threads=threads, send_bytes=1,
                                        channel_timeout=1900, connection_limit=1000, ident="Microsoft-IIS/10.0")
        self.host, self.port = host, self.server.effective_port
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name=f"ews-sim-{self.port}", daemon=True)

    def _run(self):
        # waitress's own run() loops until its socket map is empty, which never happens while keep-alive
        # clients stay connected; poll in short slices so stop() takes effect at once.
        try:
            while not self._stopping:
                wasyncore.loop(timeout=0.2, map=self.server._map, count=1)
        except (OSError, ValueError):  # closed while polling
            pass

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.sim.faults.force_streaming_timeout()
        self._stopping = True
        self.thread.join(timeout=5)
        for channel in list(self.server._map.values()):
            try:
                channel.close()
            except OSError:
                pass
        self.server.task_dispatcher.shutdown(timeout=2)
