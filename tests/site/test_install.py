"""The docs' tutorial (docs/tutorial.rst), followed literally in a fresh ``startproject`` site,
then its production how-to (docs/howto/production.rst) checked with ``check --deploy``.

The pages mark each snippet this test applies (``.. install-snippet: NAME`` right before its
code block, read by tests/support/snippets.py): ``settings`` is appended to
``mysite/settings.py``, ``celery.py`` and ``__init__.py`` are written into ``mysite/``,
``first-verification`` is run with ``manage.py shell -c``; ``production-backend`` and
``production`` are appended to the site's settings in a settings module of their own (the
tutorial's site keeps running on the simulator for the other tests). They are read from the
pages themselves, so the two cannot drift.

No network: the wheel is built from a copy of the source tree with the suite's own setuptools
(``--no-build-isolation --no-index``) and installed with ``--no-deps --target DIR``; every child
runs with ``sys.executable`` (so it reuses the suite's installed Django, Celery, ...),
``PYTHONPATH=DIR`` and a cwd outside the source tree, and proves it imported the installed copy.
The Celery worker is a real ``celery -A mysite worker`` process on kombu's filesystem transport
(or on the Redis broker when ``FACE_IDCARD_TEST_BROKER`` is set); the provider is a real
``python -m face_idcard.simulator`` process. The only lines the test adds to the tutorial's settings
are the broker's (a folder in the temp dir, or a queue of its own on the shared Redis).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from face_idcard.outcome import load_catalogue
from tests.support.paths import BUILD_INPUTS, REPO_ROOT
from tests.support.snippets import snippet

SOURCE = REPO_ROOT
STEP_TIMEOUT = 60.0

# The suite's test database must exist (the site fixture creates the site's database from its
# connection on PostgreSQL and MySQL/MariaDB); the tests themselves use the site's only.
pytestmark = pytest.mark.django_db

install_snippet = snippet


def test_install_snippet_reads_exactly_the_marked_block() -> None:
    text = textwrap.dedent(
        """\
        1. Step

           .. install-snippet: demo

           .. code-block:: python

               a = 1

               b = 2

           After the block.
        """
    )
    assert install_snippet("demo", text) == "a = 1\n\nb = 2\n"
    with pytest.raises(AssertionError):
        install_snippet("absent", text)


# --- The site ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _clean_environment() -> dict[str, str]:
    """The parent's environment without anything that configures Django, Celery or the app
    (pytest-django exports DJANGO_SETTINGS_MODULE; a developer may have FACE_IDCARD_*)."""
    prefixes = ("FACE_IDCARD_", "CELERY_", "DJANGO_", "PYTHONPATH")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@dataclass
class Site:
    root: Path  # the temp dir: nothing of the source tree
    target: Path  # where the wheel is installed
    project: Path  # the startproject site (cwd of every child)
    env: dict[str, str]
    simulator_port: int = 0
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def python(self, *args: str, env: dict[str, str] | None = None) -> str:
        return _ok(_run([sys.executable, *args], env=env or self.env, cwd=self.project))

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.python("manage.py", *args, env=env)

    def start(self, name: str, *args: str) -> Path:
        """A long-running child in its own process group; its output goes to a log file."""
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            child = subprocess.Popen(
                [sys.executable, *args],
                env=self.env,
                cwd=self.project,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.children.append(child)
        return log

    def stop_children(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)


def _build_and_install(root: Path) -> Path:
    """Build the wheel from a copy of the sources (no build/ left in the checkout) and install
    it alone into a folder of its own."""
    source = root / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_INPUTS:
        if (SOURCE / name).is_dir():
            shutil.copytree(SOURCE / name, source / name, ignore=ignore)
        else:
            shutil.copy2(SOURCE / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    env = _clean_environment()
    wheels = root / "wheels"
    _ok(
        _run(
            [
                *pip,
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-w",
                str(wheels),
                ".",
            ],
            env=env,
            cwd=source,
        )
    )
    (wheel,) = wheels.glob("django_face_idcard-*.whl")
    target = root / "site-packages"
    _ok(
        _run(
            [*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
            env=env,
            cwd=root,
        )
    )
    return target


def _test_broker(root: Path) -> tuple[str, str]:
    """The broker URL and the settings lines the test adds for it."""
    redis_url = os.environ.get("FACE_IDCARD_TEST_BROKER", "")
    if redis_url.startswith("redis://"):
        # The Redis database is shared with other runs: a queue of our own.
        return redis_url, f'CELERY_TASK_DEFAULT_QUEUE = "face_idcard_install_{os.getpid()}"\n'
    folders = {name: root / "broker" / name for name in ("queue", "processed")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    options = {
        "data_folder_in": str(folders["queue"]),
        "data_folder_out": str(folders["queue"]),
        "processed_folder": str(folders["processed"]),
        "polling_interval": 0.1,
    }
    return "filesystem://", f"CELERY_BROKER_TRANSPORT_OPTIONS = {options!r}\n"


def _test_database(name: str) -> tuple[str, str]:
    """The settings lines that put the site on the suite's database server (a database of
    its own, ``name``) and the statement that drops it; nothing for SQLite, where the
    site keeps startproject's file database."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor == "sqlite":
        return "", ""
    suite = settings.DATABASES["default"]
    options = {
        key: suite[key]
        for key in ("ENGINE", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
        if key in suite
    }
    quoted = connection.ops.quote_name(name)
    create = f"CREATE DATABASE {quoted}"
    if connection.vendor == "mysql":
        create += " CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
        cursor.execute(create)
    lines = f"DATABASES = {{'default': {{**{options!r}, 'NAME': {name!r}}}}}\n"
    return lines, f"DROP DATABASE IF EXISTS {quoted}"


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    django_db_setup: None,
    django_db_blocker: Any,
) -> Iterator[Site]:
    """The tutorial's site; on PostgreSQL or MySQL/MariaDB runs (FACE_IDCARD_TEST_DB) it
    migrates into a database of its own on the suite's server, else into SQLite."""
    from django.db import connection

    with django_db_blocker.unblock():
        database_settings, drop = _test_database(f"face_idcard_install_{os.getpid()}")
    try:
        yield from _site(tmp_path_factory, database_settings)
    finally:
        if drop:
            with django_db_blocker.unblock(), connection.cursor() as cursor:
                cursor.execute(drop)


