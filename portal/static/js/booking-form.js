// Booking form: staff and client pickers that search the server as you type, and free-slot proposals (P2) that
// follow the chosen service, location, staff and date; a click on a proposal fills the date, time and staff.
(function () {
  "use strict";
  // Staff and client pickers (picker.py): the server lists the chosen entries, then the first matches of the
  // search. As you type, ask /appointments/choices and replace the unchecked entries; checked ones stay.
  function addOption(list, id, label, checked) {
    var li = document.createElement("li"), input = document.createElement("input"), lab = document.createElement("label");
    input.type = "checkbox";
    input.name = list.dataset.name;
    input.value = String(id);
    input.id = list.id + "-opt-" + id;
    input.checked = !!checked;
    lab.htmlFor = input.id;
    lab.textContent = label;
    li.appendChild(input);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(lab);
    list.appendChild(li);
    return input;
  }

  document.querySelectorAll("[data-picker]").forEach(function (box) {
    var kind = box.dataset.picker, list = box.querySelector("ul.checklist"), search = box.querySelector("[data-picker-search]");
    var shown = box.querySelector("input[name='" + kind + "_q_shown']"), count = box.querySelector("[data-picker-count]");
    var timer = null, asked = 0;
    list.dataset.name = kind;
    function run() {
      var q = search.value.trim(), mine = ++asked, params = new URLSearchParams({kind: kind, q: q});
      list.querySelectorAll("input:checked").forEach(function (i) { params.append("chosen", i.value); });
      fetch(box.dataset.url + "?" + params.toString(), {credentials: "same-origin", cache: "no-store"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || mine !== asked) return;  // a later search has been asked meanwhile
          Array.prototype.forEach.call(list.querySelectorAll("li"), function (li) {
            if (!li.querySelector("input:checked")) li.remove();
          });
          data.items.forEach(function (item) { addOption(list, item.id, item.label, false); });
          count.textContent = data.sentence;
          count.hidden = !data.sentence;
          if (shown) shown.value = q;
        })
        .catch(function () { /* the list stays as it was; Find still works */ });
    }
    search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 200); });
    search.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); run(); }
    });
    box.querySelector("button[name=find]").addEventListener("click", function (ev) {
      ev.preventDefault(); clearTimeout(timer); run();
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
      button.dataset.firstName = slot.staff_names[0];
      button.title = "Free: " + slot.staff_names.join(", ") + (slot.more ? " and others" : "");
      button.textContent = slot.label + (anyone && slot.staff_names.length === 1 && !slot.more ? " · " + slot.staff_names[0] : "");
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
      var id = button.dataset.staff.split(",")[0], staffList = document.getElementById("staff");
      var first = staffList.querySelector("input[value='" + id + "']");
      if (first) first.checked = true;
      else staffList.insertBefore(addOption(staffList, id, button.dataset.firstName, true).parentNode, staffList.firstChild);
    }
    list.querySelectorAll("button").forEach(function (b) { b.classList.toggle("is-picked", b === button); });
  });
  ["service", "location", "date"].forEach(function (name) {
    var el = document.getElementById(name);
    if (el) el.addEventListener("change", reload);
  });
  document.getElementById("staff").addEventListener("change", reload);  // also entries a search added later
})();
