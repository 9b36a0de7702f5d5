"""Django system checks for ``FACE_IDCARD``, with stable ids (face_idcard.E0xx / W0xx)."""

from __future__ import annotations

import hashlib
import ipaddress
import numbers
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.files.storage import storages

from . import _settings_history as settings_history
from . import settings_spec
from .conf import face_idcard_settings as fs


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@register(Tags.security, "face_idcard")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Each key's type and range, as declared (:mod:`face_idcard.settings_spec`), no key that
    nobody declares (E019), the backends, and the rules that tie keys together."""
    fs.reload()  # checks must see the settings as they are now
    messages = _check_declared_values() + _check_undeclared_keys()
    messages += _check_backends()

    keys = fs.PII_ENCRYPTION_KEYS
    if isinstance(keys, list | tuple) and not keys and not settings.DEBUG:
        messages.append(
            Error(
                "No PII encryption key: FACE_IDCARD['PII_ENCRYPTION_KEYS'] is empty while DEBUG is off.",
                hint="Generate one with `python -m face_idcard.crypto` (or "
                "cryptography.fernet.Fernet.generate_key()) and keep it out of the repository.",
                id="face_idcard.E005",
            )
        )
    selfie_days, pii_days = fs.SELFIE_RETENTION_DAYS, fs.PII_RETENTION_DAYS
    if _is_whole(selfie_days, 0) and _is_whole(pii_days, 0) and selfie_days > pii_days:
        messages.append(
            Warning(
                "Selfies are kept longer than the ID number and name they belong to.",
                id="face_idcard.W002",
            )
        )
    messages += _check_pipeline_settings()
    return messages


def _check_declared_values() -> list[CheckMessage]:
    """Every site-wide key against its declaration: one Error, with the declared check id,
    per value of the wrong type or out of range (a secret's value is never quoted)."""
    messages: list[CheckMessage] = []
    for setting in settings_spec.SETTINGS:
        text = setting.problem(f"FACE_IDCARD['{setting.name}']", getattr(fs, setting.name))
        if text:
            messages.append(Error(text, id=setting.check))
    return messages


def _undeclared_hint(key: str, known: list[str], where: str) -> str:
    """What an undeclared key was probably meant to be (its new name, a removed key's
    replacement, the closest declared name), and where the declared keys are listed."""
    guess = settings_spec.closest_name(key, known)
    if guess is not None and settings_history.RENAMED.get(key) == guess:
        return f"{key} was renamed to {guess} (CHANGELOG.rst: renamed settings)."
    if key in settings_history.REMOVED:
        return f"{key} was removed: {settings_history.REMOVED[key]}"
    if guess is not None:
        return f"Did you mean {guess}? {where}."
    return f"Check for typos. {where}."


def _check_undeclared_keys() -> list[CheckMessage]:
    """A key of FACE_IDCARD that nobody declares is ignored: a typo would silently leave the
    default in force, so it is an Error (keys only, never values)."""
    known = list(settings_spec.BY_NAME)
    return [
        Error(
            f"FACE_IDCARD sets {key!r}, which is not a face_idcard setting: it would be ignored.",
            hint=_undeclared_hint(key, known, "The settings reference lists every key"),
            id="face_idcard.E019",
        )
        for key in fs.unknown_keys()
    ]


def _is_whole(value: Any, minimum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _check_pipeline_settings() -> list[CheckMessage]:
    """Rules across keys: the claim lease against the call's timeouts, the rate limit's cache
    and the selfie storage against Django's own settings."""
    messages: list[CheckMessage] = []
    connect, read = fs.CONNECT_TIMEOUT_SECONDS, fs.READ_TIMEOUT_SECONDS
    call_bound = connect + read if _is_number(connect) and _is_number(read) else None
    if _is_whole(fs.CLAIM_LEASE_SECONDS, 1) and call_bound and fs.CLAIM_LEASE_SECONDS <= call_bound:
        messages.append(
            Error(
                "FACE_IDCARD['CLAIM_LEASE_SECONDS'] is not longer than a provider call can "
                "take (CONNECT_TIMEOUT_SECONDS + READ_TIMEOUT_SECONDS): the sweeper would take attempts back "
                "from workers that are still waiting for an answer, and pay twice.",
                id="face_idcard.E011",
            )
        )

    rate = fs.RATE_LIMIT_PER_SECOND
    aliases = fs.BACKENDS if isinstance(fs.BACKENDS, dict) else {}
    limited = (
        rate is not None
        or any(
            isinstance(entry, dict) and entry.get("RATE_LIMIT_PER_SECOND") is not None
            for entry in aliases.values()
        )
        # A backend that paces at its provider's quota when nothing is set.
        or any(cls.default_rate_limit_per_second is not None for _, cls, _ in _usable_aliases())
    )
    if limited and fs.RATE_LIMIT_CACHE not in settings.CACHES:
        messages.append(
            Error(
                f"FACE_IDCARD['RATE_LIMIT_CACHE'] names {fs.RATE_LIMIT_CACHE!r}, which is not in "
                "CACHES.",
                id="face_idcard.E013",
            )
        )
    elif limited:
        backend = type(caches[fs.RATE_LIMIT_CACHE]).__name__
        if backend in ("LocMemCache", "DummyCache", "FileBasedCache"):
            messages.append(
                Warning(
                    f"The rate limit is kept in a {backend}, which worker processes do not share.",
                    hint="Point RATE_LIMIT_CACHE at a Redis (or Memcached) cache so that all "
                    "workers together stay under the account's quota.",
                    id="face_idcard.W005",
                )
            )

    alias = fs.SELFIE_STORAGE
    if alias not in storages.backends:
        messages.append(
            Error(
                f"FACE_IDCARD['SELFIE_STORAGE'] names {alias!r}, which is not in STORAGES.",
                id="face_idcard.E014",
            )
        )
    elif alias == "default":
        messages.append(
            Warning(
                "Selfies (encrypted) are kept in the 'default' storage, which sites usually "
                "serve publicly at MEDIA_URL.",
                hint="Add a private storage to STORAGES (a folder no web server serves, or a "
                "private object storage) and name it in FACE_IDCARD['SELFIE_STORAGE'].",
                id="face_idcard.W004",
            )
        )

    return messages


def _check_backends() -> list[CheckMessage]:
    """Every alias of BACKENDS: its class, its options (required, unknown), generic values."""
    from django.core.exceptions import ImproperlyConfigured

    from .backends import backend_class
    from .backends.config import GENERIC_KEYS, configured, default_alias, resolve

    messages: list[CheckMessage] = []
    if not isinstance(fs.BACKENDS, Mapping):
        return messages  # not a dict: reported by its declaration (E001)
    try:
        entries = configured()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="face_idcard.E001")]
    default = default_alias()
    if default not in entries:
        messages.append(
            Error(
                f"FACE_IDCARD['DEFAULT_BACKEND'] is {default!r}, which is not in BACKENDS.",
                hint="Add an alias of that name to FACE_IDCARD['BACKENDS'] (like CACHES).",
                id="face_idcard.E001",
            )
        )
    for alias, entry in entries.items():
        label = f"FACE_IDCARD['BACKENDS'][{alias!r}]"
        name = entry.get("BACKEND")
        try:
            if not isinstance(name, str):
                raise ImproperlyConfigured(f"{label} has no 'BACKEND'")
            cls = backend_class(name)
        except ImproperlyConfigured:
            messages.append(
                Error(
                    f"{label}: backend {name!r} cannot be used.",
                    hint="Use a built-in name or a dotted path to a Backend subclass.",
                    id="face_idcard.E001",
                )
            )
            continue
        messages += _check_alias_values(alias, entry)
        try:
            config = resolve(alias)
        except (TypeError, ValueError):
            continue  # a generic value of the wrong type: reported just above
        # Keys and names only: an option's value may be a credential.
        known = ["BACKEND", *GENERIC_KEYS, *cls.options]
        for key in cls.unknown_options(config):
            messages.append(
                Error(
                    f"{label} sets {key!r}, which backend {name!r} does not read: it would be "
                    "ignored.",
                    hint=_undeclared_hint(
                        key,
                        known,
                        f"Its options: {cls.describe_options() or 'none'}; every backend also "
                        f"takes {', '.join(GENERIC_KEYS)}",
                    ),
                    id="face_idcard.E018",
                )
            )
        missing = cls.missing_options(config)
        if missing:
            messages.append(
                Error(
                    f"Backend {alias!r} has no value for " + ", ".join(missing) + ".",
                    hint=f"Set them in {label}, for secrets from the environment with "
                    "face_idcard.conf.secret_from_env().",
                    id="face_idcard.E002",
                )
            )
        if cls.development_only and not settings.DEBUG and not fs.ALLOW_DEVELOPMENT_BACKENDS:
            messages.append(
                Error(
                    f"Backend {alias!r} is for development only while DEBUG is off.",
                    hint="The simulator is not face recognition; never use it in production. "
                    "A staging site that never sees a real person may set "
                    "FACE_IDCARD['ALLOW_DEVELOPMENT_BACKENDS'] = True.",
                    id="face_idcard.E030",
                )
            )
    return messages


