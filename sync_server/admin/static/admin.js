// Shift Learning admin console: the only script. Asks before destructive actions
// (forms with data-confirm). Everything works without it.
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
}, true);
document.addEventListener("click", function (event) {
  var target = event.target;
  if (target instanceof HTMLElement && target.hasAttribute("data-print")) {
    window.print();
  }
});
// "tick every learner on this page": a header checkbox with data-select-all="<name>"
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box instanceof HTMLInputElement && box.dataset.selectAll) {
    document.querySelectorAll('input[type=checkbox][name="' + box.dataset.selectAll + '"]')
      .forEach(function (other) { other.checked = box.checked; });
  }
});
