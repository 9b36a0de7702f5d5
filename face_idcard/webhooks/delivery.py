"""One delivery attempt (:func:`deliver`), its retries, and the periodic redelivery of what a
lost message or a dead worker left pending (:func:`deliver_due`).

Per the Standard Webhooks specification: 2xx is delivered; any other answer, a timeout or a
refused connection is a failure retried on ``WEBHOOK_RETRY_SCHEDULE_SECONDS`` (with jitter, and never
sooner than a 429's or 5xx's ``Retry-After``); redirects are failures, never followed; 410
Gone disables the endpoint. Each endpoint's deliveries are claimed and retried on their own,
so a failing receiver never holds up another one.

The endpoint's host is resolved once per attempt and every address checked against the
public-address policy (:func:`netpolicy.resolve_checked`); the connection goes to a checked
address, with the name in the Host header, the TLS SNI and the certificate check
(:class:`PinnedAddressAdapter`). An endpoint whose name answered a public address when it was
saved and a loopback one now (DNS rebinding) is refused without a connection.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.db import router
from django.db.models import F, Q
from django.utils import timezone
from requests.adapters import HTTPAdapter

from .. import _netpolicy as netpolicy
from ..conf import face_idcard_settings
from . import secrets
from .models import DeliveryStatus, DisabledReason, WebhookDelivery, WebhookEndpoint
from .outbox import endpoint_changed, publish

logger = logging.getLogger("face_idcard.webhooks")

#: Characters of a receiver's answer kept as the delivery's last error.
EXCERPT_CHARS = 200
#: A Retry-After further ahead than this is capped (a receiver cannot park a delivery forever).
MAX_RETRY_AFTER_SECONDS = 24 * 3600
USER_AGENT = "face_idcard-webhooks/1"

_session: requests.Session | None = None


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address in the request's url (one :func:`destination` checked) and
    speaks TLS for the name in its Host header: the SNI and the certificate's name are the
    endpoint's host, never the address."""

    # Typed Any: the stubs' TypedDict of pool keywords lacks urllib3's TLS name keys.
    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        name = urlsplit("//" + str(request.headers.get("host", ""))).hostname
        if host_params["scheme"] == "https" and name and not _is_address(name):
            # Part of urllib3's pool key: one pool per (address, port, name).
            return host_params, {**pool_kwargs, "server_hostname": name, "assert_hostname": name}
        return host_params, pool_kwargs


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def session() -> requests.Session:
    global _session
    if _session is None:
        _session = requests.Session()
        # No proxies or .netrc credentials from the environment: the address checked is the
        # address called, and nothing of the worker's own is sent along.
        _session.trust_env = False
        adapter = PinnedAddressAdapter()
        _session.mount("http://", adapter)
        _session.mount("https://", adapter)
    return _session


@dataclass
class Answer:
    """What one attempt got: an HTTP status (None: no answer) and an excerpt or error class."""

    status: int | None
    error: str
    retry_after: float | None
    latency_ms: float


def retry_delay(attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones (None: no more tries)."""
    schedule = list(face_idcard_settings.WEBHOOK_RETRY_SCHEDULE_SECONDS)
    if attempts > len(schedule):
        return None
    base = float(schedule[attempts - 1])
    return base + random.uniform(0, base / 10)  # noqa: S311 - jitter, not security


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_RETRY_AFTER_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - now, MAX_RETRY_AFTER_SECONDS))


REFUSED = {
    "not_public": "destination refused (not a public address)",
    "unresolvable": "destination refused (the host name did not resolve)",
}


def destination(url: str) -> tuple[str, str]:
    """The url to call, with a checked address in place of the endpoint's host name, and the
    Host header naming it. Raises :class:`netpolicy.DestinationRefused`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        # The name as DNS and the Host header spell it (an internationalised name in IDNA).
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        raise netpolicy.DestinationRefused("unresolvable") from None
    resolver = netpolicy.bounded_resolver(
        netpolicy.configured_resolver() or netpolicy.system_resolver,
        timeout=float(face_idcard_settings.URL_RESOLVE_TIMEOUT_SECONDS),
        remember_for=float(face_idcard_settings.URL_UNRESOLVABLE_CACHE_SECONDS),
    )
    # Resolved at each attempt, never trusted from when the endpoint was saved.
    addresses = netpolicy.resolve_checked(
        host,
        resolver=resolver,
        allow_private=bool(face_idcard_settings.WEBHOOK_ALLOW_PRIVATE),
    )
    address = addresses[0].split("%", 1)[0]
    port = f":{parts.port}" if parts.port is not None else ""
    netloc = (f"[{address}]" if ":" in address else address) + port
    literal = netpolicy.ip_literal(host)
    if literal is not None:
        host = f"[{literal}]" if literal.version == 6 else str(literal)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host + port


def send(endpoint: WebhookEndpoint, msg_id: str, body: str) -> Answer:
    """POST ``body`` signed with every secret of ``endpoint``; never follows a redirect, reads
    at most ``WEBHOOK_RESPONSE_MAX_BYTES`` of the answer."""
    started = time.monotonic()
    try:
        url, host = destination(endpoint.url)
    except netpolicy.DestinationRefused as exc:
        return Answer(None, REFUSED[exc.reason], None, (time.monotonic() - started) * 1000)
    timestamp = int(time.time())
    data = body.encode("utf-8")
    headers = {
        "host": host,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": secrets.signature_header(
            secrets.load(endpoint), msg_id, timestamp, data
        ),
    }
    timeout = (
        float(face_idcard_settings.CONNECT_TIMEOUT_SECONDS),
        float(face_idcard_settings.WEBHOOK_TIMEOUT_SECONDS),
    )
    cap = int(face_idcard_settings.WEBHOOK_RESPONSE_MAX_BYTES)
    try:
        with session().post(
            url,
            data=data,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = response.raw.read(cap, decode_content=False)[:EXCERPT_CHARS]
            text = excerpt.decode("utf-8", "replace")
            retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
            status = response.status_code
    except requests.RequestException as exc:
        latency = (time.monotonic() - started) * 1000
        return Answer(None, type(exc).__name__, None, latency)
    latency = (time.monotonic() - started) * 1000
    error = "" if 200 <= status < 300 else f"HTTP {status}: {text}".strip()
    return Answer(status, error[:255], retry_after, latency)


def claim(delivery_id: int, now: datetime) -> uuid.UUID | None:
    """Take the delivery for one attempt (its lease ``WEBHOOK_LEASE_SECONDS``) when it is
    pending, due and nobody else's; counts the attempt. None when it is not to be sent now."""
    token = uuid.uuid4()
    lease = timedelta(seconds=float(face_idcard_settings.WEBHOOK_LEASE_SECONDS))
    taken = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING.value, next_attempt_at__lte=now
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            lease_expires_at=now + lease,
            claim_token=token,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
        )
    )
    return token if taken == 1 else None


