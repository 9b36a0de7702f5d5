/* The onboarding page: consent, photo, ID number and name, progress, result.
 * Plain JavaScript against the REST API with the session cookie; the server stays the
 * authority for every rule checked here (these checks only save the user a round trip). */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("fi-config").textContent);
  var T = config.texts;
  var $ = function (id) { return document.getElementById(id); };
  var photo = null; // the Blob to upload

  // --- the ID number rule, as face_idcard.validators applies it (GB 11643) ----------------
  var WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  var CHECK = "10X98765432";

  function normalizeNumber(value) {
    var text = (value || "").normalize ? value.normalize("NFKC") : value || "";
    return text.replace(/\s+/g, "").toUpperCase();
  }

  /* The code of the first rule the number breaks (validators.ID_MESSAGES), or "". */
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

  function show(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  function checkNumber() {
    var problem = idProblem($("fi-number").value);
    show($("fi-number-error"), problem ? config.idTexts[problem] : "");
    return !problem;
  }

  function checkName() {
    var ok = $("fi-name").value.trim().length > 0;
    show($("fi-name-error"), ok ? "" : T.name_needed);
    return ok;
  }

  // --- consent ----------------------------------------------------------------------------
  $("fi-consent-box").addEventListener("change", function (event) {
    $("fi-fields").disabled = !event.target.checked;
  });

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

  function takePhoto(event) {
    var file = event.target.files && event.target.files[0];
    show($("fi-photo-error"), "");
    show($("fi-photo-note"), "");
    $("fi-preview").hidden = true;
    photo = null;
    if (!file) return;
    loadImage(file).then(function (loaded) {
      return shrink(file, loaded.image).then(function (result) {
        photo = result.blob;
        $("fi-preview").src = loaded.url;
        $("fi-preview").hidden = false;
        show($("fi-photo-note"), result.shrunk ? T.photo_shrunk : "");
      });
    }, function () {
      // Not decodable here: send it as it is and let the server say what is wrong with it
      // (a format this browser cannot show may still be one the server reads).
      photo = file;
    });
  }
  $("fi-photo-camera").addEventListener("change", takePhoto);
  $("fi-photo-file").addEventListener("change", takePhoto);

  $("fi-number").addEventListener("input", function () {
    // Complaints while typing only once the number is long enough to be judged.
    if (normalizeNumber($("fi-number").value).length >= 18) checkNumber();
    else show($("fi-number-error"), "");
  });
  $("fi-number").addEventListener("blur", checkNumber);
  $("fi-name").addEventListener("blur", checkName);

  // --- the API ----------------------------------------------------------------------------
  // The CSRF token and its header come in the page's configuration: no cookie name to guess.
  function headersForCreate() {
    var headers = { "Idempotency-Key": idempotencyKey() };
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

  function showErrors(body) {
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var where = { idcard_number: "fi-number-error", idcard_name: "fi-name-error", image: "fi-photo-error" };
    var shown = false;
    Object.keys(fields).forEach(function (name) {
      var messages = fields[name].map(function (item) { return item.message; }).join(" ");
      if (where[name]) { show($(where[name]), messages); shown = true; }
    });
    if (!shown) show($("fi-form-error"), error.message || T.network_error);
  }

  function idempotencyKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return String(Date.now()) + "-" + String(Math.random()).slice(2);
  }

  $("fi-form").addEventListener("submit", function (event) {
    event.preventDefault();
    show($("fi-form-error"), "");
    if (!$("fi-consent-box").checked) { show($("fi-form-error"), T.consent_needed); return; }
    var ok = checkNumber() & checkName();
    if (!photo) { show($("fi-photo-error"), T.photo_needed); ok = false; }
    if (!ok) return;
    var form = new FormData();
    form.append("idcard_number", normalizeNumber($("fi-number").value));
    form.append("idcard_name", $("fi-name").value.trim());
    form.append("consent", "true");
    if (config.noticeVersion) form.append("notice_version", config.noticeVersion);
    form.append("image", photo, photo.name || "photo.jpg");
    $("fi-submit").disabled = true;
    $("fi-submit").textContent = T.sending;
    api(config.attemptsUrl, {
      method: "POST",
      body: form,
      headers: headersForCreate()
    }).then(function (answer) {
      $("fi-submit").disabled = false;
      $("fi-submit").textContent = T.submit;
      if (answer.status === 202) { follow(answer.body); } else { showErrors(answer.body); }
    }, function () {
      $("fi-submit").disabled = false;
      $("fi-submit").textContent = T.submit;
      show($("fi-form-error"), T.network_error);
    });
  });

  // --- progress and result ----------------------------------------------------------------
  function follow(attempt) {
    $("fi-form").hidden = true;
    $("fi-consent").hidden = true;
    $("fi-progress").hidden = false;
    var started = Date.now();
    var url = config.attemptsUrl + attempt.id + "/";
    (function poll(current) {
      if (config.terminal.indexOf(current.status) >= 0) { finish(current); return; }
      $("fi-status").textContent = T["status_" + current.status] || "";
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
    $("fi-progress").hidden = true;
    var result = $("fi-result");
    result.hidden = false;
    result.dataset.status = attempt.status;
    result.dataset.decision = attempt.decision;
    // What the person is told is the server's one rule (face_idcard.reasons.person_message):
    // it follows the status, the decision and the review. Verified, or waiting for a
    // reviewer: nothing to try again.
    var settled = attempt.decision === "match" || attempt.decision === "review";
    $("fi-result-text").textContent = attempt.message || T.result_failed;
    $("fi-result-message").textContent = "";
    $("fi-retry").hidden = settled;
  }

  $("fi-retry").addEventListener("click", function () {
    $("fi-result").hidden = true;
    $("fi-form").hidden = false;
    $("fi-consent").hidden = false;
    photo = null;
    $("fi-photo-camera").value = "";
    $("fi-photo-file").value = "";
    $("fi-preview").hidden = true;
    show($("fi-photo-note"), "");
  });
})();
