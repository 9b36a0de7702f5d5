from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FaceIdcardConfig(AppConfig):
    name = "face_idcard"
    verbose_name = _("Face verification against ID cards")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks and the settings-reload receiver.
        from . import checks, conf, logfilters  # noqa: F401

        logfilters.install_request_filter()
        if conf.face_idcard_settings.QUIET_HTTP_LOGGERS:
            logfilters.install()
