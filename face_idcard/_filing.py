"""The filing threshold (Article 15 of the 2025 face-recognition measures): a site whose stored
face information reaches ``FILING_THRESHOLD`` (100,000) people files with the provincial CAC
within 30 working days.

Who counts: every person whose face the site holds or has sent, counted at submit (the
selfie is stored then, or its address will be fetched and sent), conservatively, as the
measures leave open whether a face deleted right after the check is "stored". A person counts
once, whatever their number of attempts, and keeps counting after their selfie, their
personal information or their consent is gone: their face was sent. The count never goes
down (but for the merge below).

How: the register (:class:`~face_idcard.models.FilingPerson`) holds one keyed hash of each
person's ID number (never the number, the name or the face), inserted in the submit's
transaction; a unique hash makes concurrent submits of one person insert it once, whatever
the database. Beside it the count (:class:`~face_idcard.models.FilingCount`), per hash key
id and shard, moved in the same transaction: reading it is a sum of a few rows, never a scan.

Key rotation, the rule: one person is one row, under the newest key it was last seen with.
A submit (or re-run) matches the person's hash under every live ``PII_HASH_KEYS`` entry; a
row found under an older key is re-keyed to the newest (its count moves with it), and two
rows of one person (made while two processes hashed with different newest keys, during a
key roll-out) are merged into the older one. ``rotate_keys`` does the same for every attempt
whose number it can still read. A row whose person is never seen again stays under its key:
it still counts once, but if that key is removed from ``PII_HASH_KEYS`` and the person comes
back they are counted a second time (an over-count, never an under-count). Keep a retired
hash key at the end of ``PII_HASH_KEYS`` while the register holds rows under it: the
filing page and system check face_idcard.W051 say how many it does.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, router, transaction
from django.db.models import F, Sum
from django.utils import timezone

from .conf import face_idcard_settings
from .models import FilingCount, FilingMark, FilingPerson
from .signals import filing_level_reached

logger = logging.getLogger("face_idcard.filing")

#: Count rows per hash key: concurrent submits of different people update one of these at
#: random (by hash), not all the same row.
SHARDS = 16
#: Working days the site has to file once the threshold is reached.
FILING_WORKING_DAYS = 30
#: The measures are China's: a day is a day in China Standard Time, whatever TIME_ZONE says.
CHINA_STANDARD_TIME = dt_timezone(timedelta(hours=8), "CST")

# The levels already marked in this process, (threshold, level): noticing a level reached
# then costs no query.
_marked: set[tuple[int, int]] = set()
_marked_lock = threading.Lock()


def _shard(idcard_hash: str) -> int:
    return int(idcard_hash[:4], 16) % SHARDS


def _move_count(using: str, key_id: str, shard: int, delta: int) -> None:
    """Add ``delta`` to the count of ``key_id``'s ``shard``."""
    counts = FilingCount.objects.using(using).filter(hash_key_id=key_id, shard=shard)
    if counts.update(people=F("people") + delta):
        return
    try:
        with transaction.atomic(using=using):
            FilingCount.objects.using(using).create(hash_key_id=key_id, shard=shard, people=delta)
    except IntegrityError:
        # Created meanwhile by another transaction (which has committed: the INSERT waited).
        counts.update(people=F("people") + delta)


def record_person(
    *, key_id: str, idcard_hash: str, every_hash: Sequence[str], using: str | None = None
) -> bool:
    """Count the person whose number hashes to ``idcard_hash`` under the newest key
    (``key_id``) and to ``every_hash`` under every live key, in the caller's transaction.
    True when they are new to the register.

    The caller holds the submission's transaction: the row and the count commit or roll
    back with the attempt."""
    using = using or router.db_for_write(FilingPerson)
    hashes = sorted({idcard_hash, *every_hash})
    people = FilingPerson.objects.using(using)
    found = list(people.filter(idcard_hash__in=hashes).order_by("first_seen_at", "pk"))
    if found:
        _keep_one(using, found, key_id=key_id, idcard_hash=idcard_hash)
        return False
    try:
        with transaction.atomic(using=using):
            people.create(idcard_hash=idcard_hash, hash_key_id=key_id, first_seen_at=timezone.now())
    except IntegrityError:
        return False  # a concurrent submit of the same person registered them
    _move_count(using, key_id, _shard(idcard_hash), +1)
    return True


