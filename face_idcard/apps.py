from __future__ import annotations

from importlib.util import find_spec

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
        self._register_celery_dispatcher()

    @staticmethod
    def _register_celery_dispatcher() -> None:
        """With Celery installed, attempts go to ``face_idcard.tasks`` unless the site chose
        another dispatcher; without it the services still work, and a site plugs in its own
        queue (:mod:`face_idcard.services.dispatch`)."""
        if find_spec("celery") is None:
            return
        from . import tasks
        from .services import dispatch

        dispatch.set_default_dispatcher(tasks.CeleryDispatcher())
