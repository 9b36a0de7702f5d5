"""The simulator's backend under another company's name: the face would go to a recipient
that the notices of the default test site (the simulator, Tencent Cloud) do not name. It
speaks the same protocol to the same simulator, over real HTTP, so a call that should not
happen would show in the simulator's ledger."""

from __future__ import annotations

from face_idcard.providers.legacy.backend import SimulatorBackend

PATH = "tests.support.other_recipient_backend.OtherRecipientBackend"


class OtherRecipientBackend(SimulatorBackend):
    recipient = "other_cloud"
    recipient_name = "Other Cloud"
