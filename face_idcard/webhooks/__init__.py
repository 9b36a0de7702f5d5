"""Signed outbound webhooks (the Standard Webhooks specification).

* :mod:`.models`: endpoints, messages and their deliveries (the outbox).
* :mod:`.outbox`: the events, written in the same transaction as the change they report
  (from the audit trail: an attempt's ``decided``, ``reviewed`` and ``redacted`` events),
  and published to the workers once it commits.
* :mod:`.payloads`: the thin payloads (ids, states, codes and times: never PII).
* :mod:`.secrets`: the ``whsec_`` secrets, stored encrypted, and the signature.
* :mod:`.delivery`: one delivery attempt, its retries and the periodic redelivery.

Models are imported by :mod:`face_idcard.models`; nothing here is imported at start-up.
"""
