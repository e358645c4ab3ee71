"""Optional TLS: a self-signed certificate (cryptography) and a small terminator thread that pipes each
TLS connection 1:1 to the waitress port, so connection-bound NTLM still sees one TCP connection."""
from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(host: str = "127.0.0.1") -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ews-simulator")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class TlsTerminator:
    def __init__(self, host: str, backend_port: int, port: int = 0):
        cert, key = self_signed(host)
        self.ca_pem = cert.decode()
        self.cert_der = x509.load_pem_x509_certificate(cert).public_bytes(serialization.Encoding.DER)
        self.backend = (host, backend_port)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as tmp:
            cert_path, key_path = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
            with open(cert_path, "wb") as fh:
                fh.write(cert)
            with open(key_path, "wb") as fh:
                fh.write(key)
            self.context.load_cert_chain(cert_path, key_path)
        self.sock = socket.create_server((host, port))
        self.port = self.sock.getsockname()[1]
        self._stop = False

    def start(self):
        threading.Thread(target=self._accept, daemon=True, name=f"ews-sim-tls-{self.port}").start()
        return self

    def stop(self):
        self._stop = True
        self.sock.close()

    def _accept(self):
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        try:
            tls = self.context.wrap_socket(client, server_side=True)
            backend = socket.create_connection(self.backend)
        except (OSError, ssl.SSLError):
            client.close()
            return
        threading.Thread(target=_pipe, args=(backend, tls), daemon=True).start()
        _pipe(tls, backend)


def _pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
