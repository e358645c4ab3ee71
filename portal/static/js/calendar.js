// Day and week calendars: scroll to the working day, move the now-line, click an empty time to book (P3),
// and follow changes made elsewhere without a reload (P4): poll the change cursor every second; when it
// moves, fetch the page again, swap the grid columns in place and highlight the blocks that changed.
(function () {
  "use strict";
  var POLL_MS = 1000, HIGHLIGHT_MS = 2500;

  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  var cal = document.querySelector(".calendar");
  var scroll = document.getElementById("cal-scroll");
  if (!cal || !scroll) return;
  var seven = scroll.querySelector('[data-hour="7"]');
  if (seven) scroll.scrollTop = seven.offsetTop - 8;  // show 07:00–20:00, scroll for the rest
  var hourPx = seven ? seven.offsetHeight : 48;

  setInterval(function () {  // keep the current-time line moving
    scroll.querySelectorAll(".now-line").forEach(function (now) {
      var minute = Math.min(1439, Number(now.dataset.nowMin) + 1);
      now.dataset.nowMin = minute;
      now.style.setProperty("--top", minute);
    });
  }, 60000);

  scroll.querySelectorAll(".cal-day[data-book]").forEach(function (col) {
    col.addEventListener("click", function (ev) {  // click an empty slot to book there
      if (ev.target !== col) return;
      var minutes = Math.floor((ev.offsetY / hourPx) * 60 / 15) * 15;
      var hh = String(Math.floor(minutes / 60)).padStart(2, "0"), mm = String(minutes % 60).padStart(2, "0");
      window.location = col.dataset.book + "&time=" + hh + ":" + mm;
    });
  });

  if (!cal.dataset.live) return;
  var cursor = cal.dataset.cursor, busy = false;

  function where(el) {  // one appointment can sit in several columns (multi-staff): key it per column
    var scope = el.closest("[data-col], [data-date]");
    return (scope ? (scope.dataset.col || scope.dataset.date) : "") + ":" + el.dataset.key;
  }

  function signatures(root) {
    var sigs = {};
    root.querySelectorAll("[data-key]").forEach(function (el) { sigs[where(el)] = el.dataset.sig; });
    return sigs;
  }

  function swap(fresh) {
    var before = signatures(cal);
    ["#cal-scroll .cal-day", ".cal-allday", "[data-live-text]", ".week-title p"].forEach(function (sel) {
      var olds = document.querySelectorAll(sel), news = fresh.querySelectorAll(sel);
      if (olds.length !== news.length) return;
      olds.forEach(function (el, i) { el.innerHTML = news[i].innerHTML; });
    });
    cal.querySelectorAll("[data-key]").forEach(function (el) {
      if (before[where(el)] !== el.dataset.sig) {
        el.classList.add("is-changed");
        setTimeout(function () { el.classList.remove("is-changed"); }, HIGHLIGHT_MS);
      }
    });
    cal.dataset.cursor = cursor;
  }

  function refresh() {
    return fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html) swap(new DOMParser().parseFromString(html, "text/html"));
      });
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(cal.dataset.live, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.cursor !== cursor) {
          cursor = data.cursor;
          return refresh();
        }
      })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, POLL_MS);
})();
