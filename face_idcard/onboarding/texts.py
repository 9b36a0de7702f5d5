"""Every text of the onboarding page, translated here so that the catalogue test sees them."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from .._identity import ID_MESSAGES

#: What the page says; the JavaScript receives them as JSON (``json_script``).
PAGE_TEXTS: dict[str, Any] = {
    "title": _("Verify your identity"),
    "intro": _(
        "We compare a photo of your face with the photo on record for your resident ID card. "
        "It takes about a minute."
    ),
    "consent_heading": _("Before you start"),
    # The notice itself is the stored text of its version (face_idcard._consent).
    "consent_version": _("Privacy notice version"),
    "consent_hash": _("SHA-256 of the notice's full text"),
    "consent_accept": _("I have read this notice and I agree to the processing described."),
    "consent_needed": _("Please read and accept the notice first."),
    "photo_heading": _("Your photo"),
    "photo_hint": _(
        "Face the camera in good light, without a hat or sunglasses; only your face in the frame."
    ),
    "photo_take": _("Take a photo"),
    "photo_choose": _("Choose a photo"),
    "photo_needed": _("Take or choose a photo."),
    "photo_not_image": _("This file is not a photo."),
    "photo_shrunk": _("The photo was made smaller before upload."),
    "identity_heading": _("Your ID card"),
    "number_label": _("ID card number"),
    "name_label": _("Name on the ID card"),
    "name_needed": _("Enter the name as it is on the ID card."),
    "submit": _("Verify"),
    "sending": _("Sending…"),
    "progress": _("Checking your photo. Please keep this page open."),
    "status_queued": _("Waiting in line…"),
    "status_processing": _("Comparing…"),
    "status_retry_wait": _("The service is busy; trying again shortly…"),
    # A queued attempt with a time to go (the API's waiting_until): its turn under the
    # provider's quota.
    "status_waiting_turn": _(
        "The verification service is busy right now. Your check is waiting its turn and will "
        "start in a moment."
    ),
    "result_heading": _("Result"),
    # The result itself is the API's message (reasons.person_message); this one is shown
    # only when an answer came without it.
    "result_failed": _("The verification could not be finished. Please try again later."),
    "retry": _("Try again"),
    "network_error": _("The connection failed. Check your network and try again."),
    "too_slow": _("This is taking longer than usual. You can close the page: we keep going."),
    "logout": _("Log out"),
    "consent_hint": _("Accept the notice above to fill in the form."),
    "notice_changed": _("The privacy notice has changed. Reload the page to read the new one."),
    "photo_none": _("No photo chosen yet."),
    "photo_chosen": _("Photo chosen."),
    "guardian_heading": _("A guardian's consent is needed"),
    "guardian_go": _("Ask your guardian to consent"),
    "guardian_contact": _(
        "A parent or guardian must consent before we can verify a person under the minimum "
        "age. Please contact us so that your guardian can do so."
    ),
    "success_heading": _("You are verified"),
    "continue": _("Continue"),
    "review_next": _(
        "A member of our staff will look at your photo. You will be told the result; you can "
        "also come back to this page at any time to see it."
    ),
    "latest_heading": _("Your latest verification"),
    "language": _("Language"),
    "language_switch": _("Change language"),
    "fix_errors": _("Please correct the fields marked below."),
    "withdraw_heading": _("Your consent"),
    "withdraw_hint": _(
        "You can withdraw your consent at any time: verifications not yet sent are stopped, and "
        "your photo, ID card number and name are deleted at once."
    ),
    "withdraw": _("Withdraw my consent and delete my data"),
    "withdraw_confirm": _(
        "Withdraw your consent and delete your data now? This cannot be undone; to verify "
        "later you will start again."
    ),
    "withdraw_yes": _("Yes, withdraw and delete"),
    "withdraw_no": _("No, keep my consent"),
    "withdraw_sending": _("Withdrawing…"),
    # --- camera capture (issue 32 item 4) ----------------------------------------------------
    "camera_start": _("Use the camera"),
    "camera_guide": _(
        "Put your face inside the oval, in good light, then press Capture. Nothing is sent "
        "before you press Verify."
    ),
    "camera_capture": _("Capture"),
    "camera_close": _("Close the camera"),
    "camera_on": _("The camera is on. Put your face inside the oval, then press Capture."),
    "camera_failed": _(
        "The camera could not be opened. Allow this page to use the camera, or take a photo "
        "with your device's camera app."
    ),
    "camera_not_ready": _("The camera is not ready yet. Try again in a moment."),
    "photo_taken": _("Photo taken."),
    "photo_needed_camera": _("Take a photo with the camera."),
    # --- end of camera capture ---------------------------------------------------------------
}

#: The ID number messages, from the one place they are defined (the server's rule).
ID_TEXTS: dict[str, Any] = {
    code: ID_MESSAGES[code]
    for code in (
        "id_required",
        "id_length",
        "id_characters",
        "id_checksum",
        "id_birth_date",
        "id_birth_future",
    )
}

LOGIN_TEXTS: dict[str, Any] = {
    "title": _("Log in"),
    "username": _("User name"),
    "password": _("Password"),
    "submit": _("Log in"),
}
