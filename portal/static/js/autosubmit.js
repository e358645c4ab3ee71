/* A <select data-autosubmit> submits its form when changed (instead of an inline onchange handler, which the
   Content-Security-Policy forbids). */
document.addEventListener("change", function (event) {
  var el = event.target;
  if (el.matches && el.matches("[data-autosubmit]") && el.form) { el.form.requestSubmit ? el.form.requestSubmit() : el.form.submit(); }
});