def _check_alias_values(alias: str, entry: dict[str, Any]) -> list[CheckMessage]:
    """The generic keys an alias sets, against their declarations (the site-wide values are
    checked by :func:`_check_declared_values`)."""
    messages: list[CheckMessage] = []
    label = f"FACE_IDCARD['BACKENDS'][{alias!r}]"
    for key in settings_spec.PER_ALIAS:
        if key not in entry:
            continue
        setting = settings_spec.declared(key)
        text = setting.problem(f"{label}['{key}']", entry[key])
        if text:
            messages.append(Error(text, id=setting.check))
    return messages


@register(Tags.security, "face_idcard")
def check_hash_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``PII_HASH_KEYS``: present outside DEBUG, well formed, unique ids, not SECRET_KEY."""
    from django.core.exceptions import ImproperlyConfigured

    from . import crypto

    fs.reload()
    if not isinstance(fs.PII_HASH_KEYS, list | tuple):
        return []  # not a list: reported by its declaration (E016)
    try:
        entries = crypto.configured_hash_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="face_idcard.E016")]
    if not entries:
        if settings.DEBUG:
            return [
                Warning(
                    "No ID number hash key: FACE_IDCARD['PII_HASH_KEYS'] is empty, so the public "
                    "development key is used (DEBUG only).",
                    hint="Set PII_HASH_KEYS before storing real attempts.",
                    id="face_idcard.W007",
                )
            ]
        return [
            Error(
                "No ID number hash key: FACE_IDCARD['PII_HASH_KEYS'] is empty while DEBUG is off.",
                hint="Generate a long random secret (`python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'`), keep it apart from the database and "
                "from SECRET_KEY.",
                id="face_idcard.E015",
            )
        ]
    messages: list[CheckMessage] = []
    seen: set[str] = set()
    secret_key = str(settings.SECRET_KEY).encode("utf-8")
    for index, entry in enumerate(entries):
        try:
            key = crypto.parse_hash_key(entry)
        except (TypeError, ValueError) as exc:
            messages.append(
                Error(f"FACE_IDCARD['PII_HASH_KEYS'][{index}]: {exc}.", id="face_idcard.E016")
            )
            continue
        if key.key_id in seen:
            messages.append(
                Error(
                    f"FACE_IDCARD['PII_HASH_KEYS'][{index}] repeats the key id {key.key_id!r}.",
                    id="face_idcard.E016",
                )
            )
        seen.add(key.key_id)
        if key.secret == secret_key:
            messages.append(
                Error(
                    f"FACE_IDCARD['PII_HASH_KEYS'][{index}] is Django's SECRET_KEY.",
                    hint="The hash key must be a secret of its own: rotating SECRET_KEY must "
                    "not reset the limits, and SECRET_KEY sits in more places.",
                    id="face_idcard.E016",
                )
            )
    return messages


def _digest(value: str | bytes) -> str:
    return hashlib.sha256(value.encode("utf-8") if isinstance(value, str) else value).hexdigest()


#: SHA-256 of the secrets published in the repository: the example site's development
#: defaults (example_project/example_site/settings.py) for SECRET_KEY, PII_ENCRYPTION_KEYS and
#: PII_HASH_KEYS. Anyone can read them, so a site that runs with one keeps nothing secret.
PUBLISHED_SECRET_DIGESTS = frozenset(
    {
        "11fc88cad7e64ce5842a11c6287451a61921d568acc7745e186b3b0dfe6e5b4d",
        "1cd538d952d820cba9ed10c3299ee935435cf50f7b9bb3715b23e651ef3a3a03",
        "0349fbcb8f692e4dd66a77207df885e34373ddaf0172d8c9a747370a0a3ad731",
    }
)


@register(Tags.security, "face_idcard")
def check_published_secrets(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off, no secret may be one the repository publishes (E031)."""
    from django.core.exceptions import ImproperlyConfigured

    from . import crypto

    if settings.DEBUG:
        return []
    fs.reload()
    found: list[str] = []
    if _digest(str(settings.SECRET_KEY)) in PUBLISHED_SECRET_DIGESTS:
        found.append("SECRET_KEY")
    keys = fs.PII_ENCRYPTION_KEYS
    if isinstance(keys, list | tuple):
        found += [
            f"FACE_IDCARD['PII_ENCRYPTION_KEYS'][{index}]"
            for index, key in enumerate(keys)
            if isinstance(key, str | bytes) and _digest(key) in PUBLISHED_SECRET_DIGESTS
        ]
    for index, secret in _hash_secrets(crypto, ImproperlyConfigured):
        if _digest(secret) in PUBLISHED_SECRET_DIGESTS:
            found.append(f"FACE_IDCARD['PII_HASH_KEYS'][{index}]")
    if not found:
        return []
    return [
        Error(
            ", ".join(found) + " is a value published in the repository (the example site's "
            "development default) while DEBUG is off.",
            hint="Generate secrets of your own and read them from the environment or a secret "
            "store (README: going to production).",
            id="face_idcard.E031",
        )
    ]


