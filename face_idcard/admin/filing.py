"""The filing threshold's page and the processing records' export, among the statistics pages
(face_idcard._filing, face_idcard._records).

The filing page needs the console's view permission; the records export needs
``face_idcard.export_audit``, like the audit trail's.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .. import _filing as filing
from .. import _records as records
from ..models import ProcessingRecord


class RecordsExportForm(forms.Form):
    """The period (days in the site's time zone, both included), format and language."""

    MAX_DAYS = 366

    date_from = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=gettext_lazy("To (included)"), widget=forms.DateInput(attrs={"type": "date"})
    )
    format = forms.ChoiceField(
        label=gettext_lazy("Format"), choices=[("json", "JSON"), ("csv", "CSV")]
    )
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        choices=[("zh-hans", "简体中文"), ("en", "English")],
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The start date must not be after the end date."))
            if (end - start).days >= self.MAX_DAYS:
                raise forms.ValidationError(
                    _("Export at most %(days)d days at a time.") % {"days": self.MAX_DAYS}
                )
        return cleaned


def _start_of(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def filing_context() -> dict[str, Any]:
    return {"filing": filing.status()}


def records_response(
    request: HttpRequest, context: dict[str, Any], template: str
) -> HttpResponseBase:
    """The export form; a valid one stores, audits and streams the export."""
    form = RecordsExportForm(request.GET if "date_from" in request.GET else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        record = records.export(
            _start_of(data["date_from"]),
            _start_of(data["date_to"] + timedelta(days=1)),
            fmt=data["format"],
            language=data["language"],
            actor=request.user,
        )
        content_type = (
            "application/json" if record.format == "json" else "text/csv"
        ) + "; charset=utf-8"
        streamed = StreamingHttpResponse(records.chunks(record), content_type=content_type)
        streamed["Content-Disposition"] = f'attachment; filename="{records.filename(record)}"'
        streamed["Cache-Control"] = "no-store, private"
        return streamed
    context.update(
        title=_("Export the processing records"),
        page="face_idcard_records",
        form=form,
        exports=ProcessingRecord.objects.defer("content")[:20],
        keep_years=records.KEEP_YEARS,
    )
    response = TemplateResponse(request, template, context)
    response["Cache-Control"] = "no-store, private"
    return response
