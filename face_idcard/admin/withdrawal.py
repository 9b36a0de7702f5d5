"""The admin action for a withdrawal of consent that reached staff by another channel (a letter,
a phone call, an e-mail): each selected attempt stands for its person, and every attempt of that
person (the same ID number under any live hash key, on any account) is withdrawn
(:func:`services.withdraw`, ``face_idcard.redact``). A confirmation page first; afterwards the
staff member reads what was done and what to tell the person (a hold applies; what the provider
keeps), in the same words the person would read."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from .. import services
from ..models import VerificationAttempt
from .actions import BULK_CAP, ActionSpec, run_confirmed
from .forms import ConfirmForm

TITLE = _("Withdraw the person's consent and delete their data")
WARNING = _(
    "For each selected attempt, every verification of the same person (the same ID number, "
    "on any account) is withdrawn: those not yet sent are canceled, the photo, ID number and "
    "name of all are deleted now; a record without them and the audit trail stay. Attempts "
    "under legal hold keep everything. This cannot be undone."
)


@admin.action(permissions=["redact"], description=TITLE)
def withdraw_consent(
    modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
) -> HttpResponse | None:
    results: list[Any] = []

    def perform(attempt: VerificationAttempt, user: Any, data: dict[str, Any]) -> Any:
        results.append(services.withdraw(attempt=attempt, actor=user))

    spec = ActionSpec(
        name="withdraw_consent",
        title=TITLE,
        warning=WARNING,
        form=ConfirmForm,
        perform=perform,
        done=lambda n: _("Withdrawals done: %(n)d.") % {"n": n},
        # Each selected attempt stands for a person: chosen on a page, never "all".
        cap=BULK_CAP,
    )
    response = run_confirmed(modeladmin, request, queryset, spec)
    for result in results:
        # What to tell the person, as the person's own request would have answered it.
        modeladmin.message_user(
            request,
            _("%(attempts)d attempts withdrawn, %(canceled)d canceled, %(erased)d erased. %(said)s")
            % {
                "attempts": result.attempts,
                "canceled": result.canceled,
                "erased": result.erased,
                "said": " ".join(result.statements()),
            },
            messages.WARNING if result.legal_hold else messages.INFO,
        )
    return response
