"""A user-facing onboarding page: consent, photo, ID number and name, progress, result.

Django templates and plain JavaScript (``static/face_idcard/onboarding.js``) calling the REST
API (``face_idcard.api``) with the session; no CDN. Mount both, for example::

    path("api/face-idcard/", include("face_idcard.api.urls")),
    path("verify/", include("face_idcard.onboarding.urls")),

The page needs a logged-in user; ``verify/login/`` is a plain login page for sites without
their own (``LOGIN_URL = "face_idcard_onboarding:login"``).
"""
