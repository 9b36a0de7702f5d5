"""The example site's ``DATABASE_URL``: each database .ci/run runs the demo on (PostgreSQL,
MySQL/MariaDB, SQLite) is read into Django's settings; another scheme is refused by name.

The settings are imported in a child process: they read the environment at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "example_project"


def database_of(tmp_path: Path, url: str) -> tuple[int, Any, str]:
    keep = ("FACE_IDCARD_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "CELERY_", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(keep)} | {
        "PYTHONPATH": os.pathsep.join([str(EXAMPLE), str(REPO_ROOT)]),
        "EXAMPLE_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": url,
    }
    code = (
        "import json, example_site.settings as s; "
        "print(json.dumps(s.DATABASES['default'], default=str))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    database = json.loads(result.stdout) if result.returncode == 0 else None
    return result.returncode, database, result.stderr


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_a_mysql_url_is_mysqlclient_with_four_byte_utf8(tmp_path: Path, scheme: str) -> None:
    code, database, stderr = database_of(tmp_path, f"{scheme}://site:p%40ss@db.internal:3307/kyc")
    assert code == 0, stderr
    assert database["ENGINE"] == "django.db.backends.mysql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == ("kyc", "site", "p@ss")
    assert (database["HOST"], database["PORT"]) == ("db.internal", "3307")
    assert database["OPTIONS"] == {"charset": "utf8mb4"}
    assert database["CONN_HEALTH_CHECKS"] is True


def test_a_postgres_url_is_read_as_before(tmp_path: Path) -> None:
    code, database, stderr = database_of(tmp_path, "postgres://postgres@127.0.0.1:5432/demo")
    assert code == 0, stderr
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PORT"]) == ("demo", "postgres", "5432")


def test_another_scheme_is_refused_by_name(tmp_path: Path) -> None:
    code, database, stderr = database_of(tmp_path, "oracle://scott@db/orcl")
    assert code != 0 and database is None
    assert "unsupported scheme 'oracle'" in stderr.strip().splitlines()[-1]
