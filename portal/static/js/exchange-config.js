/* Exchange Configuration tab (SPEC S4, S10).
   As soon as the user name is entered, ask Sundial for the EWS URL and fill the address, unless the admin typed
   an address of their own. The lookup sends the user name only, never the password: a mistyped password sent
   as you type would count towards the Active Directory lockout. Autodiscover that needs the password runs as
   part of Authorize. */
(function () {
  "use strict";
  var form = document.getElementById("exchange-config");
  if (!form) return;
  var user = form.querySelector("[name=username]");
  var url = form.querySelector("[name=server_url]"), source = form.querySelector("[name=server_url_source]");
  var note = document.getElementById("server-url-note");
  var notesEl = document.getElementById("autodiscover-notes");
  var notes = notesEl ? JSON.parse(notesEl.textContent) : {};
  var asked = null, lastUpn = user.value.trim();

  function show(kind, text) { note.className = "ex-note " + kind; note.textContent = text; }

  function lookup() {
    var upn = user.value.trim();
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(upn) || upn === asked) return;
    if (url.value && (source.value === "manual" || (source.value === "autodiscover" && upn === lastUpn))) return;
    asked = upn;
    show("", "Looking up the Exchange server for " + upn.split("@")[1] + "…");
    var body = new FormData();
    body.append("csrf_token", form.querySelector("[name=csrf_token]").value);
    body.append("username", upn);
    fetch(form.dataset.autodiscoverUrl, {method: "POST", body: body, credentials: "same-origin",
                                         headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.ok) { show("", ""); return; }
        if (source.value === "manual" && url.value) { show("", ""); return; }
        url.value = data.url; source.value = data.source; lastUpn = upn; show(data.source, data.note);
      })
      .catch(function () { show("", ""); asked = null; });
  }

  user.addEventListener("change", lookup);
  user.addEventListener("blur", lookup);
  url.addEventListener("input", function () { source.value = "manual"; show("", notes.manual || ""); });
  form.addEventListener("submit", function () {
    var b = document.getElementById("authorize");
    setTimeout(function () { b.disabled = true; b.textContent = "Checking with Exchange…"; }, 0);
  });
})();