def _hash_secrets(crypto: Any, configuration_error: type[Exception]) -> list[tuple[int, bytes]]:
    """(index, secret) of each well-formed ``PII_HASH_KEYS`` entry (malformed ones are E016)."""
    try:
        entries = crypto.configured_hash_keys()
    except configuration_error:
        return []
    secrets: list[tuple[int, bytes]] = []
    for index, entry in enumerate(entries):
        try:
            secrets.append((index, crypto.parse_hash_key(entry).secret))
        except (TypeError, ValueError):
            continue
    return secrets


#: A hash key must hold at least this many bytes (a random 32-byte secret or longer).
MINIMUM_HASH_KEY_BYTES = 32
#: Fewer distinct bytes than this is a pattern ("xxxx...", "abab..."), not a random secret.
MINIMUM_HASH_KEY_DISTINCT_BYTES = 8


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or address.is_unspecified or (mapped and mapped.is_loopback))


@register(Tags.security, "face_idcard", deploy=True)
def check_deployment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy``, DEBUG off: every backend endpoint remote and over TLS (E032, E033),
    every hash key long, random-looking and apart from the encryption keys (E034, E035)."""
    if settings.DEBUG:
        return []
    fs.reload()
    return _check_endpoints() + _check_hash_key_strength()


def _usable_aliases() -> Iterator[tuple[str, Any, Any]]:
    """``(alias, backend class, resolved settings)`` of every alias that can be built; the
    others are reported by :func:`check_settings` (E001, E002...), not again here."""
    from django.core.exceptions import ImproperlyConfigured

    from .backends import backend_class
    from .backends.config import configured, resolve

    try:
        entries = configured()
    except ImproperlyConfigured:
        return
    for alias, entry in entries.items():
        try:
            cls = backend_class(str(entry.get("BACKEND")))
            config = resolve(alias)
        except (ImproperlyConfigured, TypeError, ValueError):
            continue
        yield alias, cls, config


def _check_endpoints() -> list[CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    messages: list[CheckMessage] = []
    for alias, cls, config in _usable_aliases():
        try:
            url = cls.endpoint_url(config)
        except (ImproperlyConfigured, TypeError, ValueError, KeyError):
            continue  # an unusable option: reported by check_backend_options
        if url is None:
            continue
        parts = urlsplit(url)
        host = parts.hostname or ""
        label = f"FACE_IDCARD['BACKENDS'][{alias!r}]['{cls.endpoint_option}']"
        if _is_loopback(host):
            if not fs.ALLOW_LOOPBACK_ENDPOINTS:
                messages.append(
                    Error(
                        f"{label} is a loopback address (the simulator's, or a local service) "
                        "while DEBUG is off.",
                        hint="Point it at the provider. A private deployment that reaches the "
                        "provider through a local proxy may set "
                        "FACE_IDCARD['ALLOW_LOOPBACK_ENDPOINTS'] = True.",
                        id="face_idcard.E032",
                    )
                )
        elif parts.scheme != "https":
            messages.append(
                Error(
                    f"{label} is plain http to a remote host: ID numbers, names and faces "
                    "would cross the network unencrypted.",
                    hint="Use the provider's https endpoint.",
                    id="face_idcard.E033",
                )
            )
    return messages


def _check_hash_key_strength() -> list[CheckMessage]:
    from django.core.exceptions import ImproperlyConfigured

    from . import crypto

    messages: list[CheckMessage] = []
    keys = fs.PII_ENCRYPTION_KEYS
    encryption_keys = {
        key.encode("utf-8") if isinstance(key, str) else key
        for key in (keys if isinstance(keys, list | tuple) else [])
        if isinstance(key, str | bytes)
    }
    for index, secret in _hash_secrets(crypto, ImproperlyConfigured):
        label = f"FACE_IDCARD['PII_HASH_KEYS'][{index}]"
        if (
            len(secret) < MINIMUM_HASH_KEY_BYTES
            or len(set(secret)) < MINIMUM_HASH_KEY_DISTINCT_BYTES
        ):
            messages.append(
                Error(
                    f"{label} is short or guessable (fewer than {MINIMUM_HASH_KEY_BYTES} bytes, "
                    "or a repeated pattern): ID numbers are few enough to try them all "
                    "against a weak key.",
                    hint="Generate one with `python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'`.",
                    id="face_idcard.E034",
                )
            )
        if secret in encryption_keys:
            messages.append(
                Error(
                    f"{label} is also a PII encryption key.",
                    hint="Each key has one purpose: whoever learns one must not learn both.",
                    id="face_idcard.E035",
                )
            )
    return messages


@register(Tags.security, "face_idcard")
def check_backend_options(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Problems with a backend's own options, per alias: a value not of its declared type,
    range or choices, or one the backend class finds (``Backend.option_problems``). A
    threshold below the provider's own bar is W008, any other problem (an option that cannot
    be loaded or used) E017."""
    messages: list[CheckMessage] = []
    for alias, cls, config in _usable_aliases():
        problems = cls.declared_option_problems(config) + cls.option_problems(config)
        for kind, key, text in problems:
            label = f"FACE_IDCARD['BACKENDS'][{alias!r}]['{key}'] {text}."
            if kind == "below_provider_bar":
                messages.append(Warning(label, id="face_idcard.W008"))
            else:
                messages.append(Error(label, id="face_idcard.E017"))
    return messages


