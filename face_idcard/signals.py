"""Signals for the host site's onboarding flow.

Each is sent with ``sender=VerificationAttempt`` (the model class) and ``attempt=`` the instance,
after the change is committed. The instance carries masked and encrypted fields only; a receiver
that really needs the clear text calls ``services.reveal_pii`` (audited).

- ``attempt_finished``: the attempt reached a terminal state (completed, rejected, failed,
  canceled).
- ``attempt_decided``: the comparison produced a decision (match, no match, review).
- ``attempt_reviewed``: a reviewer confirmed or overrode the decision; also ``reviewer=``.
- ``attempt_redacted``: the attempt's personal information was erased on request
  (``services.redact``; not the retention schedule's purge).
- ``attempt_withdrawn``: the person withdrew their consent (``services.withdraw``): the attempt
  is canceled if it was not yet sent and its personal information erased, unless
  ``legal_hold=True`` (then nothing of it was erased).
- ``document_review_decided``: a staff member approved or rejected a document review (the
  non-face alternative); sent with ``sender=DocumentReview``, ``review=`` and ``reviewer=``.

One signal is about the site, not an attempt:

- ``filing_level_reached``: the people whose face information the site holds or has sent
  reached a warning level of ``FILING_THRESHOLD`` (docs/privacy.rst); sent once per level
  with ``sender=FilingMark``, ``mark=``, ``people=``, ``threshold=``, ``fraction=`` and
  ``deadline=`` (the last day to file, a date, once the threshold itself is reached; else
  None).
"""

from __future__ import annotations

from django.dispatch import Signal

attempt_finished = Signal()
attempt_decided = Signal()
attempt_reviewed = Signal()
attempt_redacted = Signal()
attempt_withdrawn = Signal()
filing_level_reached = Signal()
document_review_decided = Signal()
