"""Forms of the review console."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _


class NoEchoTextInput(forms.TextInput):
    """A text box that never writes its value back into the page."""

    def format_value(self, value: Any) -> str | None:
        return None


class IdNumberSearchForm(forms.Form):
    idcard_number = forms.CharField(
        label=_("ID number"),
        max_length=32,
        widget=NoEchoTextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ReasonForm(forms.Form):
    """The confirmation of an action that needs a reason (approve, reject)."""

    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000
    )

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if not reason:
            raise forms.ValidationError(_("Give a reason for the review."))
        return reason


class OptionalReasonForm(forms.Form):
    """The confirmation of an action whose reason is optional (legal hold)."""

    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
    )


class ConfirmForm(forms.Form):
    """The confirmation of an action without fields (re-run, redact)."""


class AuditExportForm(forms.Form):
    """The audit export's date range (days in the site's time zone, both included)."""

    #: The longest range one export covers (an auditor asks for a year at most).
    MAX_DAYS = 366

    date_from = forms.DateField(label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        label=_("To (included)"), widget=forms.DateInput(attrs={"type": "date"})
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