def _keep_one(using: str, found: list[FilingPerson], *, key_id: str, idcard_hash: str) -> None:
    """One row for the person, under the newest key: the first seen kept, the others merged
    into it (their counts taken back)."""
    keep, *others = found
    for other in others:
        if FilingPerson.objects.using(using).filter(pk=other.pk).delete()[0]:
            _move_count(using, other.hash_key_id, _shard(other.idcard_hash), -1)
    if keep.idcard_hash == idcard_hash:
        return
    try:
        with transaction.atomic(using=using):
            moved = (
                FilingPerson.objects.using(using)
                .filter(pk=keep.pk, idcard_hash=keep.idcard_hash)
                .update(idcard_hash=idcard_hash, hash_key_id=key_id)
            )
    except IntegrityError:
        # The newest hash has a row already (a concurrent re-key or insert): this one goes.
        moved = 0
        if FilingPerson.objects.using(using).filter(pk=keep.pk).delete()[0]:
            _move_count(using, keep.hash_key_id, _shard(keep.idcard_hash), -1)
    if moved:
        _move_count(using, keep.hash_key_id, _shard(keep.idcard_hash), -1)
        _move_count(using, key_id, _shard(idcard_hash), +1)


def people_count(using: str | None = None) -> int:
    """The people of the register: the sum of the counts (a few dozen rows at most)."""
    using = using or router.db_for_read(FilingCount)
    total = FilingCount.objects.using(using).aggregate(total=Sum("people"))["total"]
    return int(total or 0)


def people_by_key(using: str | None = None) -> dict[str, int]:
    """The people of the register by the hash key id their row is under."""
    using = using or router.db_for_read(FilingCount)
    rows = FilingCount.objects.using(using).values("hash_key_id").annotate(total=Sum("people"))
    return {row["hash_key_id"]: int(row["total"]) for row in rows if row["total"]}


# --- Levels, dates and deadline --------------------------------------------------------------


def threshold() -> int:
    return int(face_idcard_settings.FILING_THRESHOLD)


def levels() -> list[int]:
    """The warning levels in thousandths of the threshold, lowest first (0.8 -> 800)."""
    return sorted({round(float(f) * 1000) for f in face_idcard_settings.FILING_WARNING_FRACTIONS})


def people_for(level: int, of: int | None = None) -> int:
    """The count at which ``level`` (thousandths) of the threshold is reached."""
    return max(1, math.ceil((of if of is not None else threshold()) * level / 1000))


def _dates(name: str) -> set[date]:
    return {date.fromisoformat(str(day)) for day in getattr(face_idcard_settings, name)}


def filing_deadline(reached_at: datetime) -> date:
    """The last day to file: ``FILING_WORKING_DAYS`` working days after the day (China
    Standard Time) the threshold was reached, that day not counted. Working days: Monday to
    Friday, less ``FILING_HOLIDAYS``, plus ``FILING_MAKEUP_WORKDAYS``."""
    holidays, makeup = _dates("FILING_HOLIDAYS"), _dates("FILING_MAKEUP_WORKDAYS")
    day = reached_at.astimezone(CHINA_STANDARD_TIME).date()
    left = FILING_WORKING_DAYS
    while left:
        day += timedelta(days=1)
        if day in makeup or (day.weekday() < 5 and day not in holidays):
            left -= 1
    return day


def _reached_at(using: str, count: int) -> datetime | None:
    """When the ``count``-th person of the register was first seen (an index range)."""
    ordered = FilingPerson.objects.using(using).order_by("first_seen_at", "pk")
    row = ordered[count - 1 : count].values_list("first_seen_at", flat=True).first()
    return row if isinstance(row, datetime) else None


def note_levels(using: str | None = None, *, people: int | None = None) -> list[FilingMark]:
    """Mark each warning level the count has reached and no mark records yet, once across
    every process (a unique row), and send ``filing_level_reached`` for each. The marks
    made now.

    Run by the sweep (``face_idcard.tasks.sweep``, ``face_idcard_sweep``) and by every read
    of :func:`status`, not by the submit: a submit stays one count update, and the level's
    date is exact whenever it is noticed (the first-seen time of the person who reached it)."""
    using = using or router.db_for_write(FilingMark)
    of = threshold()
    due = [level for level in levels() if (of, level) not in _marked]
    if not due:
        return []
    people = people_count(using) if people is None else people
    made = []
    for level in due:
        if people < people_for(level, of):
            break
        reached_at = _reached_at(using, people_for(level, of)) or timezone.now()
        try:
            with transaction.atomic(using=using):
                mark, created = FilingMark.objects.using(using).get_or_create(
                    threshold=of,
                    level=level,
                    defaults={"people": people, "reached_at": reached_at},
                )
        except IntegrityError:
            created = False
        with _marked_lock:
            _marked.add((of, level))
        if created:
            made.append(mark)
            logger.warning(
                "filing threshold: %s people, %g %% of %s reached", people, level / 10, of
            )
            filing_level_reached.send(
                sender=FilingMark,
                mark=mark,
                people=people,
                threshold=of,
                fraction=level / 1000,
                deadline=filing_deadline(mark.reached_at) if level >= 1000 else None,
            )
    return made


def forget_marks() -> None:
    """Forget which levels this process saw marked (tests: the database was emptied)."""
    with _marked_lock:
        _marked.clear()


