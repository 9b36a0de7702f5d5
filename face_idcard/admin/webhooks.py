"""Webhook endpoints and their deliveries in the admin.

Endpoints take the model's own permissions (``face_idcard.add_webhookendpoint``,
``change_...``: the test ping and the secrets' rotation need ``change``); deliveries are read
only, and replaying them takes ``face_idcard.change_webhookdelivery``. A signing secret is
shown once, when it is made (in the page's message); the database holds it encrypted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from ..webhooks import outbox, secrets
from ..webhooks.models import (
    EVENT_TYPE_CHOICES,
    DisabledReason,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from ..webhooks.validation import validate_endpoint_url, validate_signing_secret

if TYPE_CHECKING:
    _EndpointBase = admin.ModelAdmin[WebhookEndpoint]
    _DeliveryBase = admin.ModelAdmin[WebhookDelivery]
else:
    _EndpointBase = _DeliveryBase = admin.ModelAdmin

SUBSCRIBABLE = [choice for choice in EVENT_TYPE_CHOICES if choice[0] != EventType.PING.value]


class WebhookEndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    # A text field: validate_endpoint_url is the one rule (the model's URLField would guess a
    # scheme for an address without one).
    url = forms.CharField(label=_("url"), max_length=2048)
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=SUBSCRIBABLE,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event type."),
    )
    signing_secret = forms.CharField(
        label=_("signing secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput,
        help_text=_(
            "Leave empty to have one generated (shown once, after saving). Or paste an "
            "existing whsec_ secret to move an endpoint here."
        ),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "active", "event_types")

    def clean_url(self) -> str:
        return validate_endpoint_url(self.cleaned_data["url"])

    def clean_signing_secret(self) -> str:
        value = self.cleaned_data.get("signing_secret") or ""
        return validate_signing_secret(value) if value else ""


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_EndpointBase):
    form = WebhookEndpointForm
    list_display = (
        "url",
        "description",
        "active",
        "subscribed",
        "secret_count",
        "disabled_reason",
        "failure_run",
        "deliveries_link",
    )
    list_filter = ("active", "disabled_reason")
    readonly_fields = ("created_at", "disabled_at", "disabled_reason", "failure_run")
    actions = ("send_test_ping", "rotate_secret", "retire_old_secrets")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only once disabled for a few seconds: until then another process may still write
        # deliveries for it, and one written for a deleted endpoint would break the
        # transaction of the decision it reports.
        if obj is not None and not outbox.deletable(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if obj is not None:  # changed through the rotation actions, never shown again
            fields.remove("signing_secret")
        return fields

    @admin.display(description=_("event types"))
    def subscribed(self, obj: WebhookEndpoint) -> str:
        return ", ".join(obj.event_types) if obj.event_types else str(_("all"))

    @admin.display(description=_("signing secrets"))
    def secret_count(self, obj: WebhookEndpoint) -> int:
        return len(secrets.load(obj))

    @admin.display(description=_("deliveries"))
    def deliveries_link(self, obj: WebhookEndpoint) -> str:
        url = reverse("admin:face_idcard_webhookdelivery_changelist")
        return format_html(
            '<a href="{}?endpoint__id__exact={}">{}</a>', url, obj.pk, _("deliveries")
        )

    def save_model(
        self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool
    ) -> None:
        if change and "active" in form.changed_data:
            if obj.active:
                obj.disabled_at, obj.disabled_reason, obj.failure_run = None, "", 0
            else:
                obj.disabled_at, obj.disabled_reason = timezone.now(), DisabledReason.MANUAL.value
        if not change:
            given = form.cleaned_data.get("signing_secret") or ""
            secret = given or secrets.generate_secret()
            secrets.store(obj, [secret])
            if not obj.active:
                obj.disabled_at, obj.disabled_reason = timezone.now(), DisabledReason.MANUAL.value
            super().save_model(request, obj, form, change)
            if not given:
                self._show_secret_once(request, secret)
            return
        super().save_model(request, obj, form, change)

    def _show_secret_once(self, request: HttpRequest, secret: str) -> None:
        messages.warning(
            request,
            format_html(
                "{} <code>{}</code>",
                _("The endpoint's signing secret, shown this once (copy it to the receiver now):"),
                secret,
            ),
        )

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        stopped = WebhookEndpoint.objects.filter(
            active=False,
            disabled_reason__in=[DisabledReason.GONE.value, DisabledReason.FAILURES.value],
        ).count()
        if stopped and request.method == "GET":
            messages.error(
                request,
                _(
                    "Webhook endpoints disabled after failed deliveries: %(count)d. Their "
                    "receivers hear of nothing until they are active again."
                )
                % {"count": stopped},
            )
        return super().changelist_view(request, extra_context)

    @admin.action(description=_("Send a test ping"), permissions=["change"])
    def send_test_ping(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            outbox.ping(endpoint)
        self.message_user(request, _("Ping sent; see the deliveries for the answer."))

    @admin.action(description=_("Add a new signing secret (rotation)"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        for endpoint in queryset:
            self._show_secret_once(request, secrets.rotate(endpoint))

    @admin.action(description=_("Retire all but the newest signing secret"), permissions=["change"])
    def retire_old_secrets(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        retired = sum(secrets.retire_old(endpoint) for endpoint in queryset)
        self.message_user(request, _("Secrets retired: %(count)d.") % {"count": retired})


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_DeliveryBase):
    list_display = (
        "created_at",
        "endpoint",
        "event_type",
        "webhook_id",
        "status",
        "attempts",
        "last_status_code",
        "last_latency_ms",
        "last_error",
        "next_attempt_at",
    )
    list_filter = ("status", "endpoint", "message__event_type", "created_at")
    list_select_related = ("endpoint", "message")
    search_fields = ("=message__id", "=message__attempt_id")
    fields = (
        "endpoint",
        "event_type",
        "webhook_id",
        "status",
        "attempts",
        "created_at",
        "last_attempt_at",
        "last_status_code",
        "last_latency_ms",
        "last_error",
        "next_attempt_at",
        "delivered_at",
        "body",
    )
    readonly_fields = fields
    actions = ("replay",)
    show_full_result_count = False

    @admin.display(description=_("event type"))
    def event_type(self, obj: WebhookDelivery) -> str:
        return obj.message.event_type

    @admin.display(description=_("webhook-id"))
    def webhook_id(self, obj: WebhookDelivery) -> str:
        return str(obj.message_id)

    @admin.display(description=_("body"))
    def body(self, obj: WebhookDelivery) -> str:
        return obj.message.body

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Deliver again (same webhook-id)"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = outbox.replay(queryset)
        self.message_user(request, _("Deliveries sent again: %(count)d.") % {"count": count})
