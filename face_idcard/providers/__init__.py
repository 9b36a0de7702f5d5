"""One package per provider: its client or SDK wrapper, signing, code catalogue and backend.

Each turns its provider's answer into :class:`face_idcard.outcome.ProviderOutcome`. Nothing
generic imports from here; backends are found by name through :mod:`face_idcard.backends`.
"""