def _site(tmp_path_factory: pytest.TempPathFactory, database_settings: str) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("install")
    assert SOURCE not in root.parents
    target = _build_and_install(root)
    env = _clean_environment() | {"PYTHONPATH": str(target)}
    bare = Site(root=root, target=target, project=root, env=env)

    # Step 2: the secrets, made by the tutorial's shell lines with the installed copy (its
    # ``python`` is the suite's interpreter, first on PATH).
    bin_dir = root / "bin"
    bin_dir.mkdir()
    # A script, not a symlink: a link to a virtual environment's interpreter, run from here,
    # finds no pyvenv.cfg beside itself and runs the bare interpreter without the
    # environment's packages (seen with Python 3.13 from pyenv).
    wrapper = bin_dir / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    variables = ("FACE_IDCARD_PII_KEY", "FACE_IDCARD_HASH_KEY")
    shell = install_snippet("secrets") + "".join(f'printf "%s\\n" "${v}"\n' for v in variables)
    made = _ok(
        _run(
            ["bash", "-euc", shell],
            env=env | {"PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"},
            cwd=root,
        )
    ).split()
    assert len(made) == 2 and made[0] != made[1], made
    env.update(zip(variables, made, strict=True))
    bare.python("-m", "django", "startproject", "mysite")
    project = root / "mysite"
    package = project / "mysite"

    broker_url, broker_settings = _test_broker(root)
    env["CELERY_BROKER_URL"] = broker_url
    port = _free_port()
    env["FACE_IDCARD_SIMULATOR_URL"] = f"http://127.0.0.1:{port}"
    with (package / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write("\n" + install_snippet("settings"))
        settings.write("\n# --- tests/site/test_install.py: a broker that needs no server ---\n")
        settings.write(broker_settings)
        if database_settings:
            settings.write("# --- tests/site/test_install.py: the suite's database server ---\n")
            settings.write(database_settings)
    (package / "celery.py").write_text(install_snippet("celery.py"), encoding="utf-8")
    (package / "__init__.py").write_text(install_snippet("__init__.py"), encoding="utf-8")

    built = Site(root=root, target=target, project=project, env=env, simulator_port=port)
    try:
        yield built
    finally:
        built.stop_children()


def _wait_for_port(port: int, log: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"the simulator did not listen on {port}:\n{log.read_text(errors='replace')}")


def test_the_installed_copy_is_the_one_imported(site: Site) -> None:
    where = site.python("-c", "import face_idcard; print(face_idcard.__file__)").strip()
    assert Path(where).is_relative_to(site.target), where
    assert not Path(where).is_relative_to(SOURCE)


def test_the_wheel_carries_the_code_catalogues(site: Site) -> None:
    for provider in ("legacy", "faceid"):
        assert (site.target / "face_idcard" / "providers" / provider / "codes.json").is_file()
    # Read from the installed copy through importlib.resources, as the backends do.
    counts = site.python(
        "-c",
        "from face_idcard.providers.legacy.codes import LEGACY_CODES; "
        "from face_idcard.providers.faceid.codes import FACEID_CODES; "
        "print(len(LEGACY_CODES), len(FACEID_CODES))",
    ).split()
    assert [int(count) for count in counts] == [
        len(load_catalogue("face_idcard.providers.legacy")),
        len(load_catalogue("face_idcard.providers.faceid")),
    ]


@pytest.mark.parametrize("command", ["check", "migrate"])
def test_a_missing_secret_stops_the_site_with_a_clear_message(site: Site, command: str) -> None:
    env = {k: v for k, v in site.env.items() if k != "FACE_IDCARD_HASH_KEY"}
    result = _run([sys.executable, "manage.py", command], env=env, cwd=site.project)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("face_idcard.exceptions.MissingSecret: "), result.stderr
    assert "FACE_IDCARD_HASH_KEY is not set" in last_line
    assert "python -m face_idcard.crypto" in last_line
    assert site.env["FACE_IDCARD_PII_KEY"] not in result.stderr


def test_the_tutorial_verifies_a_person_through_a_real_worker(site: Site) -> None:
    from face_idcard.simulator.registry import demo_people

    site.manage("migrate", "--noinput", "-v", "0")
    checked = site.manage("check")
    assert "System check identified no issues" in checked, checked
    # Timed from here: migrate's DDL takes longer on MySQL/MariaDB than on SQLite.
    started = time.monotonic()

    # The beat schedule names tasks the app registers.
    site.manage(
        "shell",
        "-c",
        "from mysite.celery import app; app.loader.import_default_modules(); "
        "names = {entry['task'] for entry in app.conf.beat_schedule.values()}; "
        "assert names == {'face_idcard.tasks.sweep', 'face_idcard.tasks.purge', 'face_idcard.tasks.refresh_statistics'}, names; "
        "assert names <= set(app.tasks), sorted(app.tasks)",
    )

    port = site.simulator_port
    simulator_log = site.start("simulator", "-m", "face_idcard.simulator", "--port", str(port))
    worker_log = site.start(
        "worker", "-m", "celery", "-A", "mysite", "worker", "--pool=solo", "--loglevel=info"
    )
    _wait_for_port(port, simulator_log, time.monotonic() + 15)

    result = _run(
        [sys.executable, "manage.py", "shell", "-c", install_snippet("first-verification")],
        env=site.env,
        cwd=site.project,
    )
    logs = "\n".join(
        f"--- {log.name}:\n{log.read_text(errors='replace')[-3000:]}"
        for log in (simulator_log, worker_log)
    )
    assert result.returncode == 0, f"{result.stderr[-3000:]}\n{logs}"
    status, decision, similarity = result.stdout.split()[-3:]
    assert (status, decision) == ("completed", "match"), f"{result.stdout}\n{logs}"
    assert float(similarity) >= 90
    assert time.monotonic() - started < 40

    # Privacy: the worker's log (at INFO) holds neither the number nor the name.
    person = demo_people()[0]
    worker_output = worker_log.read_text(errors="replace")
    assert "face_idcard.tasks.verify_attempt" in worker_output
    assert person.idcard_number not in worker_output
    assert person.idcard_name not in worker_output


def test_pip_keeps_the_installed_django_beside_the_wheel(site: Site) -> None:
    """Installing the app must not move the site's Django: pip downgraded 6.1 to 5.2 while
    the range said <6.0. The wheel's requirements are met by this environment as it is (CI
    runs this on the newest Django): pip plans to install nothing else, and ``pip check``
    finds nothing wrong with the installed wheel."""
    import json

    (wheel,) = (site.root / "wheels").glob("django_face_idcard-*.whl")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    env = _clean_environment()
    planned = _ok(
        _run(
            [*pip, "install", "--dry-run", "--no-index", "-q", "--report", "-", str(wheel)],
            env=env,
            cwd=site.root,
        )
    )
    names = {item["metadata"]["name"].lower() for item in json.loads(planned)["install"]}
    assert names <= {"django-face-idcard"}, names
    checked = _run([*pip, "check"], env=env | {"PYTHONPATH": str(site.target)}, cwd=site.root)
    complaints = [
        line
        for line in checked.stdout.splitlines()
        if line.lower().startswith("django-face-idcard")
    ]
    assert complaints == [], checked.stdout


def test_the_production_how_to_passes_check_deploy_in_the_same_site(site: Site) -> None:
    """The how-to's two blocks appended to the tutorial's settings: the FaceID alias replaces
    the simulator's, the tutorial's keys and private selfie storage stay, and Django's and the
    app's deployment checks find nothing. Each secret the blocks read is missing in turn:
    ``MissingSecret`` names it, never a ``KeyError``."""
    production = site.project / "mysite" / "settings_production.py"
    production.write_text(
        "from .settings import *  # noqa: F403\n\n"
        + install_snippet("production-backend")
        + "\n"
        + install_snippet("production"),
        encoding="utf-8",
    )
    secrets = {
        "TENCENTCLOUD_SECRET_ID": "AKIDinstalltestSecretId0123456789",
        "TENCENTCLOUD_SECRET_KEY": "install-test-secret-key-0123456789",
        "DJANGO_SECRET_KEY": site.python("-m", "face_idcard.crypto").strip() * 2,
    }
    env = site.env | secrets
    checked = site.manage("check", "--deploy", "--settings=mysite.settings_production", env=env)
    assert "System check identified no issues (0 silenced)." in checked, checked
    shown = site.manage(
        "shell",
        "--settings=mysite.settings_production",
        "-c",
        "from django.conf import settings; f = settings.FACE_IDCARD; "
        "print(f['BACKENDS']['default']['BACKEND'], f['SELFIE_STORAGE'], "
        "len(f['PII_ENCRYPTION_KEYS']), len(f['PII_HASH_KEYS']), settings.DEBUG)",
        env=env,
    )
    assert shown.strip().splitlines()[-1].split() == ["faceid", "face_idcard", "1", "1", "False"], (
        shown
    )
    for missing in secrets:
        result = _run(
            [sys.executable, "manage.py", "check", "--settings=mysite.settings_production"],
            env={k: v for k, v in env.items() if k != missing},
            cwd=site.project,
        )
        assert result.returncode != 0
        last_line = result.stderr.strip().splitlines()[-1]
        assert last_line.startswith("face_idcard.exceptions.MissingSecret: "), result.stderr
        assert f"{missing} is not set" in last_line
        assert not any(value in result.stderr for value in secrets.values())
