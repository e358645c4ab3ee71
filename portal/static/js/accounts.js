/* User Accounts tab (S8): the state filter submits on change; while anything is initializing or throttled the
   state cells refresh in place. Each poll sends the cursor it was given and gets back only the rows changed
   since, so a tab of 1,000 staff does not re-download every row every 2 seconds. */
(function () {
  document.querySelectorAll("select[data-submit-on-change]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  var table = document.getElementById("accounts");
  if (!table) return;
  var base = table.dataset.statesUrl, cursor = table.dataset.cursor || "", live = table.dataset.live === "1";
  var indicator = document.getElementById("live-indicator");
  function url() {
    if (!cursor) return base;
    return base + (base.indexOf("?") < 0 ? "?" : "&") + "since=" + encodeURIComponent(cursor);
  }
  function apply(data) {
    Object.keys(data.rows).forEach(function (id) {
      var tr = table.querySelector('tr[data-staff-id="' + id + '"]');
      if (!tr) return;
      var cell = tr.querySelector(".state-cell");
      if (cell.dataset.html !== data.rows[id].html) { cell.innerHTML = data.rows[id].html; cell.dataset.html = data.rows[id].html; }
    });
    Object.keys(data.counts).forEach(function (key) {
      var box = document.querySelector('[data-count="' + key + '"]');
      if (!box) return;
      box.querySelector("b").textContent = data.counts[key];
      box.classList.toggle("zero", !data.counts[key]);
    });
    document.querySelector("[data-p50]").textContent = data.p50;
    document.querySelector("[data-p95]").textContent = data.p95;
    if (data.cursor) cursor = data.cursor;
    if (indicator) indicator.hidden = !data.live;
    return data.live;
  }
  function poll() {
    fetch(url(), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { setTimeout(poll, apply(data) ? 2000 : 15000); })
      .catch(function () { setTimeout(poll, 10000); });
  }
  setTimeout(poll, live ? 2000 : 15000);
})();
