// Shift Learning studio: live lesson preview. Posts the text to this server's preview
// route as the author types and shows the answer in both preview widths. Nothing is
// loaded from anywhere else; without this script the "Preview" button does the same.
"use strict";
(function () {
  var form = document.getElementById("lesson-form");
  if (!form) { return; }
  var area = document.getElementById("markdown");
  var targets = [document.getElementById("preview-360"), document.getElementById("preview-800")];
  var timer = null, sent = 0, shown = 0;
  function update() {
    var body = new FormData();
    body.append("csrf", form.elements.namedItem("csrf").value);
    body.append("markdown", area.value);
    var mine = ++sent;
    fetch(form.dataset.preview, {method: "POST", body: body, credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null || mine < shown) { return; }
        shown = mine;
        targets.forEach(function (t) { if (t) { t.innerHTML = html; } });
        form.dataset.previewed = String(mine);
      });
  }
  area.addEventListener("input", function () {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(update, 300);
  });
  form.dataset.live = "1";   // the preview follows the typing from now on
  // the image form carries the text being edited, so an upload does not lose it
  var imageForm = document.getElementById("image-form");
  if (imageForm) {
    imageForm.addEventListener("submit", function () {
      imageForm.elements.namedItem("markdown").value = area.value;
    });
  }
})();
