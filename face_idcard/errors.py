"""The legacy API's error catalogue, under its old import path.

The catalogue lives with its provider now (:mod:`face_idcard.providers.legacy.codes`) and the
classes with the neutral result (:mod:`face_idcard.outcome`); this module keeps
``from face_idcard import errors`` working.
"""

from .providers.legacy.codes import *  # noqa: F403
from .providers.legacy.codes import __all__ as __all__
