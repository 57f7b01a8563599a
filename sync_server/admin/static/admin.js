// Shift Learning admin console: the only script. Asks before destructive actions
// (forms with data-confirm). Everything works without it.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
}, true);
