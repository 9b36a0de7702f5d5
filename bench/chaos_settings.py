"""Settings of ``bench/chaos.py``: the example site (PostgreSQL and a Redis of the benchmark's
own, from the environment) with the recovery settings docs/operations.rst gives for a site that
must heal fast, and no daily limit a run reaches.

Each process names its database connections (``CHAOS_DB_APPLICATION``: ``pg_stat_activity``'s
``application_name``), so that the benchmark can kill the worker's and only the worker's.
"""

from __future__ import annotations

import os

from example_site.settings import *  # noqa: F403
from example_site.settings import DATABASES as _SITE_DATABASES
from example_site.settings import FACE_IDCARD as _SITE_FACE_IDCARD

DATABASES = {
    "default": {
        **_SITE_DATABASES["default"],
        "OPTIONS": {"application_name": os.environ.get("CHAOS_DB_APPLICATION", "chaos")},
    }
}
FACE_IDCARD = {
    **_SITE_FACE_IDCARD,
    # docs/operations.rst: "To recover faster, lower BROKER_MAX_COUNTDOWN_SECONDS with it" (the
    # visibility timeout, EXAMPLE_BROKER_VISIBILITY_TIMEOUT, set by the benchmark), and keep
    # RETRY_BACKOFF_MAX_SECONDS under it.
    "BROKER_MAX_COUNTDOWN_SECONDS": int(os.environ.get("CHAOS_MAX_BROKER_COUNTDOWN", "30")),
    # Each submission has an ID number of its own; the accounts take turns.
    "MAX_ID_NUMBERS_PER_ACCOUNT_PER_DAY": 10**6,
    "ABUSE_MAX_ID_NUMBERS_PER_ACCOUNT": 10**6,
}
