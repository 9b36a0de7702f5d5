"""Admin actions with a confirmation page, each going through a service and its permission
check for every selected attempt (a bulk action never bypasses the per-object check)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .. import services
from ..exceptions import (
    IllegalTransition,
    LegalHoldActive,
    PermissionRequired,
    PersonalInformationUnavailable,
    SelfReviewRefused,
)
from ..models import VerificationAttempt
from ..services._limits import reset_limits
from .forms import ConfirmForm, OptionalReasonForm, ReasonForm

logger = logging.getLogger("face_idcard.admin")

#: What a service may refuse with for one attempt; the others in the batch go on.
REFUSALS = (
    PermissionRequired,
    IllegalTransition,
    LegalHoldActive,
    PersonalInformationUnavailable,
    SelfReviewRefused,
    ValidationError,
)

Perform = Callable[[VerificationAttempt, Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    title: Promise
    warning: Promise
    form: type[forms.Form]
    perform: Perform
    done: Callable[[int], Any]
    #: At most this many attempts at once, chosen on a page (never "all" across the list).
    cap: int | None = None


#: The cap of the actions that call the provider or decide for a person: one page of the list.
BULK_CAP = 100


def _refusal_text(error: Exception) -> str:
    if isinstance(error, PermissionRequired):
        return str(_("you do not have permission to do this"))
    if isinstance(error, SelfReviewRefused):
        return str(_("you cannot review your own verification"))
    if isinstance(error, LegalHoldActive):
        return str(_("the attempt is under legal hold"))
    if isinstance(error, PersonalInformationUnavailable):
        return str(_("the selfie or personal information was erased"))
    if isinstance(error, ValidationError):
        return " ".join(str(message) for message in error.messages)
    return str(_("the attempt is not in a state for this"))


def run_confirmed(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    spec: ActionSpec,
) -> HttpResponse | None:
    """Show the confirmation page; once confirmed, perform ``spec`` on each attempt."""
    if spec.cap is not None:
        attempts = list(queryset.select_related("user")[: spec.cap + 1])
        if len(attempts) > spec.cap or request.POST.get("select_across") == "1":
            modeladmin.message_user(
                request,
                _(
                    "Select at most %(cap)d attempts on the page for this action; it is never "
                    "run across the whole list."
                )
                % {"cap": spec.cap},
                messages.ERROR,
            )
            return None
    else:
        attempts = list(queryset.select_related("user"))
    form = spec.form(request.POST if "confirm" in request.POST else None)
    if form.is_bound and form.is_valid():
        done = 0
        for attempt in attempts:
            try:
                spec.perform(attempt, request.user, dict(form.cleaned_data))
            except REFUSALS as error:
                modeladmin.message_user(
                    request,
                    _("Attempt %(id)s skipped: %(why)s.")
                    % {"id": attempt.pk, "why": _refusal_text(error)},
                    messages.WARNING,
                )
                continue
            done += 1
        if done:
            modeladmin.message_user(request, spec.done(done), messages.SUCCESS)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": spec.title,
        "warning": spec.warning,
        "form": form,
        "attempts": attempts,
        "action": spec.name,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/face_idcard/confirm_action.html", context)


def _review(decision: str) -> Perform:
    def perform(attempt: VerificationAttempt, user: Any, data: dict[str, Any]) -> Any:
        return services.review(attempt, reviewer=user, decision=decision, reason=data["reason"])

    return perform


def _hold(hold: bool) -> Perform:
    def perform(attempt: VerificationAttempt, user: Any, data: dict[str, Any]) -> Any:
        return services.set_legal_hold(
            attempt, hold=hold, actor=user, reason=data.get("reason", "")
        )

    return perform


APPROVE = ActionSpec(
    name="approve",
    title=_("Approve: the person is who they say"),
    warning=_("The review is recorded with your name, the time and your reason."),
    form=ReasonForm,
    perform=_review("match"),
    done=lambda n: _("Attempts approved: %(n)d.") % {"n": n},
    cap=BULK_CAP,
)
REJECT = ActionSpec(
    name="reject",
    title=_("Reject: the person is not who they say"),
    warning=_("The review is recorded with your name, the time and your reason."),
    form=ReasonForm,
    perform=_review("no_match"),
    done=lambda n: _("Attempts rejected: %(n)d.") % {"n": n},
    cap=BULK_CAP,
)
RERUN = ActionSpec(
    name="rerun",
    title=_("Re-run the verification"),
    warning=_(
        "Each re-run calls the verification service again, on the current default backend, "
        "and is billed by the provider. It does not count toward the person's daily limits."
    ),
    form=ConfirmForm,
    perform=lambda attempt, user, data: services.rerun(attempt, actor=user),
    done=lambda n: _("Re-runs queued: %(n)d.") % {"n": n},
    cap=BULK_CAP,
)
REDACT = ActionSpec(
    name="redact",
    title=_("Erase the personal information now"),
    warning=_(
        "The ID number, the name and the selfie are erased for good; the record and its "
        "audit trail stay. This cannot be undone."
    ),
    form=ConfirmForm,
    perform=lambda attempt, user, data: services.redact(attempt, actor=user),
    done=lambda n: _("Attempts redacted: %(n)d.") % {"n": n},
)
HOLD = ActionSpec(
    name="place_legal_hold",
    title=_("Place a legal hold"),
    warning=_("Nothing of an attempt under legal hold is erased until the hold is lifted."),
    form=OptionalReasonForm,
    perform=_hold(True),
    done=lambda n: _("Attempts placed under legal hold: %(n)d.") % {"n": n},
)
RELEASE = ActionSpec(
    name="lift_legal_hold",
    title=_("Lift the legal hold"),
    warning=_("Once lifted, the retention periods apply again."),
    form=OptionalReasonForm,
    perform=_hold(False),
    done=lambda n: _("Attempts whose legal hold was lifted: %(n)d.") % {"n": n},
)

RESET_LIMITS = ActionSpec(
    name="reset_limits",
    title=_("Reset the daily limits for this person"),
    warning=_(
        "The daily limits of each selected attempt's ID number start again now: its attempts "
        "from every account, and the accounts that tried it. Use it for a person whom other "
        "accounts locked out. The reset is recorded with your name and the time."
    ),
    form=ConfirmForm,
    perform=lambda attempt, user, data: reset_limits(attempt, actor=user),
    done=lambda n: _("Daily limits reset for the ID numbers of %(n)d attempts.") % {"n": n},
    cap=BULK_CAP,
)


def _action(spec: ActionSpec, permission: str, description: Any) -> Any:
    @admin.action(permissions=[permission], description=description)
    def action(
        modeladmin: admin.ModelAdmin[Any], request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        return run_confirmed(modeladmin, request, queryset, spec)

    action.__name__ = spec.name
    return action


approve = _action(APPROVE, "review", _("Approve selected attempts"))
reject = _action(REJECT, "review", _("Reject selected attempts"))
rerun = _action(RERUN, "rerun", _("Re-run verification of selected attempts"))
redact = _action(REDACT, "redact", _("Erase personal information of selected attempts"))
place_legal_hold = _action(HOLD, "redact", _("Place selected attempts under legal hold"))
lift_legal_hold = _action(RELEASE, "redact", _("Lift the legal hold of selected attempts"))
reset_daily_limits = _action(
    RESET_LIMITS, "reset_limits", _("Reset the daily limits of the selected attempts' ID numbers")
)

ACTIONS = (approve, reject, rerun, redact, place_legal_hold, lift_legal_hold, reset_daily_limits)
