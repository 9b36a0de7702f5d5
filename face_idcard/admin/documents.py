"""The document reviews (the non-face alternative) in the review console.

The list shows masked data only; each review opens on one page where a staff member:

- reveals the clear ID number, name and both photos of the card: a POST naming a purpose,
  audited by :func:`face_idcard.services.reveal_documents` (``face_idcard.view_pii``); the
  photos then load through short-lived links bound to the viewer and the session (as the
  selfie's, :mod:`.selfie_links`), not audited again;
- approves or rejects with a reason (``face_idcard.review``, never their own review), through
  :func:`face_idcard.services.decide_documents`;
- erases the photos and personal information of a decided review now
  (``face_idcard.redact``), or places or lifts a legal hold.

Nothing is added, changed or deleted through the model admin itself; the page lists the
review's audit trail (:class:`~face_idcard.models.StaffAuditEvent`).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.http import require_GET, require_http_methods

from .. import permissions, services
from ..conf import face_idcard_settings
from ..exceptions import PermissionRequired, PersonalInformationUnavailable
from ..models import DocumentReview, DocumentReviewStatus
from ..services._documents import APPROVE, REJECT, SIDES, read_document
from . import display, selfie_links
from .actions import REFUSALS, _refusal_text
from .workbench import PURPOSES

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[DocumentReview]
else:
    _AdminBase = admin.ModelAdmin

#: The longest legal-hold reason taken (it stays in the audit trail).
MAX_HOLD_REASON = 500
#: Apart from the selfie links' signatures.
SALT = "face_idcard.admin.document-link"


class DocumentRevealForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=PURPOSES)


class DocumentDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(APPROVE, _("Approve")), (REJECT, _("Reject"))], widget=forms.RadioSelect
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 2000}),
        help_text=_("Recorded in the audit trail with your name. No ID number or name here."),
        error_messages={"required": _("Give a reason for the review.")},
    )


def _signer(request: HttpRequest) -> signing.TimestampSigner:
    secret = request.session.get(selfie_links.SESSION_KEY)
    if not secret:
        secret = secrets.token_urlsafe(32)
        request.session[selfie_links.SESSION_KEY] = secret
    return signing.TimestampSigner(salt=f"{SALT}:{request.user.pk}:{secret}")


def issue_link(request: HttpRequest, review: DocumentReview, side: str) -> str:
    token = _signer(request).sign(f"{review.pk}:{side}")
    return reverse("admin:face_idcard_document_photo", args=[token])


def read_link(request: HttpRequest, token: str) -> tuple[uuid.UUID, str] | None:
    if not request.session.get(selfie_links.SESSION_KEY) or not request.user.pk:
        return None
    try:
        value = _signer(request).unsign(
            token,
            max_age=timedelta(seconds=float(face_idcard_settings.ADMIN_SELFIE_LINK_SECONDS)),
        )
        pk, side = value.split(":", 1)
        return uuid.UUID(pk), side
    except (signing.BadSignature, ValueError):
        return None


@admin.register(DocumentReview)
class DocumentReviewAdmin(_AdminBase):
    list_display = (
        "created_at",
        "idcard_number_masked",
        "idcard_name_masked",
        "user",
        "status",
        "decided_at",
        "legal_hold",
    )
    list_filter = ("status", "legal_hold")
    ordering = ("status", "created_at")
    list_select_related = ("user",)
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _has(self, request: HttpRequest, codename: str) -> bool:
        return bool(request.user.has_perm(permissions.full_name(codename)))

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "photo/<str:token>/",
                self.admin_site.admin_view(self.photo_view),
                name="face_idcard_document_photo",
            ),
        ]
        return own + super().get_urls()

    @method_decorator(xframe_options_deny)
    @method_decorator(require_GET)
    def photo_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """One side's photo behind a link the audited reveal issued: 403 for a token expired,
        forged or another user's or session's."""
        if not (self.has_view_permission(request) and self._has(request, permissions.VIEW_PII)):
            raise PermissionDenied
        found = read_link(request, token)
        if found is None:
            raise PermissionDenied
        review = get_object_or_404(DocumentReview, pk=found[0])
        try:
            data, content_type = read_document(review, found[1], viewer=request.user)
        except PermissionRequired:
            raise PermissionDenied from None
        except PersonalInformationUnavailable:
            raise Http404 from None
        response = HttpResponse(data, content_type=content_type)
        response["Cache-Control"] = "no-store, private"
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Disposition"] = "inline"
        return response

    @method_decorator(xframe_options_deny)
    @method_decorator(require_http_methods(["GET", "POST"]))
    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The review page: GET shows masked data and the trail; POST ``purpose`` reveals
        (audited), POST ``decision`` decides, POST ``erase`` or ``hold`` changes what is
        kept."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = uuid.UUID(str(object_id))
        except ValueError:
            raise Http404 from None
        review = get_object_or_404(DocumentReview, pk=pk)
        own = review.user_id is not None and review.user_id == request.user.pk
        can_decide = (
            self._has(request, permissions.REVIEW)
            and review.status == DocumentReviewStatus.PENDING.value
            and not own
        )
        reveal_form = DocumentRevealForm(initial={"purpose": "review"})
        decision_form = DocumentDecisionForm()
        revealed: dict[str, Any] = {}
        status = 200
        if request.method == "POST" and "purpose" in request.POST:
            if not self._has(request, permissions.VIEW_PII):
                raise PermissionDenied
            reveal_form = DocumentRevealForm(request.POST)
            if not reveal_form.is_valid():
                status = 400
            else:
                try:
                    number, name = services.reveal_documents(
                        review, viewer=request.user, purpose=reveal_form.cleaned_data["purpose"]
                    )
                except PersonalInformationUnavailable:
                    revealed = {"erased": True}
                else:
                    revealed = {
                        "number": number,
                        "name": name,
                        "photos": [
                            (side, issue_link(request, review, side))
                            for side in SIDES
                            if (review.front_name if side == SIDES[0] else review.back_name)
                        ],
                    }
        elif request.method == "POST":
            done = self._change(request, review)
            if done is not None:
                return done
            if not can_decide:
                raise PermissionDenied
            decision_form = DocumentDecisionForm(request.POST)
            status = 400
            if decision_form.is_valid():
                try:
                    services.decide_documents(
                        review,
                        reviewer=request.user,
                        decision=decision_form.cleaned_data["decision"],
                        reason=decision_form.cleaned_data["reason"],
                    )
                except REFUSALS as error:
                    decision_form.add_error(None, _refusal_text(error))
                else:
                    self.message_user(
                        request,
                        _("Document review %(id)s: %(status)s.")
                        % {"id": review.pk, "status": review.get_status_display()},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:face_idcard_documentreview_changelist")
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Document review"),
            "opts": self.model._meta,
            "review": review,
            "created": display.local_time(review.created_at),
            "decided": display.local_time(review.decided_at) if review.decided_at else "",
            "time_zone": display.time_zone_name(),
            "events": [
                {
                    "time": display.local_time(event.created_at),
                    "kind": event.get_kind_display(),
                    "actor": event.actor or "-",
                    "details": display.event_summary(event.data),
                }
                for event in review.events.select_related("actor").order_by("created_at", "id")
            ],
            "reveal_form": reveal_form,
            "decision_form": decision_form,
            "revealed": revealed,
            "can_view_pii": self._has(request, permissions.VIEW_PII) and review.has_pii,
            "can_decide": can_decide,
            "can_erase": self._has(request, permissions.REDACT),
            "pending": review.status == DocumentReviewStatus.PENDING.value,
        }
        response = TemplateResponse(
            request, "admin/face_idcard/document_review.html", context, status=status
        )
        response["Cache-Control"] = "no-store, private"
        return response

    def _change(self, request: HttpRequest, review: DocumentReview) -> HttpResponse | None:
        """POST ``erase`` (redaction) or ``hold`` (``on``/``off``); None for anything else."""
        if "erase" not in request.POST and "hold" not in request.POST:
            return None
        if not self._has(request, permissions.REDACT):
            raise PermissionDenied
        try:
            if "erase" in request.POST:
                services.redact_documents(review, actor=request.user)
                text = _("The ID card photos and personal information of this review are erased.")
            else:
                hold = request.POST.get("hold") == "on"
                if len(request.POST.get("reason", "")) > MAX_HOLD_REASON:
                    self.message_user(
                        request,
                        _("The reason is too long: at most %(max)d characters.")
                        % {"max": MAX_HOLD_REASON},
                        messages.ERROR,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:face_idcard_documentreview_change", args=[review.pk])
                    )
                services.set_documents_legal_hold(
                    review, hold=hold, actor=request.user, reason=request.POST.get("reason", "")
                )
                text = _("Legal hold placed.") if hold else _("Legal hold lifted.")
        except REFUSALS as error:
            self.message_user(request, _refusal_text(error), messages.ERROR)
        else:
            self.message_user(request, text, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:face_idcard_documentreview_change", args=[review.pk])
        )
