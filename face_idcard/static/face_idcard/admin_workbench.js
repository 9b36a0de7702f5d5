/* The review workbench's keyboard shortcuts (no inline script: the admin's CSP forbids it).
   A approve, R reject (each needs the reason: with none, the reason box takes the focus),
   N next attempt, S show the selfie, E write the reason. Nothing happens while a field has
   the focus or a modifier key is held; Esc leaves the field. */
(function () {
  "use strict";
  function typing(target) {
    var name = target && target.tagName;
    return name === "INPUT" || name === "TEXTAREA" || name === "SELECT" || (target && target.isContentEditable);
  }
  function decide(selector) {
    var button = document.querySelector(selector);
    var reason = document.getElementById("id_reason");
    if (!button || !reason) { return; }
    if (!reason.value.trim()) { reason.focus(); return; }
    button.click();
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key.toLowerCase();
    if (key === "a") { event.preventDefault(); decide(".fi-wb-approve"); }
    else if (key === "r") { event.preventDefault(); decide(".fi-wb-reject"); }
    else if (key === "n") {
      var next = document.querySelector(".fi-wb-next");
      if (next) { event.preventDefault(); window.location.assign(next.href); }
    } else if (key === "s") {
      var reveal = document.querySelector(".fi-wb-reveal-button");
      if (reveal) { event.preventDefault(); reveal.click(); }
    } else if (key === "e") {
      var reason = document.getElementById("id_reason");
      if (reason) { event.preventDefault(); reason.focus(); }
    }
  });
  var photo = document.querySelector(".fi-wb-photo");
  var size = document.querySelector(".fi-wb-dimensions");
  function measure() {
    if (photo && size && photo.naturalWidth) {
      size.textContent = photo.naturalWidth + " \u00d7 " + photo.naturalHeight + " px";
    }
  }
  if (photo) { if (photo.complete) { measure(); } else { photo.addEventListener("load", measure); } }
})();
