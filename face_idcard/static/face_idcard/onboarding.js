/* The onboarding page: consent, photo, ID number and name, progress, result.
 * Plain JavaScript against the REST API with the session cookie; the server stays the
 * authority for every rule checked here (these checks only save the person a round trip).
 * Accessible by design: real buttons for the file pickers, every error beside its field with
 * aria-invalid/aria-describedby, focus moved to the first error, a reload resumes the latest
 * attempt instead of sending (and billing) it twice. */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("fi-config").textContent);
  var T = config.texts;
  var $ = function (id) { return document.getElementById(id); };
  var photo = null; // the Blob to upload
  // How the photo was taken (face_idcard._capture): "camera", "capture_input" or "file".
  var captureSource = "";
  var sending = false;

  // --- the ID number rule, as face_idcard._identity applies it (GB 11643) ------------------
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function normalizeNumber(value) {
    var text = (value || "").normalize ? value.normalize("NFKC") : value || "";
    return text.replace(/\s+/g, "").toUpperCase();
  }

  /* The code of the first rule the number breaks (identity.ID_MESSAGES), or "". */
  function idProblem(value) {
    var number = normalizeNumber(value);
    if (!number) return "id_required";
    if (number.length !== 18) return "id_length";
    if (!/^[0-9]{17}[0-9X]$/.test(number)) return "id_characters";
    var sum = 0;
    for (var i = 0; i < 17; i++) sum += Number(number[i]) * WEIGHTS[i];
    if (CHECK[sum % 11] !== number[17]) return "id_checksum";
    var y = Number(number.slice(6, 10)), m = Number(number.slice(10, 12)), d = Number(number.slice(12, 14));
    var birth = new Date(Date.UTC(y, m - 1, d));
    if (birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) {
      return "id_birth_date";
    }
    if (birth.getTime() > Date.now()) return "id_birth_future";
    return "";
  }

  // --- errors: each one has its own line beside its field (its space is always reserved) ---
  // The control each error line describes, marked aria-invalid while it holds a message.
  var CONTROL_OF = {
    "fi-number-error": "fi-number",
    "fi-name-error": "fi-name",
    "fi-photo-error": "",  // the first photo button shown: photoControlId()
    "fi-consent-error": "fi-consent-box"
  };

  function setError(id, text) {
    var element = $(id);
    element.textContent = text || "";
    var controlId = id === "fi-photo-error" ? photoControlId() : CONTROL_OF[id];
    if (id === "fi-photo-error") {
      // The photo's error marks the one photo button shown: none of the others keeps it.
      ["fi-camera-start", "fi-photo-take", "fi-photo-choose"].forEach(function (other) {
        if ($(other)) $(other).removeAttribute("aria-invalid");
      });
    }
    var control = controlId && $(controlId);
    if (control) {
      if (text) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
  }

  function clearErrors() {
    ["fi-number-error", "fi-name-error", "fi-photo-error", "fi-consent-error", "fi-form-error"]
      .forEach(function (id) { setError(id, ""); });
    $("fi-guardian").hidden = true;
  }

  /* Focus the first control (in page order) whose error line holds a message. */
  function focusFirstError() {
    var order = ["fi-consent-error", "fi-photo-error", "fi-number-error", "fi-name-error"];
    for (var i = 0; i < order.length; i++) {
      if ($(order[i]).textContent) {
        $(order[i] === "fi-photo-error" ? photoControlId() : CONTROL_OF[order[i]]).focus();
        return;
      }
    }
    if (!$("fi-guardian").hidden) { $("fi-guardian").focus(); return; }
    if ($("fi-form-error").textContent) $("fi-submit").focus();
  }

  function checkNumber() {
    var problem = idProblem($("fi-number").value);
    setError("fi-number-error", problem ? config.idTexts[problem] : "");
    return !problem;
  }

  function checkName() {
    var ok = $("fi-name").value.trim().length > 0;
    setError("fi-name-error", ok ? "" : T.name_needed);
    return ok;
  }

  // --- consent ----------------------------------------------------------------------------
  function consentChanged() {
    var given = $("fi-consent-box").checked;
    if (!given) stopCamera(); // no camera without consent (a declared function: hoisted)
    $("fi-fields").disabled = !given;
    $("fi-consent-hint").hidden = given;
    if (given) setError("fi-consent-error", "");
  }
  $("fi-consent-box").addEventListener("change", consentChanged);
  consentChanged();

  // --- the language switch: a plain form (it works without this script); choosing submits ---
  if ($("fi-language-select")) {
    $("fi-language-select").addEventListener("change", function () { $("fi-language").submit(); });
  }

  // --- the photo: shrunk in the browser when larger than the comparison needs -------------
  function loadImage(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () { resolve({ image: image, url: url }); };
      image.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
      image.src = url;
    });
  }

  function shrink(file, image) {
    var width = image.naturalWidth, height = image.naturalHeight;
    var side = Math.max(width, height);
    if (side <= config.shrinkMaxSide && file.size <= config.shrinkAboveBytes) {
      return Promise.resolve({ blob: file, shrunk: false });
    }
    var scale = Math.min(1, config.shrinkMaxSide / side);
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) {
        resolve(blob ? { blob: blob, shrunk: true } : { blob: file, shrunk: false });
      }, "image/jpeg", 0.9);
    });
  }

  function resetPhoto() {
    photo = null;
    captureSource = "";
    $("fi-photo-camera").value = "";
    if ($("fi-photo-file")) $("fi-photo-file").value = "";
    $("fi-preview").hidden = true;
    $("fi-photo-note").hidden = true;
    $("fi-photo-state").textContent = T.photo_none;
  }

  function takePhoto(event) {
    var file = event.target.files && event.target.files[0];
    setError("fi-photo-error", "");
    $("fi-photo-note").hidden = true;
    $("fi-preview").hidden = true;
    photo = null;
    captureSource = "";
    if (!file) { $("fi-photo-state").textContent = T.photo_none; return; }
    var source = event.target.id === "fi-photo-file" ? "file" : "capture_input";
    loadImage(file).then(function (loaded) {
      return shrink(file, loaded.image).then(function (result) {
        photo = result.blob;
        captureSource = source;
        $("fi-preview").src = loaded.url;
        $("fi-preview").hidden = false;
        $("fi-photo-note").textContent = result.shrunk ? T.photo_shrunk : "";
        $("fi-photo-note").hidden = !result.shrunk;
        $("fi-photo-state").textContent = T.photo_chosen;
      });
    }, function () {
      // Not decodable here: send it as it is and let the server say what is wrong with it
      // (a format this browser cannot show may still be one the server reads).
      photo = file;
      captureSource = source;
      $("fi-photo-state").textContent = T.photo_chosen;
    });
  }
  $("fi-photo-camera").addEventListener("change", takePhoto);
  $("fi-photo-take").addEventListener("click", function () { $("fi-photo-camera").click(); });
  // Rendered only where the site allows a chosen file (ONBOARDING_FILE_UPLOAD).
  if ($("fi-photo-file")) {
    $("fi-photo-file").addEventListener("change", takePhoto);
    $("fi-photo-choose").addEventListener("click", function () { $("fi-photo-file").click(); });
  }

  // --- camera capture (issue 32 item 4): the camera in the page, a frame on Capture --------
  // Where getUserMedia is there (HTTPS or localhost), "Use the camera" comes first and the
  // capture input steps back; where the camera cannot be opened (refused, none, busy) the
  // capture input comes back as the fallback, with the reason beside the photo buttons.
  var stream = null;
  var cameraUsable = !!(window.isSecureContext && navigator.mediaDevices &&
    navigator.mediaDevices.getUserMedia);

  /* The id of the first photo button shown: where the photo's error points and focus goes. */
  function photoControlId() {
    var ids = ["fi-camera-start", "fi-photo-take", "fi-photo-choose"];
    for (var i = 0; i < ids.length; i++) {
      if ($(ids[i]) && !$(ids[i]).hidden) return ids[i];
    }
    return "fi-photo-take";
  }

  function showCameraButton(usable) {
    $("fi-camera-start").hidden = !usable;
    $("fi-photo-take").hidden = usable;
  }

  function stopCamera() {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
    stream = null;
    $("fi-video").srcObject = null;
    $("fi-camera").hidden = true;
    $("fi-camera-start").setAttribute("aria-expanded", "false");
  }

  function startCamera() {
    setError("fi-photo-error", "");
    $("fi-camera-start").disabled = true;
    navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 960 } },
      audio: false
    }).then(function (opened) {
      $("fi-camera-start").disabled = false;
      stream = opened;
      $("fi-video").srcObject = opened;
      $("fi-camera").hidden = false;
      $("fi-camera-start").setAttribute("aria-expanded", "true");
      $("fi-photo-state").textContent = T.camera_on;
      $("fi-camera-capture").focus();
      var playing = $("fi-video").play();
      if (playing && playing["catch"]) playing["catch"](function () { /* autoplay plays it */ });
    }, function () {
      // Refused, no camera, or in use elsewhere: the capture input is the way left.
      $("fi-camera-start").disabled = false;
      stopCamera();
      showCameraButton(false);
      setError("fi-photo-error", T.camera_failed);
      $("fi-photo-take").focus();
    });
  }

  function captureFrame() {
    var video = $("fi-video");
    var width = video.videoWidth, height = video.videoHeight;
    if (!stream || !width || !height) { $("fi-photo-state").textContent = T.camera_not_ready; return; }
    var scale = Math.min(1, config.shrinkMaxSide / Math.max(width, height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      if (!blob) { $("fi-photo-state").textContent = T.camera_not_ready; return; }
      stopCamera();
      resetPhoto();
      photo = blob;
      captureSource = "camera";
      $("fi-preview").src = URL.createObjectURL(blob);
      $("fi-preview").hidden = false;
      $("fi-photo-state").textContent = T.photo_taken;
      $("fi-camera-start").focus();
    }, "image/jpeg", 0.92);
  }

  showCameraButton(cameraUsable);
  $("fi-camera-start").addEventListener("click", function () {
    if (stream) { $("fi-camera-capture").focus(); return; }
    startCamera();
  });
  $("fi-camera-capture").addEventListener("click", captureFrame);
  $("fi-camera-close").addEventListener("click", function () {
    stopCamera();
    $("fi-photo-state").textContent =
      !photo ? T.photo_none : captureSource === "camera" ? T.photo_taken : T.photo_chosen;
    $("fi-camera-start").focus();
  });
  $("fi-camera").addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); $("fi-camera-close").click(); }
  });
  // The camera's light goes off when the page is left.
  window.addEventListener("pagehide", stopCamera);
  // --- end of camera capture -------------------------------------------------------------

  // Validation on input, never on blur: a blur that hides an error as the pointer goes down
  // on the button is how a click used to get lost.
  $("fi-number").addEventListener("input", function () {
    // Complaints while typing only once the number is long enough to be judged.
    if (normalizeNumber($("fi-number").value).length >= 18) checkNumber();
    else setError("fi-number-error", "");
  });
  $("fi-name").addEventListener("input", function () {
    if ($("fi-name").value.trim()) setError("fi-name-error", "");
  });

  // --- the API ----------------------------------------------------------------------------
  // The CSRF token and its header come in the page's configuration: no cookie name to guess.
  function headersForCreate(key) {
    var headers = { "Idempotency-Key": key };
    headers[config.csrfHeader] = config.csrfToken;
    return headers;
  }

  function api(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign(
      { "Accept": "application/json", "Accept-Language": config.language },
      options.headers || {}
    );
    return fetch(url, options).then(function (response) {
      return response.json().then(
        function (body) { return { status: response.status, body: body }; },
        function () { return { status: response.status, body: {} }; }
      );
    });
  }

  // Each field the API names goes beside its control; consent and the notice version beside
  // the consent box; a minor's refusal to the guardian section.
  var ERROR_LINE = {
    idcard_number: "fi-number-error",
    idcard_name: "fi-name-error",
    image: "fi-photo-error",
    capture_source: "fi-photo-error",
    consent: "fi-consent-error",
    notice_version: "fi-consent-error"
  };

  function showGuardian(message) {
    $("fi-guardian-error").textContent = message;
    var next = $("fi-guardian-next");
    next.textContent = "";
    if (config.guardianUrl) {
      var link = document.createElement("a");
      link.href = config.guardianUrl;
      link.className = "fi-button";
      link.id = "fi-guardian-link";
      link.textContent = T.guardian_go;
      next.appendChild(link);
    } else {
      next.textContent = T.guardian_contact;
    }
    $("fi-guardian").hidden = false;
    $("fi-guardian").setAttribute("tabindex", "-1");
  }

  function showErrors(body) {
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var shown = false;
    Object.keys(fields).forEach(function (name) {
      var messages = fields[name].map(function (item) { return item.message; }).join(" ");
      if (name === "guardian_consent") { showGuardian(messages); shown = true; return; }
      if (name === "notice_version") messages = T.notice_changed;
      if (ERROR_LINE[name]) { setError(ERROR_LINE[name], messages); shown = true; }
    });
    if (!shown) setError("fi-form-error", error.message || T.network_error);
    else if (!$("fi-guardian").hidden && Object.keys(fields).length === 1) setError("fi-form-error", "");
    else setError("fi-form-error", T.fix_errors);
    focusFirstError();
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  function setSending(value) {
    sending = value;
    $("fi-submit").disabled = value;
    $("fi-submit").textContent = value ? T.sending : T.submit;
  }

  $("fi-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return; // a second click while the first is on its way sends nothing
    clearErrors();
    if (!$("fi-consent-box").checked) {
      setError("fi-consent-error", T.consent_needed);
      focusFirstError();
      return;
    }
    var ok = checkNumber() & checkName();
    if (!photo) {
      setError("fi-photo-error", config.fileUpload ? T.photo_needed : T.photo_needed_camera);
      ok = false;
    }
    if (!ok) { setError("fi-form-error", T.fix_errors); focusFirstError(); return; }
    var form = new FormData();
    form.append("idcard_number", normalizeNumber($("fi-number").value));
    form.append("idcard_name", $("fi-name").value.trim());
    form.append("consent", "true");
    if (config.noticeVersion) form.append("notice_version", config.noticeVersion);
    form.append("image", photo, photo.name || "photo.jpg");
    if (captureSource) form.append("capture_source", captureSource);
    stopCamera();
    setSending(true);
    api(config.attemptsUrl, {
      method: "POST",
      body: form,
      headers: headersForCreate(newKey())
    }).then(function (answer) {
      setSending(false);
      if (answer.status === 202) { follow(answer.body); } else { showErrors(answer.body); }
    }, function () {
      setSending(false);
      setError("fi-form-error", T.network_error);
      focusFirstError();
    });
  });

  // --- progress and result ----------------------------------------------------------------
  function showOnly(section) {
    ["fi-consent", "fi-form", "fi-guardian", "fi-progress", "fi-result"].forEach(function (id) {
      $(id).hidden = id !== section && !(section === "fi-form" && id === "fi-consent");
    });
  }

  function follow(attempt) {
    showOnly("fi-progress");
    var started = Date.now();
    var url = config.attemptsUrl + attempt.id + "/";
    (function poll(current) {
      if (config.terminal.indexOf(current.status) >= 0) { finish(current); return; }
      // A queued attempt with a time to go waits for its turn under the provider's quota.
      var waitingTurn = current.status === "queued" && current.waiting_until;
      $("fi-status").textContent = T[waitingTurn ? "status_waiting_turn" : "status_" + current.status] || "";
      $("fi-progress").dataset.status = current.status;
      if (Date.now() - started > config.pollGiveUpMs) { $("fi-status").textContent = T.too_slow; return; }
      setTimeout(function () {
        api(url).then(function (answer) {
          poll(answer.status === 200 ? answer.body : current);
        }, function () { poll(current); });
      }, config.pollIntervalMs);
    })(attempt);
  }

  function finish(attempt) {
    showOnly("fi-result");
    var result = $("fi-result");
    result.dataset.status = attempt.status;
    result.dataset.decision = attempt.decision;
    // What the person is told is the server's one rule (face_idcard._reasons.person_message):
    // it follows the status, the decision and the review.
    var verified = attempt.decision === "match";
    var waiting = attempt.decision === "review" && !attempt.reviewed;
    result.dataset.outcome = verified ? "success" : waiting ? "waiting" : "failure";
    $("fi-result-heading").textContent = verified ? T.success_heading : T.result_heading;
    $("fi-result-text").textContent = attempt.message || T.result_failed;
    $("fi-result-message").textContent = "";
    var next = $("fi-result-next");
    next.textContent = "";
    if (verified && config.continueUrl) {
      var link = document.createElement("a");
      link.href = config.continueUrl;
      link.className = "fi-button";
      link.id = "fi-continue";
      link.textContent = T["continue"];
      next.appendChild(link);
    } else if (waiting) {
      next.textContent = T.review_next;
    }
    // Verified, or waiting for a reviewer: nothing to try again.
    $("fi-retry").hidden = verified || attempt.decision === "review";
    result.focus();
  }

  $("fi-retry").addEventListener("click", function () {
    showOnly("fi-form");
    clearErrors();
    resetPhoto();
    $("fi-photo-state").textContent = T.photo_none;
    $(photoControlId()).focus();
  });

  // --- withdrawing consent: asked to confirm in the page, answered within the request ------
  // The answer's lines say what was done and what could not be deleted and why.
  var withdrawing = false;

  function askToWithdraw(open) {
    $("fi-withdraw-confirm").hidden = !open;
    $("fi-withdraw").setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { $("fi-withdraw-question").focus(); } else { $("fi-withdraw").focus(); }
  }

  function showWithdrawal(body) {
    var result = $("fi-withdraw-result");
    result.textContent = "";
    (body.messages || []).forEach(function (line) {
      var paragraph = document.createElement("p");
      paragraph.textContent = line;
      result.appendChild(paragraph);
    });
    result.dataset.legalHold = body.legal_hold ? "true" : "false";
    result.hidden = false;
    $("fi-withdraw-confirm").hidden = true;
    $("fi-withdraw").hidden = true;
    // Nothing more is sent in this consent's name: the form closes until the page is reloaded.
    $("fi-consent-box").checked = false;
    consentChanged();
    result.focus();
  }

  function withdraw() {
    if (withdrawing) return;
    withdrawing = true;
    setError("fi-withdraw-error", "");
    $("fi-withdraw-yes").disabled = true;
    $("fi-withdraw-yes").textContent = T.withdraw_sending;
    var headers = { "Content-Type": "application/json" };
    headers[config.csrfHeader] = config.csrfToken;
    api($("fi-withdraw").dataset.url, {
      method: "POST",
      body: JSON.stringify({ confirm: true }),
      headers: headers
    }).then(function (answer) {
      return answer;
    }, function () {
      return null;
    }).then(function (answer) {
      withdrawing = false;
      $("fi-withdraw-yes").disabled = false;
      $("fi-withdraw-yes").textContent = T.withdraw_yes;
      if (answer && answer.status === 200) { showWithdrawal(answer.body); return; }
      var error = answer && answer.body && answer.body.error;
      setError("fi-withdraw-error", (error && error.message) || T.network_error);
      $("fi-withdraw-yes").focus();
    });
  }

  $("fi-withdraw").addEventListener("click", function () { askToWithdraw(true); });
  $("fi-withdraw-no").addEventListener("click", function () { askToWithdraw(false); });
  $("fi-withdraw-yes").addEventListener("click", withdraw);
  $("fi-withdraw-confirm").addEventListener("keydown", function (event) {
    if (event.key === "Escape") { event.preventDefault(); askToWithdraw(false); }
  });

  // --- a reload resumes the latest attempt: one still running, or one waiting for review ---
  function resume() {
    api(config.attemptsUrl + "?page_size=1").then(function (answer) {
      var latest = answer.status === 200 && answer.body.results && answer.body.results[0];
      if (!latest) return;
      if (config.terminal.indexOf(latest.status) < 0) { follow(latest); return; }
      if (latest.decision === "review" && !latest.reviewed) finish(latest);
    }, function () { /* the form stays: nothing to resume */ });
  }
  resume();
})();
