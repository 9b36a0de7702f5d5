"""No API answer is kept by a browser or a shared cache.

The answers carry masked personal data and the state of a person's verification; a shared
proxy or the browser's disk cache must not keep them (nor serve one user's answer to
another). ``Cache-Control: no-store, private`` on every response of a view that mixes this in,
errors included (DRF's ``finalize_response`` sees every answer of the view).
"""

from __future__ import annotations

from typing import Any

from django.utils.cache import patch_cache_control
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

__all__ = ["NoStore"]


class NoStore(APIView):
    """Mix in first: ``class AttemptViewSet(NoStore, ..., GenericViewSet)``."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, no_store=True, private=True)
        return response
