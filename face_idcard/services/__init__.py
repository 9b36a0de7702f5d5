"""The services layer: plain functions, usable without Celery. This package's public surface
is its verbs, nothing else:

- :func:`submit` validates, stores (encrypted) and hands the attempt to the dispatcher on
  commit;
- :func:`review`, :func:`rerun`, :func:`cancel`, :func:`redact`, :func:`set_legal_hold`,
  :func:`reveal_pii`, :func:`reveal_selfie` for staff and the host site, and
  :func:`withdraw` for a person who withdraws consent (each checks the acting
  user's permission, :mod:`face_idcard.permissions`);
- :func:`sweep` and :func:`purge` for the periodic tasks, :func:`rotate_keys` for key rotation.

The errors they raise live in :mod:`face_idcard.exceptions`. The modules behind the verbs are
private (``_submission``, ``_pipeline`` ...): the app's own code may import them, a site should
not. One submodule is public: :mod:`.dispatch`, the documented plug point where a site hands the
work to another queue than Celery (:mod:`face_idcard.tasks` plugs Celery in by default).
"""

from ._operations import cancel, reveal_pii, reveal_selfie, review
from ._rerun import rerun
from ._retention import purge, redact, rotate_keys, set_legal_hold
from ._submission import submit
from ._sweeper import sweep
from ._withdrawal import withdraw

__all__ = [
    "cancel",
    "purge",
    "redact",
    "rerun",
    "reveal_pii",
    "reveal_selfie",
    "review",
    "rotate_keys",
    "set_legal_hold",
    "submit",
    "sweep",
    "withdraw",
]
