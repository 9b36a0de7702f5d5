"""The review console: the attempts changelist, the "needs review" queue, the detail page,
the ID number search and the audited views of personal information.

Nothing is added, changed or deleted through the model admin: every change goes through
:mod:`face_idcard.services` (actions with confirmation pages), which validate, check the
acting user's permission and write the audit trail.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import SafeString
from django.utils.timesince import timesince
from django.utils.translation import gettext_lazy as _
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from .. import crypto, permissions, services
from .._identity import validate_id_number
from ..backends.config import configured
from ..exceptions import PermissionRequired, PersonalInformationUnavailable
from ..insight import abuse
from ..models import AttemptAwaitingReview, AttemptEvent, EventKind, VerificationAttempt
from ..services._operations import pending_review, read_recorded_selfie, record_selfie_reveal
from ..services._rerun import can_rerun
from ..states import Decision, Status
from . import actions, dates, display, id_search, selfie_links, withdrawal, workbench
from .forms import IdNumberSearchForm
from .paginator import CappedCountPaginator

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[VerificationAttempt]
else:
    _AdminBase = admin.ModelAdmin

logger = logging.getLogger("face_idcard.admin")

#: At most this many attempts are listed for one ID number.
ID_SEARCH_LIMIT = 200

#: The actions that change what is kept (shown apart from the decision, styled as such).
DESTRUCTIVE = frozenset({"redact", "place_legal_hold", "lift_legal_hold"})


class ReviewStateFilter(admin.SimpleListFilter):
    title = _("review state")
    parameter_name = "review_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return display.REVIEW_STATE_CHOICES

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        in_band = Q(status=Status.COMPLETED.value) & (
            Q(decision=Decision.REVIEW.value) | Q(audit_sample=True)
        )
        unreviewed = Q(reviewed_at__isnull=True)
        conditions = {
            display.ReviewState.DONE: Q(reviewed_at__isnull=False),
            display.ReviewState.SECOND: unreviewed & Q(awaiting_second=True),
            display.ReviewState.NEEDED: unreviewed & Q(awaiting_second=False) & in_band,
            display.ReviewState.NONE: unreviewed & Q(awaiting_second=False) & ~in_band,
        }
        if value not in conditions:
            return queryset
        filtered: QuerySet[Any] = queryset.filter(conditions[value])
        return filtered


class BackendFilter(admin.SimpleListFilter):
    """The configured aliases (no ``SELECT DISTINCT`` over the table)."""

    title = _("backend")
    parameter_name = "backend"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return [(alias, alias) for alias in sorted(configured())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(backend=value) if value else queryset


def _awaiting_second() -> Exists:
    return Exists(
        AttemptEvent.objects.filter(attempt=OuterRef("pk"), kind=EventKind.REVIEW_PENDING.value)
    )


def _awaiting_second_filter() -> Q:
    """The attempts with a pending first review, as a filter: the few ids of the pending events
    (read through the event-kind index), not an ``EXISTS`` for each candidate row, which on a
    million attempts made the queue's count scan every unreviewed one (bench/admin.py)."""
    pending = AttemptEvent.objects.filter(kind=EventKind.REVIEW_PENDING.value)
    return Q(pk__in=pending.values("attempt_id"))