@dataclass(frozen=True)
class Level:
    """One warning level: its fraction, the count that reaches it, and when it was."""

    fraction: float
    people: int
    reached_at: datetime | None


@dataclass(frozen=True)
class FilingStatus:
    """What the filing page, the statistics page and the system check show."""

    people: int
    threshold: int
    levels: tuple[Level, ...]
    #: When the threshold itself was reached (None: not yet).
    reached_at: datetime | None
    #: The last day to file (None: not reached).
    deadline: date | None
    #: People whose row is under a hash key no longer in PII_HASH_KEYS (counted again should
    #: they come back).
    under_retired_keys: int

    @property
    def fraction(self) -> float:
        return self.people / self.threshold if self.threshold else 0.0

    @property
    def warning(self) -> Level | None:
        """The highest level reached, if any."""
        reached = [level for level in self.levels if level.reached_at is not None]
        return reached[-1] if reached else None


def status(using: str | None = None) -> FilingStatus:
    """The count, the levels reached (marked now when the count reached one unnoticed) and
    the deadline. A handful of small queries; never a scan of the register."""
    from . import crypto

    using = using or router.db_for_read(FilingCount)
    by_key = people_by_key(using)
    people = sum(by_key.values())
    note_levels(using, people=people)
    of = threshold()
    marks = {
        mark.level: mark.reached_at for mark in FilingMark.objects.using(using).filter(threshold=of)
    }
    shown = tuple(
        Level(level / 1000, people_for(level, of), marks.get(level)) for level in levels()
    )
    full = marks.get(1000)
    try:
        live = {key.key_id for key in crypto.hash_keys()}
    except ImproperlyConfigured:  # no hash key: system check E015 says so; nothing to compare
        live = set(by_key)
    return FilingStatus(
        people=people,
        threshold=of,
        levels=shown,
        reached_at=full,
        deadline=filing_deadline(full) if full is not None else None,
        under_retired_keys=sum(n for key_id, n in by_key.items() if key_id not in live),
    )


def recount(using: str | None = None) -> int:
    """Set the counts from the register itself (a scan: a repair for an operator, after
    rows were changed by hand). The count."""
    using = using or router.db_for_write(FilingCount)
    with transaction.atomic(using=using):
        rows = list(FilingPerson.objects.using(using).values_list("hash_key_id", "idcard_hash"))
        tally: dict[tuple[str, int], int] = {}
        for key_id, idcard_hash in rows:
            slot = (key_id, _shard(idcard_hash))
            tally[slot] = tally.get(slot, 0) + 1
        FilingCount.objects.using(using).all().delete()
        FilingCount.objects.using(using).bulk_create(
            FilingCount(hash_key_id=key_id, shard=shard, people=n)
            for (key_id, shard), n in tally.items()
        )
    return len(rows)


def register_existing(using: str | None = None) -> int:
    """Register the people of attempts stored before the register existed (run once after
    the upgrade: ``manage.py face_idcard_filing --register-existing``): one row per ID hash
    still held by an attempt, first seen at its first attempt. Returns the people added.

    People whose every attempt was purged before are not known to it (their hash is gone);
    one person hashed under two keys (a rotation left half done) is two rows until seen
    again or the next ``rotate_keys``, which merges them."""
    from django.db.models import Min

    from .models import VerificationAttempt

    using = using or router.db_for_write(FilingPerson)
    rows = (
        VerificationAttempt.objects.using(using)
        .exclude(idcard_hash="")
        .values("idcard_hash")
        .annotate(first=Min("created_at"), key_id=Min("idcard_hash_key_id"))
        .order_by()
    )
    added = 0
    batch: list[tuple[str, str, datetime]] = []

    def flush() -> None:
        nonlocal added
        with transaction.atomic(using=using):
            known = set(
                FilingPerson.objects.using(using)
                .filter(idcard_hash__in=[h for h, _, _ in batch])
                .values_list("idcard_hash", flat=True)
            )
            new = [
                FilingPerson(idcard_hash=idcard_hash, hash_key_id=key_id, first_seen_at=first)
                for idcard_hash, key_id, first in batch
                if idcard_hash not in known
            ]
            FilingPerson.objects.using(using).bulk_create(new)
            # One count update per key and shard, not per person.
            tally: dict[tuple[str, int], int] = {}
            for person in new:
                slot = (person.hash_key_id, _shard(person.idcard_hash))
                tally[slot] = tally.get(slot, 0) + 1
            for (key_id, shard), people in tally.items():
                _move_count(using, key_id, shard, people)
            added += len(new)
        batch.clear()

    for row in rows.iterator(chunk_size=2000):
        batch.append((row["idcard_hash"], row["key_id"], row["first"]))
        if len(batch) == 1000:
            flush()
    if batch:
        flush()
    return added
