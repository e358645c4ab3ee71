"""A TLS-intercepting proxy for tests (S11): terminates TLS with its own certificate and re-encrypts to the real
server, one upstream connection per client connection (so connection-bound NTLM still works through it), as
TLS-inspection firewalls and SSL-offloading load balancers do."""
from __future__ import annotations

import os
import select
import socket
import ssl
import tempfile
import threading

from ews_simulator.tls import self_signed


class Interceptor:
    def __init__(self, upstream_port: int, upstream_ca_pem: str, host: str = "127.0.0.1"):
        cert, key = self_signed(host)  # another certificate than the server's
        self.ca_pem = cert.decode()
        self.upstream = (host, upstream_port)
        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            paths = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            for path, data in zip(paths, (cert, key), strict=True):
                with open(path, "wb") as fh:
                    fh.write(data)
            self.server_ctx.load_cert_chain(*paths)
        self.client_ctx = ssl.create_default_context(cadata=upstream_ca_pem)
        # TLS 1.2 on both legs: TLS 1.3 sends session tickets after the handshake, and a blocking recv() of a
        # socket that became readable for a ticket alone would wait for application data that never comes.
        for ctx in (self.server_ctx, self.client_ctx):
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"https://{host}:{self.port}/EWS/Exchange.asmx"
        self.connections = 0

    def __enter__(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            inner = self.server_ctx.wrap_socket(client, server_side=True)
            outer = self.client_ctx.wrap_socket(socket.create_connection(self.upstream),
                                                server_hostname=self.upstream[0])
        except (OSError, ssl.SSLError):
            client.close()
            return
        self.connections += 1
        _relay(inner, outer)


def _relay(a, b):
    """One thread per connection pair: an SSL socket must not be read and written from two threads at once."""
    try:
        while True:
            ready = [s for s in (a, b) if s.pending()] or select.select([a, b], [], [], 60)[0]
            if not ready:
                return
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for sock in (a, b):
            try:
                sock.close()
            except OSError:
                pass
