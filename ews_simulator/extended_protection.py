"""Extended Protection for Authentication as IIS enforces it over https: None, Allow (IIS "Accept") or Require.

The client binds its NTLM (or Kerberos) sign-in to the TLS channel with the tls-server-end-point channel binding:
the hash of the server certificate it saw (RFC 5929 §4.1). When something between client and server re-encrypts
TLS, the client saw another certificate and the binding does not match. IIS: Allow accepts a sign-in without a
binding but refuses a wrong one; Require refuses both (MSDOC iis/configuration/system.webserver/security/
authentication/windowsauthentication/extendedprotection; Exchange 2019 CU14+ and SE turn it on, EWS back end
Required: MSDOC exchange/plan-and-deploy/post-installation-tasks/security-best-practices/exchange-extended-protection).
pyspnego's acceptor compares the binding it is given; a missing or all-zero one is decided here.
"""
from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from spnego._ntlm_raw.messages import AvId, NTClientChallengeV2
from spnego.channel_bindings import GssChannelBindings

MODES = ("none", "allow", "require")
NO_BINDING = b"\x00" * 16


class Refused(Exception):
    """The sign-in carries no channel binding and the mode is Require."""


def end_point_hash(cert_der: bytes) -> bytes:
    """tls-server-end-point: the certificate's own signature hash, SHA-256 for MD5/SHA-1 (RFC 5929 §4.1)."""
    cert = x509.load_der_x509_certificate(cert_der)
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert_der)
    return digest.finalize()


def bindings(cert_hash: bytes) -> GssChannelBindings:
    return GssChannelBindings(application_data=b"tls-server-end-point:" + cert_hash)


def sent_binding(authenticate) -> bytes | None:
    """The MsvAvChannelBindings value of an NTLMv2 AUTHENTICATE message (MS-NLMP 2.2.2.1), None if absent."""
    response = authenticate.nt_challenge_response or b""
    if len(response) <= 24:  # NTLMv1 carries no AV pairs
        return None
    return NTClientChallengeV2.unpack(response[16:]).av_pairs.get(AvId.channel_bindings)


def required_bindings(mode: str, cert_hash: bytes | None, authenticate) -> GssChannelBindings | None:
    """The bindings pyspnego must check for this sign-in, None for none; raises Refused under Require."""
    if mode == "none" or cert_hash is None:
        return None
    sent = sent_binding(authenticate)
    if sent is None or sent == NO_BINDING:
        if mode == "require":
            raise Refused()
        return None
    return bindings(cert_hash)