@register(Tags.security, "face_idcard")
def check_liveness_policies(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``require`` needs an alias that can check liveness: in its comparison call or with a
    pre-check (E041). Unknown words in ``LIVENESS`` and ``LIVENESS_FAILURE`` are E040, from
    their declarations."""
    messages: list[CheckMessage] = []
    for alias, cls, config in _usable_aliases():
        if config.liveness != "require":
            continue
        if not (cls.liveness_builtin(config) or cls.liveness_precheck(config)):
            messages.append(
                Error(
                    f"FACE_IDCARD['BACKENDS'][{alias!r}] requires liveness, but its backend "
                    "cannot check it and has no pre-check configured: every attempt would be "
                    "refused or sent to review.",
                    hint="Set LIVENESS to 'record' or 'off' for this alias, or use a backend "
                    "that checks liveness (docs/liveness.rst).",
                    id="face_idcard.E041",
                )
            )
    return messages


#: Django's database vendors the app is tested on (MariaDB is the ``mysql`` vendor); a backend
#: built on one of Django's (PostGIS, a wrapper that adds metrics) has its vendor.
SUPPORTED_DATABASE_VENDORS = ("sqlite", "postgresql", "mysql")


def _database_vendor(engine: str) -> str | None:
    """The ``vendor`` of the backend ``engine`` names (a package whose ``base`` module holds
    ``DatabaseWrapper``, as Django documents); None when it cannot be loaded, which Django
    itself reports."""
    from importlib import import_module

    from django.core.exceptions import ImproperlyConfigured

    try:
        wrapper = import_module(f"{engine}.base").DatabaseWrapper
    except (ImportError, ImproperlyConfigured, AttributeError):
        return None
    return str(wrapper.vendor)


@register(Tags.compatibility, "face_idcard")
def check_database_engines(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every database the app's tables may live in (per the routers) is one it supports: the
    limits' locks, the claims and the statistics are written and tested for those alone."""
    from django.db import router

    messages: list[CheckMessage] = []
    for alias, options in settings.DATABASES.items():
        if not router.allow_migrate(alias, "face_idcard"):
            continue
        # Django's own default for a database without an ENGINE.
        engine = str(options.get("ENGINE") or "django.db.backends.dummy")
        vendor = _database_vendor(engine)
        if vendor is None or vendor in SUPPORTED_DATABASE_VENDORS:
            continue
        messages.append(
            Error(
                f"DATABASES[{alias!r}] uses the engine {engine!r} (vendor {vendor!r}), which "
                "face_idcard does not support.",
                hint="Use SQLite, PostgreSQL, or MySQL/MariaDB (Django's sqlite3, postgresql "
                "or mysql backend, or a backend built on one of them) for the app's tables.",
                id="face_idcard.E020",
            )
        )
    return messages


@register(Tags.security, "face_idcard")
def check_filing_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``FILING_THRESHOLD`` a whole number >= 1, ``FILING_WARNING_FRACTIONS`` numbers above 0,
    ``FILING_HOLIDAYS`` and ``FILING_MAKEUP_WORKDAYS`` lists of "YYYY-MM-DD" (E050)."""
    from datetime import date

    problems = []
    threshold = fs.FILING_THRESHOLD
    if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        problems.append(f"FACE_IDCARD['FILING_THRESHOLD'] is {threshold!r}: a whole number >= 1")
    fractions = fs.FILING_WARNING_FRACTIONS
    if not isinstance(fractions, list | tuple) or not all(
        _is_number(f) and f > 0 for f in fractions
    ):
        problems.append("FACE_IDCARD['FILING_WARNING_FRACTIONS'] must be a list of numbers > 0")
    for key in ("FILING_HOLIDAYS", "FILING_MAKEUP_WORKDAYS"):
        days = getattr(fs, key)
        try:
            if not isinstance(days, list | tuple):
                raise TypeError
            for day in days:
                date.fromisoformat(str(day))
        except (TypeError, ValueError):
            problems.append(f"FACE_IDCARD['{key}'] must be a list of dates written YYYY-MM-DD")
    return [Error(problem, id="face_idcard.E050") for problem in problems]


@register(Tags.database, "face_idcard")
def check_filing_threshold(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """The filing register (a database check: ``check --database default``, ``migrate``):
    a warning level of ``FILING_THRESHOLD`` reached (W050), people under a hash key no longer
    configured (W051)."""
    from django.db import DatabaseError, router

    from . import _filing as filing
    from .models import FilingCount

    if not databases or check_filing_settings():
        return []
    using = router.db_for_read(FilingCount)
    if using not in databases:
        return []
    try:
        state = filing.status(using)
    except DatabaseError:  # the tables are not there yet (before migrate)
        return []
    except Exception:  # a hash key problem, reported by check_settings
        return []
    messages: list[CheckMessage] = []
    level = state.warning
    if level is not None:
        text = (
            f"{state.people} people's face information held or sent: {level.fraction:.0%} of "
            f"FACE_IDCARD['FILING_THRESHOLD'] ({state.threshold})."
        )
        if state.deadline is not None:
            text += f" The filing with the provincial CAC is due by {state.deadline:%Y-%m-%d}."
        messages.append(
            Warning(
                text,
                hint="Article 15 of the 2025 face-recognition measures: file within 30 "
                "working days of reaching the threshold (docs/privacy.rst).",
                id="face_idcard.W050",
            )
        )
    if state.under_retired_keys:
        messages.append(
            Warning(
                f"{state.under_retired_keys} people of the filing register are under a hash "
                "key no longer in FACE_IDCARD['PII_HASH_KEYS']: should they come back they "
                "are counted again.",
                hint="Keep a retired hash key last in PII_HASH_KEYS while the register holds "
                "people under it (docs/privacy.rst).",
                id="face_idcard.W051",
            )
        )
    return messages


@register(Tags.security, "face_idcard")
def check_non_face_alternatives(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``NON_FACE_ALTERNATIVES``: every entry a known alternative (E052), and at least one
    (W052: the 2025 measures forbid making the face the only way to verify)."""
    from ._alternatives import KNOWN, configured

    messages: list[CheckMessage] = []
    names = configured()
    unknown = [name for name in names if name not in KNOWN]
    if unknown:
        messages.append(
            Error(
                f"FACE_IDCARD['NON_FACE_ALTERNATIVES'] names unknown alternatives: "
                f"{', '.join(repr(name) for name in unknown)}.",
                hint=f"Known: {', '.join(sorted(KNOWN))}.",
                id="face_idcard.E052",
            )
        )
    if not [name for name in names if name in KNOWN]:
        messages.append(
            Warning(
                "FACE_IDCARD['NON_FACE_ALTERNATIVES'] offers no way to verify without the "
                "face: China's 2025 face-recognition measures forbid making face recognition "
                "the only way where another one serves.",
                hint="Add 'document_review' (staff check photos of the ID card), unless the "
                "site offers another way of its own.",
                id="face_idcard.W052",
            )
        )
    return messages
