"""ID numbers for tests: :func:`make_id` builds one with a correct check character.

Written out from PROTOCOLS.md §4, independently of stdnum and of the code under test
(tests/input/test_identity.py checks it against published examples).
"""

from __future__ import annotations

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(address: str = "110105", birth: str = "19900101", sequence: str = "001") -> str:
    """A number with a correct check character, for cases that must pass the checksum."""
    first17 = address + birth + sequence
    assert len(first17) == 17
    return first17 + check_char(first17)
