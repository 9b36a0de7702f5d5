"""Masking of ID numbers and names for display: the ONE place that decides what is shown.

Pure functions, no Django, so the admin, the API, log helpers and the client all mask alike.
A value that does not look as expected is masked completely rather than partly: a mask must
never leak more because the input was odd.
"""

from __future__ import annotations

MASK_CHAR = "*"
#: The separator between the parts of a minority name; kept visible when masking.
NAME_SEPARATOR = "\u00b7"

ID_NUMBER_LENGTH = 18
#: Shown at each end of an ID number. Four leading characters show the province and city,
#: not the county (digits 5-6) or the birth date (digits 7-14), both of which narrow a
#: person down a lot.
ID_VISIBLE_HEAD = 4
ID_VISIBLE_TAIL = 4


def mask_id_number(value: str) -> str:
    """``11010519491231002X`` -> ``1101**********002X``; anything not 18 long -> all ``*``."""
    if len(value) != ID_NUMBER_LENGTH:
        return MASK_CHAR * len(value)
    hidden = ID_NUMBER_LENGTH - ID_VISIBLE_HEAD - ID_VISIBLE_TAIL
    return value[:ID_VISIBLE_HEAD] + MASK_CHAR * hidden + value[-ID_VISIBLE_TAIL:]


def mask_name(value: str) -> str:
    """Keep the first character and the ``·`` separators: ``张三`` -> ``张*``.

    ``阿依古丽·买买提`` -> ``阿***·***``; a single character -> ``*``. Compound surnames are
    not guessed (``欧阳娜`` -> ``欧**``): guessing would show two characters for some names.
    """
    if len(value) <= 1:
        return MASK_CHAR * len(value)
    rest = "".join(ch if ch == NAME_SEPARATOR else MASK_CHAR for ch in value[1:])
    return value[0] + rest
