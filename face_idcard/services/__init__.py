"""The services layer: plain functions, usable without Celery. This package's public surface
is its verbs, nothing else:

- :func:`submit` validates, stores (encrypted) and hands the attempt to the dispatcher on
  commit;
- :func:`review`, :func:`rerun`, :func:`cancel`, :func:`redact`, :func:`set_legal_hold`,
  :func:`reveal_pii`, :func:`reveal_selfie` for staff and the host site, and
  :func:`withdraw` for a person who withdraws consent (each checks the acting
  user's permission, :mod:`face_idcard.permissions`);
- :func:`submit_documents`, :func:`decide_documents`, :func:`reveal_documents`,
  :func:`redact_documents` and :func:`set_documents_legal_hold`: the document review, the
  non-face alternative (``_documents``);
- :func:`sweep` and :func:`purge` for the periodic tasks, :func:`rotate_keys` for key rotation.

The errors they raise live in :mod:`face_idcard.exceptions`. The modules behind the verbs are
private (``_submission``, ``_pipeline`` ...): the app's own code may import them, a site should
not. One submodule is public: :mod:`.dispatch`, the documented plug point where a site hands the
work to another queue than Celery (:mod:`face_idcard.tasks` plugs Celery in by default).
"""

from ._documents import (
    decide_documents,
    redact_documents,
    reveal_documents,
    set_documents_legal_hold,
    submit_documents,
)
from ._operations import cancel, reveal_pii, reveal_selfie, review
from ._rerun import rerun
from ._retention import purge, redact, rotate_keys, set_legal_hold
from ._submission import submit
from ._sweeper import sweep
from ._withdrawal import withdraw

__all__ = [
    "cancel",
    "decide_documents",
    "purge",
    "redact",
    "redact_documents",
    "rerun",
    "reveal_documents",
    "reveal_pii",
    "reveal_selfie",
    "review",
    "rotate_keys",
    "set_documents_legal_hold",
    "set_legal_hold",
    "submit",
    "submit_documents",
    "sweep",
    "withdraw",
]
