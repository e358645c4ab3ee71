/* Live states (S8): while anything is initializing or throttled, poll the states and update rows in place. */
(function () {
  var table = document.getElementById("accounts");
  if (!table) return;
  var url = table.dataset.statesUrl, live = table.dataset.live === "1", timer = null;
  var indicator = document.getElementById("live-indicator");
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
    indicator.hidden = !data.live;
    return data.live;
  }
  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) { timer = setTimeout(poll, apply(data) ? 2000 : 15000); })
      .catch(function () { timer = setTimeout(poll, 10000); });
  }
  timer = setTimeout(poll, live ? 2000 : 15000);
})();