def deliver(delivery_id: int) -> str:
    """One attempt of one delivery: ``"delivered"``, ``"retry"``, ``"failed"`` or
    ``"skipped"`` (not due, already done, or another worker holds it)."""
    now = timezone.now()
    token = claim(delivery_id, now)
    if token is None:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("endpoint", "message").get(pk=delivery_id)
    endpoint = delivery.endpoint
    mine = WebhookDelivery.objects.filter(pk=delivery_id, claim_token=token)
    if not endpoint.active:
        mine.update(
            status=DeliveryStatus.FAILED.value,
            last_error="endpoint disabled",
            lease_expires_at=None,
            next_attempt_at=None,
        )
        return "failed"

    answer = send(endpoint, delivery.message_id, delivery.message.body)
    finished = {
        "lease_expires_at": None,
        "last_status_code": answer.status,
        "last_error": answer.error,
        "last_latency_ms": round(answer.latency_ms, 1),
    }
    if answer.status is not None and 200 <= answer.status < 300:
        mine.update(
            status=DeliveryStatus.DELIVERED.value,
            delivered_at=timezone.now(),
            next_attempt_at=None,
            **finished,
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failure_run__gt=0).update(failure_run=0)
        return "delivered"

    logger.warning(
        "webhook delivery %s (%s) to endpoint %s failed: %s",
        delivery_id,
        delivery.message_id,
        endpoint.pk,
        answer.error if answer.status is None else f"HTTP {answer.status}",
    )
    if answer.status == 410:
        disable(endpoint, DisabledReason.GONE)
        mine.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None, **finished)
        return "failed"
    _count_failure(endpoint)
    delay = retry_delay(delivery.attempts)
    if delay is None:
        mine.update(status=DeliveryStatus.FAILED.value, next_attempt_at=None, **finished)
        return "failed"
    if answer.retry_after is not None and (answer.status == 429 or (answer.status or 0) >= 500):
        delay = max(delay, answer.retry_after)
    mine.update(next_attempt_at=timezone.now() + timedelta(seconds=delay), **finished)
    if delay <= float(face_idcard_settings.BROKER_MAX_COUNTDOWN_SECONDS):
        publish(delivery_id, delay)
    return "retry"


def _count_failure(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_run=F("failure_run") + 1)
    limit = face_idcard_settings.WEBHOOK_DISABLE_AFTER_FAILURES
    if (
        limit is not None
        and WebhookEndpoint.objects.filter(
            pk=endpoint.pk, failure_run__gte=int(limit), active=True
        ).exists()
    ):
        disable(endpoint, DisabledReason.FAILURES)


def disable(endpoint: WebhookEndpoint, reason: DisabledReason) -> None:
    updated = WebhookEndpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, disabled_at=timezone.now(), disabled_reason=reason.value
    )
    if updated:
        logger.error("webhook endpoint %s disabled (%s)", endpoint.pk, reason.value)
        endpoint_changed(router.db_for_write(WebhookEndpoint))
    endpoint.active = False


def deliver_due(now: datetime | None = None, limit: int = 1000) -> int:
    """Publish the pending deliveries that are due and held by no live worker: their message
    was lost (the broker was down at commit time, a retry too far ahead for the broker) or
    their worker died mid-delivery (the lease expired; the same ``webhook-id`` goes again).
    Returns how many were published."""
    now = now or timezone.now()
    # Only those due for a lease's length: a retry's own message is on its way before that.
    grace = timedelta(seconds=float(face_idcard_settings.WEBHOOK_LEASE_SECONDS))
    due = (
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING.value,
            next_attempt_at__lte=now - grace,
            endpoint__active=True,
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    published = 0
    for delivery_id in list(due):
        published += publish(delivery_id)
    return published


def purge(now: datetime | None = None) -> int:
    """Delete messages older than ``WEBHOOK_RETENTION_DAYS`` none of whose deliveries is still
    pending, with their deliveries; returns the number of delivery rows deleted."""
    from .models import WebhookMessage

    now = now or timezone.now()
    cutoff = now - timedelta(days=int(face_idcard_settings.WEBHOOK_RETENTION_DAYS))
    old = WebhookMessage.objects.filter(created_at__lt=cutoff).exclude(
        deliveries__status=DeliveryStatus.PENDING.value
    )
    deleted = old.delete()[1]
    return int(deleted.get(WebhookDelivery._meta.label, 0))
