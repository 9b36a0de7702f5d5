"""The simulator's registry of people: ID number -> name + registered photo.

It plays the part of the national ID photo database. Sources:

* :func:`demo_registry` (the default): a few invented people with synthetic portraits drawn
  by :mod:`.portraits`. No real face, nothing downloaded.
* :meth:`Registry.from_json`: a JSON file, either a list or ``{"people": [...]}``, each entry
  ``{"idcard_number": "...", "idcard_name": "...", "photo": "<path relative to the file>"}``
  (or ``"photo_base64": "..."`` instead of ``"photo"``).
* :meth:`Registry.from_directory`: a directory of photos named ``<idcard_number>_<name>.jpg``
  (``.jpeg``, ``.png`` too); if it holds a ``registry.json``, that file is read instead.

:func:`load` picks by path. Every ID number must be valid (check character, birth date,
address code): an invalid one would only ever answer -5804. Error texts say which entry is
wrong by position or file order, never by number or name.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stdnum.cn import ric

from .._masking import mask_id_number
from . import similarity
from .portraits import portrait_jpeg

__all__ = ["Person", "Registry", "RegistryError", "demo_people", "demo_registry", "load"]

_PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


class RegistryError(ValueError):
    """A registry source is unreadable or holds an invalid entry."""


@dataclass(frozen=True)
class Person:
    """One registered person. The repr shows nothing personal."""

    idcard_number: str = field(repr=False)
    idcard_name: str = field(repr=False)
    photo_bytes: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"<Person {mask_idcard(self.idcard_number)}>"


def mask_idcard(number: str) -> str:
    """The app's one masking rule (``1101**********0014``; other lengths all ``*``)."""
    return mask_id_number(number)


# The demo people: invented names, numbers with valid check characters, portrait seeds picked
# so that every pair of portraits scores well below 40 (tests check it).
_DEMO: tuple[tuple[str, str, int], ...] = (
    ("310101198807150028", "张三", 11),
    ("440106199203212115", "李娜", 23),
    ("330106198511300512", "王芳", 37),
    ("650102199001011239", "阿依古丽·艾买提", 52),
)


class Registry:
    """Thread-safe after construction (read only); fingerprints are computed once, lazily."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._people: dict[str, Person] = {}
        self._fingerprints: dict[str, similarity.Fingerprint] = {}
        self._lock = threading.Lock()
        for position, person in enumerate(people, start=1):
            number = person.idcard_number.strip().upper()
            if not ric.is_valid(number):
                raise RegistryError(f"registry entry {position}: invalid ID number")
            if not person.idcard_name.strip():
                raise RegistryError(f"registry entry {position}: empty name")
            if number in self._people:
                raise RegistryError(f"registry entry {position}: duplicate ID number")
            self._people[number] = Person(number, person.idcard_name.strip(), person.photo_bytes)

    def __len__(self) -> int:
        return len(self._people)

    def __iter__(self) -> Iterator[Person]:
        return iter(self._people.values())

    def __repr__(self) -> str:
        return f"<Registry of {len(self._people)} people>"

    def get(self, idcard_number: str) -> Person | None:
        return self._people.get(idcard_number)

    def fingerprint(self, person: Person) -> similarity.Fingerprint:
        """The registered photo's fingerprint (decoded once, then cached)."""
        cached = self._fingerprints.get(person.idcard_number)
        if cached is not None:
            return cached
        computed = similarity.fingerprint(person.photo_bytes)
        with self._lock:
            self._fingerprints[person.idcard_number] = computed
        return computed

    def check_photos(self) -> None:
        """Decode every photo now, so that a broken file fails at start, not on a request."""
        for position, person in enumerate(self, start=1):
            try:
                self.fingerprint(person)
            except ValueError as exc:
                raise RegistryError(
                    f"registry entry {position}: photo is not a usable image"
                ) from exc

    @classmethod
    def from_json(cls, path: str | Path) -> Registry:
        path = Path(path)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"cannot read registry file {path.name}") from exc
        entries = document.get("people") if isinstance(document, dict) else document
        if not isinstance(entries, list):
            raise RegistryError("a registry file holds a list of people or {'people': [...]}")
        people = [
            _person_from_entry(entry, position, path.parent)
            for position, entry in enumerate(entries, start=1)
        ]
        registry = cls(people)
        registry.check_photos()
        return registry

    @classmethod
    def from_directory(cls, path: str | Path) -> Registry:
        directory = Path(path)
        if (directory / "registry.json").is_file():
            return cls.from_json(directory / "registry.json")
        people = []
        photos = sorted(p for p in directory.iterdir() if p.suffix.lower() in _PHOTO_SUFFIXES)
        for position, photo in enumerate(photos, start=1):
            number, sep, name = photo.stem.partition("_")
            if not sep:
                raise RegistryError(
                    f"photo {position}: name it <idcard_number>_<name>{photo.suffix}"
                )
            people.append(Person(number, name, photo.read_bytes()))
        registry = cls(people)
        registry.check_photos()
        return registry


def _person_from_entry(entry: object, position: int, base: Path) -> Person:
    if not isinstance(entry, dict):
        raise RegistryError(f"registry entry {position}: not an object")
    number, name = entry.get("idcard_number"), entry.get("idcard_name")
    if not isinstance(number, str) or not isinstance(name, str):
        raise RegistryError(
            f"registry entry {position}: idcard_number and idcard_name are required"
        )
    if isinstance(entry.get("photo_base64"), str):
        try:
            photo = base64.b64decode(entry["photo_base64"], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise RegistryError(f"registry entry {position}: photo_base64 is not Base64") from exc
    elif isinstance(entry.get("photo"), str):
        try:
            photo = (base / entry["photo"]).read_bytes()
        except OSError as exc:
            raise RegistryError(f"registry entry {position}: cannot read its photo") from exc
    else:
        raise RegistryError(f"registry entry {position}: needs 'photo' or 'photo_base64'")
    return Person(number, name, photo)


def demo_people() -> list[Person]:
    """The built-in demo people, with JPEG portraits drawn by code (fresh list each call)."""
    return [Person(number, name, portrait_jpeg(seed)) for number, name, seed in _DEMO]


def demo_registry() -> Registry:
    return Registry(demo_people())


def load(path: str | Path | None) -> Registry:
    """The registry at ``path`` (a directory or a JSON file), or the demo registry for None."""
    if path is None:
        return demo_registry()
    path = Path(path)
    if path.is_dir():
        return Registry.from_directory(path)
    if path.is_file():
        return Registry.from_json(path)
    raise RegistryError(f"no registry file or directory at {path}")