@admin.register(VerificationAttempt)
class VerificationAttemptAdmin(_AdminBase):
    list_display = (
        "created_at",
        "idcard_number_masked",
        "name_masked",
        "user",
        "backend",
        "status",
        "decision_badge",
        "similarity_score",
        "reason_label",
        "review_state",
    )
    list_display_links = ("created_at",)
    list_filter = (
        "status",
        "decision",
        ReviewStateFilter,
        BackendFilter,
        "reason",
        "legal_hold",
        "created_at",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_select_related = ("user",)
    list_per_page = 100
    show_full_result_count = False
    paginator = CappedCountPaginator
    search_help_text = _(
        "Attempt id, provider session or request id, user name or external reference. "
        "To find a person by ID number, use the ID number search."
    )
    search_fields = ("external_reference",)  # shows the box; get_search_results decides
    actions = (*actions.ACTIONS, withdrawal.withdraw_consent)
    change_form_template = "admin/face_idcard/attempt_change_form.html"
    change_list_template = "admin/face_idcard/attempt_change_list.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "attempt_id",
                    "user",
                    "backend",
                    "external_reference",
                    "status",
                    "decision_badge",
                    "reason_label",
                    "review_state",
                    "rerun_of_link",
                )
            },
        ),
        (
            _("Personal information (masked)"),
            {
                "fields": (
                    "idcard_number_masked",
                    "name_masked",
                    "consent_at",
                    "notice_version",
                    "consent_notice",
                )
            },
        ),
        (
            _("Provider"),
            {
                "fields": (
                    "similarity_score",
                    "liveness_summary",
                    "capture_source_label",
                    "threshold",
                    "provider_session_id",
                    "provider_request_id",
                    "error_code",
                    "error_class",
                    "provider_calls",
                    "retry_count",
                    "latency",
                    "provider_data",
                )
            },
        ),
        (
            _("Times"),
            {"fields": ("created_at", "queued_at", "started_at", "finished_at", "next_try")},
        ),
        (
            _("Review"),
            {
                "fields": (
                    "review_decision",
                    "reviewer",
                    "review_reason",
                    "reviewed_at",
                    "audit_sample",
                )
            },
        ),
        (
            _("Retention"),
            {"fields": ("legal_hold", "selfie_purged_at", "pii_purged_at", "redacted_at")},
        ),
        (_("Audit trail"), {"fields": ("audit_timeline",)}),
    )
    readonly_fields = tuple(
        name for _, group in fieldsets for name in group["fields"] if isinstance(name, str)
    )

    # --- Nothing is added, changed or deleted here -----------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _has(self, request: HttpRequest, codename: str) -> bool:
        return bool(request.user.has_perm(permissions.full_name(codename)))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The proxy queue shares the attempts' permissions (one set for both lists).
        return self._has(request, "view_verificationattempt")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return self._has(request, permissions.REVIEW)

    def has_rerun_permission(self, request: HttpRequest) -> bool:
        return self._has(request, permissions.RERUN)

    def has_redact_permission(self, request: HttpRequest) -> bool:
        return self._has(request, permissions.REDACT)

    def has_view_pii_permission(self, request: HttpRequest) -> bool:
        return self._has(request, permissions.VIEW_PII)

    def has_reset_limits_permission(self, request: HttpRequest) -> bool:
        return self._has(request, permissions.RESET_LIMITS)

    # --- The list ----------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[VerificationAttempt]:
        # ModelAdmin.get_queryset's own steps (the default manager's rows, the admin's
        # ordering) on a queryset whose datetimes() the date hierarchy can afford.
        queryset: QuerySet[VerificationAttempt] = dates.BoundedDatesQuerySet(
            model=self.model, using=self.model._default_manager.db
        )
        ordering = self.get_ordering(request)
        if ordering:
            queryset = queryset.order_by(*ordering)
        annotated: QuerySet[VerificationAttempt] = queryset.annotate(
            awaiting_second=_awaiting_second()
        )
        return annotated

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Exact matches on identifiers that are not personal information; an ID number
        (which only the POST search takes) matches nothing."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if display.looks_like_id_number(term):
            return queryset.none(), False
        username = f"user__{get_user_model().USERNAME_FIELD}"
        condition = (
            Q(external_reference=term)
            | Q(provider_session_id=term)
            | Q(provider_request_id=term)
            | Q(**{username: term})
        )
        with contextlib.suppress(ValueError):
            condition |= Q(pk=uuid.UUID(term))
        return queryset.filter(condition), False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if display.looks_like_id_number(request.GET.get("q", "")):
            # Not echoed in the page: sent to the form that takes the number by POST.
            self.message_user(
                request,
                _("ID numbers are searched with this form, never in the address."),
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:face_idcard_id_search"))
        extra = {
            "id_search_url": (
                reverse("admin:face_idcard_id_search")
                if self.has_id_search_permission(request)
                else ""
            ),
            "time_zone": display.time_zone_name(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra)

    @admin.display(description=_("decision"), ordering="decision")
    def decision_badge(self, obj: VerificationAttempt) -> SafeString:
        return display.decision_badge(obj)

    @admin.display(description=_("reason"), ordering="reason")
    def reason_label(self, obj: VerificationAttempt) -> str:
        return display.reason_text(obj)

    @admin.display(description=_("similarity"), ordering="similarity")
    def similarity_score(self, obj: VerificationAttempt) -> str:
        return display.percent_score(obj.similarity)

    @admin.display(description=_("attempt id"))
    def attempt_id(self, obj: VerificationAttempt) -> str:
        return str(obj.pk)

    # "name" alone is also the permission's and the group's field, translated otherwise.
    @admin.display(description=_("name on the ID card"), ordering="idcard_name_masked")
    def name_masked(self, obj: VerificationAttempt) -> str:
        return obj.idcard_name_masked or "-"

    @admin.display(description=_("provider latency"))
    def latency(self, obj: VerificationAttempt) -> str:
        return display.milliseconds(obj.provider_latency_ms)

    @admin.display(description=_("next try"))
    def next_try(self, obj: VerificationAttempt) -> str:
        # A finished attempt has no next try, whatever the column kept.
        if obj.is_terminal or obj.next_attempt_at is None:
            return "-"
        return display.local_time(obj.next_attempt_at)

    @admin.display(description=_("review state"))
    def review_state(self, obj: VerificationAttempt) -> str:
        return display.review_state_label(obj)

    # --- The detail page ----------------------------------------------------------------------

    @admin.display(description=_("liveness"))
    def liveness_summary(self, obj: VerificationAttempt) -> SafeString:
        return display.liveness_summary(obj)

    @admin.display(description=_("privacy notice consented to"))
    def consent_notice(self, obj: VerificationAttempt) -> SafeString | str:
        return display.consent_notice(obj)

    @admin.display(description=_("photo taken with"))
    def capture_source_label(self, obj: VerificationAttempt) -> str:
        return display.capture_source_label(obj)

    @admin.display(description=_("provider response (PII removed)"))
    def provider_data(self, obj: VerificationAttempt) -> SafeString:
        return display.pretty_json(obj.raw_response)

    @admin.display(description=_("audit trail"))
    def audit_timeline(self, obj: VerificationAttempt) -> SafeString:
        return display.timeline(obj.events.select_related("actor").order_by("created_at", "id"))

    @admin.display(description=_("re-run of"))
    def rerun_of_link(self, obj: VerificationAttempt) -> SafeString | str:
        if not obj.rerun_of_id:
            return "-"
        from django.utils.html import format_html

        url = reverse("admin:face_idcard_verificationattempt_change", args=[obj.rerun_of_id])
        return format_html('<a href="{}">{}</a>', url, obj.rerun_of_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        attempt = self.get_object(request, object_id)
        extra: dict[str, Any] = {**(extra_context or {})}
        if attempt is not None:
            extra.update(
                # Not the model's str() ("<id> (completed)", an untranslated status).
                subtitle=str(attempt.pk),
                time_zone=display.time_zone_name(),
                workbench_url=reverse("admin:face_idcard_workbench", args=[attempt.pk]),
                changelist_url=reverse("admin:face_idcard_verificationattempt_changelist"),
                can_view_pii=self.has_view_pii_permission(request) and attempt.has_pii,
                reveal_url=reverse("admin:face_idcard_reveal", args=[attempt.pk]),
                attempt_actions=[
                    item
                    for item in self._detail_actions(request, attempt)
                    if item[0] not in DESTRUCTIVE
                ],
                destructive_actions=[
                    item
                    for item in self._detail_actions(request, attempt)
                    if item[0] in DESTRUCTIVE
                ],
                abuse_flags=abuse.flags(attempt),
                statistics_url=reverse("admin:face_idcard_abuse"),
            )
        return super().change_view(request, object_id, form_url, extra)

    def _detail_actions(self, request: HttpRequest, attempt: VerificationAttempt) -> list[Any]:
        offered = []
        completed = attempt.status == Status.COMPLETED.value and attempt.reviewed_at is None
        own = attempt.user_id is not None and attempt.user_id == request.user.pk
        if self.has_review_permission(request) and completed and not own:
            offered += [("approve", _("Approve")), ("reject", _("Reject"))]
        if self.has_rerun_permission(request) and can_rerun(attempt):
            offered.append(("rerun", _("Re-run")))
        if self.has_redact_permission(request):
            if attempt.has_pii and not attempt.legal_hold and attempt.is_terminal:
                offered.append(("redact", _("Redact now")))
            if attempt.legal_hold:
                offered.append(("lift_legal_hold", _("Lift legal hold")))
            else:
                offered.append(("place_legal_hold", _("Place legal hold")))
        if self.has_reset_limits_permission(request) and attempt.idcard_hash:
            offered.append(("reset_limits", _("Reset daily limits")))
        return offered

    # --- Extra views ---------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "search-id-number/",
                self.admin_site.admin_view(self.id_search_view),
                name="face_idcard_id_search",
            ),
            path(
                "selfie/<str:token>/",
                self.admin_site.admin_view(self.selfie_view),
                name="face_idcard_selfie",
            ),
            path(
                "<uuid:pk>/reveal/",
                self.admin_site.admin_view(self.reveal_view),
                name="face_idcard_reveal",
            ),
            path(
                "<uuid:pk>/workbench/",
                self.admin_site.admin_view(self.workbench_view),
                name="face_idcard_workbench",
            ),
            path(
                "workbench/next/",
                self.admin_site.admin_view(self.workbench_next_view),
                name="face_idcard_workbench_next",
            ),
        ]
        return own + super().get_urls()

    def has_id_search_permission(self, request: HttpRequest) -> bool:
        # A hit shows whose the number is: the same permission as reading it in clear.
        return self.has_view_permission(request) and self.has_view_pii_permission(request)

    @method_decorator(sensitive_post_parameters("idcard_number"))
    def id_search_view(self, request: HttpRequest) -> HttpResponse:
        """POST an ID number; the attempts whose keyed hash matches (under every live key).
        ``view_pii`` only, rate-limited per user, audited (:mod:`.id_search`)."""
        if not self.has_id_search_permission(request):
            raise PermissionDenied
        results: list[VerificationAttempt] | None = None
        status = 200
        form = IdNumberSearchForm(request.POST if request.method == "POST" else None)
        if form.is_bound and not id_search.take_search(request.user):
            status = 429
            form = IdNumberSearchForm()
            self.message_user(
                request,
                _("You have made too many ID number searches. Please try again later."),
                messages.ERROR,
            )
        elif form.is_bound and form.is_valid():
            try:
                number = validate_id_number(form.cleaned_data["idcard_number"])
            except ValidationError as error:
                form.add_error("idcard_number", error)
            else:
                hashes = crypto.id_number_hashes(number)
                del number
                results = list(
                    VerificationAttempt.objects.filter(idcard_hash__in=hashes)
                    .annotate(awaiting_second=_awaiting_second())
                    .select_related("user")
                    .order_by("-created_at")[:ID_SEARCH_LIMIT]
                )
                id_search.record_search(request.user, results)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Search by ID number"),
            "opts": self.model._meta,
            "form": form,
            "results": results,
            # The final decision and the review state: an approved attempt is no longer
            # "needs review" here.
            "rows": [
                {
                    "attempt": attempt,
                    "created": display.local_time(attempt.created_at),
                    "badge": display.decision_badge(attempt),
                    "review_state": display.review_state_label(attempt),
                }
                for attempt in results or []
            ],
            "time_zone": display.time_zone_name(),
            "limit": ID_SEARCH_LIMIT,
        }
        response = TemplateResponse(
            request, "admin/face_idcard/id_search.html", context, status=status
        )
        response["Cache-Control"] = "no-store"
        return response

    def _attempt(self, request: HttpRequest, pk: uuid.UUID) -> VerificationAttempt:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(VerificationAttempt, pk=pk)

    @method_decorator(xframe_options_deny)  # never framed, whatever X_FRAME_OPTIONS says
    @method_decorator(require_GET)
    def selfie_view(self, request: HttpRequest, token: str) -> HttpResponse:
        """The decrypted selfie behind a link the reveal issued (:mod:`.selfie_links`): 403
        for a token that is expired, forged or another user's or session's. Not audited: the
        POST that issued the link was."""
        if not (self.has_view_permission(request) and self.has_view_pii_permission(request)):
            raise PermissionDenied
        pk = selfie_links.attempt_pk(request, token)
        if pk is None:
            raise PermissionDenied
        attempt = get_object_or_404(VerificationAttempt, pk=pk)
        try:
            data, content_type = read_recorded_selfie(attempt, viewer=request.user)
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
    def reveal_view(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        """POST: the clear ID number and name and a short-lived link to the selfie, each view
        audited here (``services.reveal_pii``, ``record_selfie_reveal``). GET (a reload, a
        link preview, a prefetch) only offers that POST: it reads and records nothing."""
        attempt = self._attempt(request, pk)
        if not self.has_view_pii_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Personal information"),
            "opts": self.model._meta,
            "attempt": attempt,
            "change_url": reverse("admin:face_idcard_verificationattempt_change", args=[pk]),
            "revealed": request.method == "POST",
        }
        if request.method == "POST":
            try:
                number, name = services.reveal_pii(attempt, viewer=request.user)
            except PermissionRequired:
                raise PermissionDenied from None
            except PersonalInformationUnavailable:
                raise Http404 from None
            context.update(
                number=number,
                name=name,
                selfie_url=self._selfie_url(request, attempt),
                viewed_at=timezone.now(),
            )
        response = TemplateResponse(request, "admin/face_idcard/reveal.html", context)
        response["Cache-Control"] = "no-store, private"
        return response

    def _selfie_url(
        self, request: HttpRequest, attempt: VerificationAttempt, purpose: str = ""
    ) -> str:
        """The audited link to the selfie, or "" when there is none to show."""
        try:
            record_selfie_reveal(attempt, viewer=request.user, purpose=purpose)
        except PersonalInformationUnavailable:
            return ""
        token = selfie_links.issue(request, attempt.pk)
        return reverse("admin:face_idcard_selfie", args=[token])

    # --- The review workbench ------------------------------------------------------------------

    def _can_decide(self, request: HttpRequest, attempt: VerificationAttempt) -> bool:
        own = attempt.user_id is not None and attempt.user_id == request.user.pk
        return (
            self.has_review_permission(request)
            and attempt.status == Status.COMPLETED.value
            and attempt.reviewed_at is None
            and not own
        )

    def _to_next(self, request: HttpRequest, after: VerificationAttempt | None) -> HttpResponse:
        following = workbench.next_in_queue(request.user, after)
        if following is None:
            self.message_user(request, _("The review queue is empty."), messages.SUCCESS)
            return HttpResponseRedirect(
                reverse("admin:face_idcard_attemptawaitingreview_changelist")
            )
        return HttpResponseRedirect(reverse("admin:face_idcard_workbench", args=[following.pk]))

    @method_decorator(require_GET)
    def workbench_next_view(self, request: HttpRequest) -> HttpResponse:
        """The oldest attempt of the queue this user may decide."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return self._to_next(request, None)

    @method_decorator(xframe_options_deny)
    @method_decorator(require_http_methods(["GET", "POST"]))
    def workbench_view(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        """One attempt with all a reviewer needs. POST ``purpose``: the audited selfie link
        (:mod:`.selfie_links`); POST ``decision`` and ``reason``: the review, then the next
        attempt of the queue."""
        attempt = self._attempt(request, pk)
        reveal_form = workbench.RevealForm(initial={"purpose": "review"})
        decision_form = workbench.DecisionForm()
        selfie_url = ""
        selfie_shown = False
        status = 200
        if request.method == "POST" and "purpose" in request.POST:
            if not self.has_view_pii_permission(request):
                raise PermissionDenied
            reveal_form = workbench.RevealForm(request.POST)
            if reveal_form.is_valid():
                selfie_url = self._selfie_url(
                    request, attempt, purpose=reveal_form.cleaned_data["purpose"]
                )
                selfie_shown = True
            else:
                status = 400
        elif request.method == "POST":
            if not self._can_decide(request, attempt):
                raise PermissionDenied
            decision_form = workbench.DecisionForm(request.POST)
            if decision_form.is_valid():
                try:
                    services.review(
                        attempt,
                        reviewer=request.user,
                        decision=decision_form.cleaned_data["decision"],
                        reason=decision_form.cleaned_data["reason"],
                    )
                except actions.REFUSALS as error:
                    decision_form.add_error(None, actions._refusal_text(error))
                    status = 400
                else:
                    self.message_user(request, self._decided_text(attempt), messages.SUCCESS)
                    return self._to_next(request, attempt)
            else:
                status = 400
        context = {
            **self.admin_site.each_context(request),
            **self._workbench_context(request, attempt),
            "reveal_form": reveal_form,
            "decision_form": decision_form,
            "selfie_url": selfie_url,
            "selfie_shown": selfie_shown,
        }
        response = TemplateResponse(
            request, "admin/face_idcard/workbench.html", context, status=status
        )
        response["Cache-Control"] = "no-store, private"
        return response

    def _decided_text(self, attempt: VerificationAttempt) -> str:
        if attempt.reviewed_at is None:
            return str(
                _("First review recorded for attempt %(id)s: a second reviewer must confirm it.")
                % {"id": attempt.pk}
            )
        return str(
            _("Attempt %(id)s decided: %(decision)s.")
            % {"id": attempt.pk, "decision": display.decision_label(attempt.final_decision)}
        )

    def _workbench_context(
        self, request: HttpRequest, attempt: VerificationAttempt
    ) -> dict[str, Any]:
        first = pending_review(attempt)
        person, account = workbench.related(attempt)
        following = workbench.next_in_queue(request.user, attempt)
        destructive = [
            (name, label)
            for name, label in self._detail_actions(request, attempt)
            if name in ("redact", "place_legal_hold", "lift_legal_hold")
        ]
        return {
            "title": _("Review workbench"),
            "opts": self.model._meta,
            "attempt": attempt,
            "attempt_short": str(attempt.pk)[:8],
            "change_url": reverse(
                "admin:face_idcard_verificationattempt_change", args=[attempt.pk]
            ),
            "changelist_url": reverse("admin:face_idcard_verificationattempt_changelist"),
            "queue_url": reverse("admin:face_idcard_attemptawaitingreview_changelist"),
            "next_url": (
                reverse("admin:face_idcard_workbench", args=[following.pk]) if following else ""
            ),
            "waiting": workbench.queue_for(request.user).count(),
            "time_zone": display.time_zone_name(),
            "created": display.local_time(attempt.created_at),
            "finished": display.local_time(attempt.finished_at),
            "decision_badge": display.decision_badge(attempt),
            "machine_decision": display.decision_label(attempt.decision),
            "reason_text": display.reason_text(attempt),
            "review_state": display.review_state_label(attempt),
            "gauge": workbench.Gauge(
                attempt.similarity, attempt.threshold, workbench.review_band(attempt.backend)
            ),
            "liveness": workbench.liveness(attempt),
            "capture_source": display.capture_source_label(attempt),
            "quality_notes": workbench.quality_notes(attempt),
            "same_person": [self._related_row(item) for item in person],
            "same_account": [self._related_row(item) for item in account],
            "abuse_flags": abuse.flags(attempt),
            "abuse_url": reverse("admin:face_idcard_abuse"),
            "provider_code": attempt.error_code or "-",
            "provider_latency": display.milliseconds(attempt.provider_latency_ms),
            "provider_data": display.pretty_json(attempt.raw_response),
            "can_view_pii": self.has_view_pii_permission(request) and bool(attempt.selfie_name),
            "has_pii_permission": self.has_view_pii_permission(request),
            "can_decide": self._can_decide(request, attempt),
            "first_review": first,
            "first_review_decision": (
                display.decision_label(str(first.data.get("decision", ""))) if first else ""
            ),
            "first_review_mine": first is not None and first.actor_id == request.user.pk,
            "first_review_time": display.local_time(first.created_at) if first else "",
            "destructive_actions": destructive,
            "reviewed_time": display.local_time(attempt.reviewed_at),
        }

    def _related_row(self, attempt: VerificationAttempt) -> dict[str, Any]:
        return {
            "url": reverse("admin:face_idcard_verificationattempt_change", args=[attempt.pk]),
            "created": display.local_time(attempt.created_at),
            "badge": display.decision_badge(attempt),
            "similarity": display.percent_score(attempt.similarity),
            "reason": display.reason_text(attempt),
            "user": str(attempt.user) if attempt.user_id else "-",
        }


@admin.register(AttemptAwaitingReview)
class AttemptAwaitingReviewAdmin(VerificationAttemptAdmin):
    """The queue: completed attempts in the review band, or awaiting a second reviewer;
    oldest first."""

    # Narrower than the attempts' list (every row is completed and awaiting review; the
    # backend is a filter): fits beside the navigation and the filters at 1280 px.
    list_display = (  # type: ignore[assignment]
        "age",
        "idcard_number_masked",
        "name_masked",
        "decision_badge",
        "similarity_score",
        "reason_label",
        "review_state",
    )
    list_display_links = ("age",)
    ordering = ("created_at",)
    list_filter = (BackendFilter, "reason", "created_at")  # type: ignore[assignment]
    date_hierarchy = None  # type: ignore[assignment]

    def get_urls(self) -> list[URLPattern]:
        # The extra views live under the attempts' admin only.
        return admin.ModelAdmin.get_urls(self)

    def get_queryset(self, request: HttpRequest) -> QuerySet[VerificationAttempt]:
        queue: QuerySet[VerificationAttempt] = (
            super()
            .get_queryset(request)
            .filter(status=Status.COMPLETED.value, reviewed_at__isnull=True)
            .filter(
                Q(decision=Decision.REVIEW.value) | Q(audit_sample=True) | _awaiting_second_filter()
            )
        )
        return queue

    @admin.display(description=_("age"), ordering="created_at")
    def age(self, obj: VerificationAttempt) -> str:
        return timesince(obj.created_at)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra = {"workbench_start_url": reverse("admin:face_idcard_workbench_next")}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The queue's items open in the review workbench (the attempts' admin serves it).
        return HttpResponseRedirect(reverse("admin:face_idcard_workbench", args=[object_id]))
