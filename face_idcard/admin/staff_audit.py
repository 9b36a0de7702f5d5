"""The staff audit trail in the admin: actions that concern no single attempt (a search by ID
number, with or without hits), read only.

Seeing it takes the model's own ``face_idcard.view_staffauditevent`` (give it to auditors):
nothing here is added, changed or deleted, like the attempts' trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from ..models import StaffAuditEvent
from . import display

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[StaffAuditEvent]
else:
    _AdminBase = admin.ModelAdmin


@admin.register(StaffAuditEvent)
class StaffAuditEventAdmin(_AdminBase):
    list_display = ("created_at", "kind", "actor", "details")
    list_filter = ("kind", "created_at")
    ordering = ("-created_at", "-id")
    list_select_related = ("actor",)
    show_full_result_count = False
    actions = None
    fields = ("created_at", "kind", "actor", "details")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("details"))
    def details(self, obj: StaffAuditEvent) -> str:
        return display.event_summary(obj.data)
