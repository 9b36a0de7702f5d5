"""The statistics pages of the console: figures, threshold calibration, abuse signals and
the audit export. Registered as the admin of a proxy model, so the admin index links to it.

Reading needs ``view_verificationattempt`` (the console's own view permission); the export
needs ``face_idcard.export_audit``.
"""

from __future__ import annotations

import logging
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import permissions
from ..backends.config import configured
from ..insight import abuse, calibration, charts, export, stats
from ..insight.windows import WINDOWS, Scope, window
from ..models import VerificationStatistics
from ..states import DECISION_CHOICES, STATUS_CHOICES
from . import display
from . import filing as filing_pages
from .forms import AuditExportForm

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[VerificationStatistics]
else:
    _AdminBase = admin.ModelAdmin

logger = logging.getLogger("face_idcard.admin")


@admin.register(VerificationStatistics)
class VerificationStatisticsAdmin(_AdminBase):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm(permissions.full_name("view_verificationattempt")))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(permissions.full_name(permissions.EXPORT_AUDIT)))

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            # The admin index links to the changelist's name; the pages use their own.
            path(
                "", view(self.statistics_view), name="face_idcard_verificationstatistics_changelist"
            ),
            path("", view(self.statistics_view), name="face_idcard_statistics"),
            path("calibration/", view(self.calibration_view), name="face_idcard_calibration"),
            path("abuse/", view(self.abuse_view), name="face_idcard_abuse"),
            path("export/", view(self.export_view), name="face_idcard_export"),
            path("filing/", view(self.filing_view), name="face_idcard_filing"),
            path("records/", view(self.records_view), name="face_idcard_records"),
        ]

    # --- Shared ---------------------------------------------------------------------------

    def _scope(self, request: HttpRequest) -> tuple[Scope, dict[str, Any]]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        chosen = window(request.GET.get("window"))
        aliases = sorted(configured())
        backend = request.GET.get("backend", "")
        if backend not in aliases:
            backend = ""
        scope = Scope.last(chosen.length, backend)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "windows": WINDOWS,
            "window": chosen,
            "backends": aliases,
            "backend": backend,
            "scope": scope,
            "can_export": self.has_export_permission(request),
            "pages": [
                ("face_idcard_statistics", _("Figures")),
                ("face_idcard_calibration", _("Threshold calibration")),
                ("face_idcard_abuse", _("Abuse signals")),
                ("face_idcard_filing", _("Filing threshold")),
            ],
            # The filing threshold's warning on every statistics page (a few small reads).
            **filing_pages.filing_context(),
        }
        return scope, context

    def _render(self, request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
        response = TemplateResponse(request, f"admin/face_idcard/{template}", context)
        response["Cache-Control"] = "no-store, private"
        return response

    # --- Pages ----------------------------------------------------------------------------

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return self.statistics_view(request)

    def statistics_view(self, request: HttpRequest) -> HttpResponse:
        scope, context = self._scope(request)
        figures = stats.compute(scope)
        status_labels = dict(STATUS_CHOICES)
        decision_labels = dict(DECISION_CHOICES)
        context.update(
            title=_("Verification statistics"),
            page="face_idcard_statistics",
            stats=figures,
            status_chart=charts.bars(
                _("Attempts by status"),
                [
                    (str(status_labels.get(key, key)), figures.by_status.get(key, 0))
                    for key in status_labels
                ],
                name="status",
            ),
            decision_chart=charts.bars(
                _("Completed attempts by final decision"),
                [
                    (str(decision_labels.get(key, key)), figures.by_decision.get(key, 0))
                    for key in decision_labels
                ],
                colours=[
                    display.BADGE_COLOURS.get(key, charts.COLOURS[5]) for key in decision_labels
                ],
                name="decision",
            ),
            reason_chart=charts.bars(
                _("Top reasons"),
                [(label, count) for _code, label, count in figures.reasons],
                colour=charts.COLOURS[3],
                name="reasons",
            ),
            code_chart=charts.bars(
                _("Top provider codes"),
                [(f"{row.backend} {row.code}", row.count) for row in figures.codes],
                colour=charts.COLOURS[4],
                name="codes",
            ),
        )
        return self._render(request, "statistics.html", context)

    def calibration_view(self, request: HttpRequest) -> HttpResponse:
        scope, context = self._scope(request)
        result = calibration.compute(scope, request.GET.get("population"))
        labels = [
            f"{index * calibration.BIN}-{(index + 1) * calibration.BIN}"
            for index in range(calibration.BINS)
        ]
        current = None
        if scope.backend:
            current = stats_threshold(scope.backend)
        context.update(
            title=_("Threshold calibration"),
            page="face_idcard_calibration",
            calibration=result,
            populations=calibration.POPULATIONS,
            current_threshold=current,
            histogram=charts.stacked_histogram(
                _("Reviewed attempts by similarity"),
                [
                    (label, match, no_match)
                    for label, (match, no_match) in zip(labels, result.histogram, strict=True)
                ],
                (_("Reviewers said: match"), _("Reviewers said: no match")),
                name="histogram",
            ),
        )
        return self._render(request, "calibration.html", context)

    def abuse_view(self, request: HttpRequest) -> HttpResponse:
        scope, context = self._scope(request)
        context.update(
            title=_("Abuse signals"),
            page="face_idcard_abuse",
            signals=abuse.compute(scope),
            changelist_url=reverse("admin:face_idcard_verificationattempt_changelist"),
        )
        return self._render(request, "abuse.html", context)

    def filing_view(self, request: HttpRequest) -> HttpResponse:
        _scope, context = self._scope(request)
        context.update(title=_("Filing threshold"), page="face_idcard_filing")
        return self._render(request, "filing.html", context)

    def records_view(self, request: HttpRequest) -> HttpResponseBase:
        _scope, context = self._scope(request)
        if not self.has_export_permission(request):
            context.update(title=_("Export the processing records"), page="face_idcard_records")
            denied = TemplateResponse(
                request, "admin/face_idcard/export_denied.html", context, status=403
            )
            denied["Cache-Control"] = "no-store, private"
            return denied
        return filing_pages.records_response(request, context, "admin/face_idcard/records.html")

    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        _scope, context = self._scope(request)
        if not self.has_export_permission(request):
            # The admin's own page, in the reviewer's language, saying what is missing (not
            # the server's bare "403 Forbidden").
            context.update(title=_("Export the audit trail"), page="face_idcard_export")
            denied = TemplateResponse(
                request, "admin/face_idcard/export_denied.html", context, status=403
            )
            denied["Cache-Control"] = "no-store, private"
            return denied
        form = AuditExportForm(request.GET if "date_from" in request.GET else None)
        if form.is_bound and form.is_valid():
            since = _start_of(form.cleaned_data["date_from"])
            until = _start_of(form.cleaned_data["date_to"] + timedelta(days=1))
            logger.info(
                "audit export by user id %s: %s to %s",
                request.user.pk,
                since.isoformat(),
                until.isoformat(),
            )
            response = StreamingHttpResponse(
                export.lines(export.rows(since, until)), content_type="text/csv; charset=utf-8"
            )
            name = f"face_idcard-audit-{form.cleaned_data['date_from']}-{form.cleaned_data['date_to']}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            response["Cache-Control"] = "no-store, private"
            return response
        context.update(title=_("Export the audit trail"), page="face_idcard_export", form=form)
        return self._render(request, "export.html", context)


def _start_of(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def stats_threshold(alias: str) -> float | None:
    from ..backends import get_backend

    try:
        return float(get_backend(alias).threshold)
    except Exception:  # an alias without a working configuration: no current threshold
        return None
