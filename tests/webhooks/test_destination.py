"""Where a delivery connects: the endpoint's host is resolved once per attempt, every address
is checked against the public-address policy, and the connection goes to a checked address
with the name in the Host header, the TLS SNI and the certificate check.

A name that answered a public address when the endpoint was saved and a loopback one at
delivery (DNS rebinding) is refused, with the reason recorded, and nothing is connected to.
"""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from face_idcard import _netpolicy as netpolicy
from face_idcard.webhooks import delivery, outbox
from face_idcard.webhooks.models import WebhookDelivery, WebhookEndpoint
from face_idcard.webhooks.validation import validate_endpoint_url
from tests.support.resolver import PUBLIC
from tests.webhooks.receiver import Receiver, running

pytestmark = pytest.mark.django_db(transaction=True)

NAME = "hooks.example.test"


class Resolver:
    """Answers ``NAME`` with ``answer`` (changed by the test) and counts the questions."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def __call__(self, host: str) -> list[str]:
        self.asked.append(host)
        return [self.answer]


@pytest.fixture
def resolver(hook_settings: Callable[..., None]) -> Iterator[Resolver]:
    answers = Resolver(PUBLIC)
    hook_settings(URL_RESOLVER=answers)
    netpolicy.forget_unresolvable()
    yield answers
    netpolicy.forget_unresolvable()


def _deliver(endpoint: WebhookEndpoint) -> tuple[str, WebhookDelivery]:
    item = outbox.ping(endpoint).deliveries.get()
    result = delivery.deliver(item.pk)
    item.refresh_from_db()
    return result, item


def test_a_name_rebound_to_loopback_after_saving_is_refused_without_connecting(
    receiver: Receiver, resolver: Resolver, hook_settings: Any, make_endpoint: Any
) -> None:
    hook_settings(WEBHOOK_ALLOW_PRIVATE=False)
    url = f"http://{NAME}:{receiver.port}/hook"
    validate_endpoint_url(url)  # public when saved
    endpoint, _ = make_endpoint(url)
    resolver.answer = "127.0.0.1"  # the receiver's address, at delivery
    resolver.asked.clear()
    result, item = _deliver(endpoint)
    assert result == "retry"
    assert item.last_error == "destination refused (not a public address)"
    assert item.last_status_code is None
    assert resolver.asked == [NAME]  # once: the answer checked is the answer used
    assert receiver.connections == 0 and receiver.received == []


def test_one_private_address_among_public_ones_is_refused(
    receiver: Receiver, resolver: Resolver, hook_settings: Any, make_endpoint: Any
) -> None:
    hook_settings(WEBHOOK_ALLOW_PRIVATE=False, URL_RESOLVER=lambda _host: [PUBLIC, "127.0.0.1"])
    endpoint, _ = make_endpoint(f"http://{NAME}:{receiver.port}/hook")
    result, item = _deliver(endpoint)
    assert result == "retry" and "not a public address" in item.last_error
    assert receiver.connections == 0


def test_an_unresolvable_name_is_recorded_as_such(
    hook_settings: Any, make_endpoint: Any, resolver: Resolver
) -> None:
    endpoint, _ = make_endpoint("http://hooks.example.invalid/hook")
    hook_settings(URL_RESOLVER="tests.support.resolver.resolve")
    result, item = _deliver(endpoint)
    assert result == "retry"
    assert item.last_error == "destination refused (the host name did not resolve)"


def test_the_connection_goes_to_the_resolved_address_naming_the_host(
    receiver: Receiver, resolver: Resolver, make_endpoint: Any
) -> None:
    """The name exists only in the test's resolver: a second resolution by the HTTP library
    (the system's DNS) would not find it. The receiver sees the name in the Host header."""
    resolver.answer = "127.0.0.1"
    endpoint, _ = make_endpoint(f"http://{NAME}:{receiver.port}/hook?tenant=7")
    result, item = _deliver(endpoint)
    assert result == "delivered", item.last_error
    (hit,) = receiver.hits("/hook?tenant=7")
    assert hit.headers["host"] == f"{NAME}:{receiver.port}"
    assert resolver.asked == [NAME]


# --- TLS: the name, not the address, is what the certificate is checked against -------------


def _certificate(tmp_path: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A CA (its certificate file returned) and a server context whose certificate it
    signed for ``name``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "face_idcard test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    chain = tmp_path / f"{name}.pem"
    chain.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        + leaf.public_bytes(serialization.Encoding.PEM)
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(chain)
    return ca_file, server


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """Make the delivery session trust ``ca_file`` (and only it)."""

    def trust(ca_file: Path) -> None:
        monkeypatch.setattr(delivery.session(), "verify", str(ca_file))

    return trust


@pytest.mark.parametrize("certified", [NAME, "other.example.test"])
def test_tls_speaks_to_the_name_at_the_pinned_address(
    certified: str,
    tmp_path: Path,
    resolver: Resolver,
    make_endpoint: Any,
    trusting: Callable[[Path], None],
) -> None:
    """SNI and the certificate check are for the endpoint's name (a certificate for another
    name is refused), though the connection goes to the address the resolver gave."""
    ca_file, server = _certificate(tmp_path, certified)
    trusting(ca_file)
    resolver.answer = "127.0.0.1"
    with running(tls=server) as tls_receiver:
        endpoint, _ = make_endpoint(f"https://{NAME}:{tls_receiver.port}/hook")
        result, item = _deliver(endpoint)
        assert tls_receiver.server_names == [NAME]
        if certified == NAME:
            assert result == "delivered", item.last_error
            (hit,) = tls_receiver.hits()
            assert hit.headers["host"] == f"{NAME}:{tls_receiver.port}"
        else:
            assert result == "retry"
            assert item.last_error == "SSLError"
            assert tls_receiver.received == []
