"""The REST API of face_idcard (Django REST framework; install the ``[drf]`` extra).

Mount it in the host's URLconf::

    path("api/face-idcard/", include("face_idcard.api.urls")),

Endpoints (see the OpenAPI schema, drf-spectacular): ``attempts/`` (POST to start, GET your
own), ``attempts/{id}/``, ``attempts/{id}/cancel/``, ``attempts/{id}/review/``.
"""
