// In-page dialogs (P8): a button with data-open-dialog="<id>" opens that <dialog> as a modal;
// data-close-dialog closes it. Escape closes it too (the browser's own <dialog> behaviour).
(function () {
  "use strict";
  document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
    var dialog = document.getElementById(button.dataset.openDialog);
    if (!dialog) return;
    button.addEventListener("click", function () {
      dialog.showModal();
      var first = dialog.querySelector("textarea, input:not([type=hidden])");
      if (first) first.focus();
    });
  });
  document.querySelectorAll("dialog [data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", function () { button.closest("dialog").close(); });
  });
})();
