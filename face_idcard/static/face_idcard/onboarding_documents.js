/* The onboarding page's document review (the non-face alternative): both sides of the ID card,
 * the number, the name and the consent, sent as one multipart request to the API; every error
 * beside its field, focus on the first one; the answer (pending review) shown in place.
 * Its own file and its own part of the page: the face path's script does not know of it. */
(function () {
  "use strict";

  var form = document.getElementById("fi-doc-form");
  if (!form) return;
  var $ = function (id) { return document.getElementById(id); };
  var config = JSON.parse(document.getElementById("fi-config").textContent);
  // The API's field names and where each error goes, in page order.
  var LINES = [
    ["consent", "fi-doc-consent-error", "fi-doc-consent"],
    ["notice_version", "fi-doc-consent-error", "fi-doc-consent"],
    ["front", "fi-doc-front-error", "fi-doc-front"],
    ["back", "fi-doc-back-error", "fi-doc-back"],
    ["idcard_number", "fi-doc-number-error", "fi-doc-number"],
    ["idcard_name", "fi-doc-name-error", "fi-doc-name"]
  ];
  var sending = false;

  function setError(line, control, text) {
    $(line).textContent = text || "";
    if (text) $(control).setAttribute("aria-invalid", "true");
    else $(control).removeAttribute("aria-invalid");
  }

  function clearErrors() {
    LINES.forEach(function (entry) { setError(entry[1], entry[2], ""); });
    $("fi-doc-error").textContent = "";
  }

  function showErrors(body) {
    var error = (body && body.error) || {};
    var fields = error.fields || {};
    var first = null;
    LINES.forEach(function (entry) {
      var items = fields[entry[0]];
      if (!items) return;
      var text = items.map(function (item) { return item.message; }).join(" ");
      setError(entry[1], entry[2], ($(entry[1]).textContent ? $(entry[1]).textContent + " " : "") + text);
      if (!first) first = $(entry[2]);
    });
    $("fi-doc-error").textContent = first ? form.dataset.fix : (error.message || form.dataset.network);
    (first || $("fi-doc-submit")).focus();
  }

  function setSending(value) {
    sending = value;
    $("fi-doc-submit").disabled = value;
    $("fi-doc-submit").textContent = value ? form.dataset.sending : form.dataset.submit;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) return;
    clearErrors();
    var data = new FormData();
    // The server is the authority for every rule: an empty field is sent and refused there,
    // in the person's language, beside the field.
    data.append("consent", $("fi-doc-consent").checked ? "true" : "false");
    if (config.noticeVersion) data.append("notice_version", config.noticeVersion);
    data.append("idcard_number", $("fi-doc-number").value);
    data.append("idcard_name", $("fi-doc-name").value);
    ["front", "back"].forEach(function (side) {
      var input = $("fi-doc-" + side);
      if (input.files && input.files[0]) data.append(side, input.files[0]);
    });
    var headers = { "Accept": "application/json", "Accept-Language": config.language };
    headers[config.csrfHeader] = config.csrfToken;
    setSending(true);
    fetch(form.dataset.url, { method: "POST", body: data, headers: headers, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(
          function (body) { return { status: response.status, body: body }; },
          function () { return { status: response.status, body: {} }; }
        );
      })
      .then(function (answer) {
        setSending(false);
        if (answer.status === 201) {
          form.hidden = true;
          $("fi-doc-result-text").textContent = answer.body.message;
          $("fi-doc-result").hidden = false;
          $("fi-doc-result").focus();
        } else {
          showErrors(answer.body);
        }
      }, function () {
        setSending(false);
        $("fi-doc-error").textContent = form.dataset.network;
        $("fi-doc-submit").focus();
      });
  });
})();
