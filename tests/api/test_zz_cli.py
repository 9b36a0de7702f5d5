from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from django.core.cache import cache

from tests.support.api_helpers import client_for, plain_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_cli(live_server: Any, face_settings: Any) -> None:
    face_settings(API_CREATE_THROTTLE_RATE=None, NOTICE_VERSIONS=["2026-11"])
    cache.clear()
    token = client_for(plain_user("schemathesis"))._credentials["HTTP_AUTHORIZATION"]
    out = subprocess.run(
        ["/work/main/.venv/bin/st", "run", f"{live_server.url}/api/schema/?format=json",
         "--url", live_server.url, "-H", f"Authorization: {token}", "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--seed", "1",
         "--max-examples", os.environ.get("MAXEX", "30"), "--continue-on-failure", "--no-color"],
        capture_output=True, text=True, timeout=1500,
    )
    open("/tmp/schema_scratch/cli.txt", "w").write(out.stdout + out.stderr)
