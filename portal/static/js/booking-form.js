// Booking form: checked entries first, filter-as-you-type checkbox lists, and free-slot proposals (P2) that
// follow the chosen service, location, staff and date; a click on a proposal fills the date, time and staff.
(function () {
  "use strict";
  // Checked entries first, so a re-shown form (e.g. after a conflict) shows what was chosen.
  document.querySelectorAll("ul.checklist").forEach(function (list) {
    var checked = Array.prototype.filter.call(list.children, function (li) { return li.querySelector("input:checked"); });
    checked.reverse().forEach(function (li) { list.insertBefore(li, list.firstChild); });
  });
  // Filter a checkbox list as you type; checked entries always stay visible.
  document.querySelectorAll("input[data-filter]").forEach(function (box) {
    var list = document.getElementById(box.dataset.filter);
    box.addEventListener("input", function () {
      var q = box.value.toLowerCase();
      list.querySelectorAll("li").forEach(function (li) {
        var input = li.querySelector("input");
        li.hidden = q && !input.checked && li.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });

  var panel = document.getElementById("slots");
  if (!panel) return;
  var list = panel.querySelector(".slot-list"), sentence = panel.querySelector(".slots-sentence");

  function chosenStaff() {
    return Array.prototype.map.call(document.querySelectorAll("#staff input:checked"), function (i) { return i.value; });
  }

  function render(data) {
    sentence.textContent = data.sentence;
    list.textContent = "";
    var anyone = chosenStaff().length === 0;
    data.slots.forEach(function (slot) {
      var li = document.createElement("li"), button = document.createElement("button");
      button.type = "button";
      button.dataset.date = slot.date;
      button.dataset.time = slot.time;
      button.dataset.staff = slot.staff_ids.join(",");
      button.title = "Free: " + slot.staff_names.join(", ");
      button.textContent = slot.label + (anyone && slot.staff_names.length === 1 ? " · " + slot.staff_names[0] : "");
      li.appendChild(button);
      list.appendChild(li);
    });
  }

  function reload() {
    var params = new URLSearchParams();
    ["service", "location", "date"].forEach(function (name) {
      var el = document.getElementById(name);
      if (el && el.value) params.append(name, el.value);
    });
    chosenStaff().forEach(function (id) { params.append("staff", id); });
    fetch(panel.dataset.url + "?" + params.toString(), {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) render(data); })
      .catch(function () { /* the proposals stay as they were; the booking still checks on submit */ });
  }

  list.addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-date]");
    if (!button) return;
    document.getElementById("date").value = button.dataset.date;
    document.getElementById("time").value = button.dataset.time;
    if (chosenStaff().length === 0) {  // anyone at the location: take the first one free
      var first = document.querySelector("#staff input[value='" + button.dataset.staff.split(",")[0] + "']");
      if (first) first.checked = true;
    }
    list.querySelectorAll("button").forEach(function (b) { b.classList.toggle("is-picked", b === button); });
  });
  ["service", "location", "date"].forEach(function (name) {
    var el = document.getElementById(name);
    if (el) el.addEventListener("change", reload);
  });
  document.querySelectorAll("#staff input").forEach(function (box) { box.addEventListener("change", reload); });
})();
