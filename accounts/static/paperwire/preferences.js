// Progressive help on the signup and preferences forms; the forms work without it.
(function () {
  "use strict";

  // After a failed submit, start at the summary of what to fix (autofocus does this in
  // most browsers; this covers the rest).
  var summary = document.getElementById("error-summary");
  if (summary && document.activeElement !== summary) summary.focus();

  // Fill the time zone from the browser when the field still holds the default.
  var tz = document.querySelector("[data-detect-time-zone]");
  if (tz && (tz.value === "" || tz.value === "UTC") && window.Intl) {
    try {
      var detected = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (detected) tz.value = detected;
    } catch (e) { /* keep the default */ }
  }

  // Show the weekday only for weekly emails.
  var weekly = document.querySelector("[data-weekly-only]");
  var radios = document.querySelectorAll("input[name=frequency]");
  function syncWeekday() {
    var checked = document.querySelector("input[name=frequency]:checked");
    if (weekly) weekly.hidden = !(checked && checked.value === "weekly");
  }
  radios.forEach(function (radio) { radio.addEventListener("change", syncWeekday); });
  syncWeekday();

  // Live preview: "today this would have found N papers, for example ...".
  var typed = document.querySelector("textarea[data-preview-url]");
  var out = document.getElementById("topic-preview");
  if (!typed || !out || !window.fetch) return;
  var boxes = document.querySelectorAll("input[name=topics]");
  var timer = null;
  var latest = 0;

  function render(data) {
    out.hidden = false;
    out.textContent = "";
    if (data.errors && data.errors.length) {
      data.errors.forEach(function (problem) {
        var p = document.createElement("span");
        p.className = "preview-error";
        p.textContent = "Line " + problem.line + ": " + problem.error + " ";
        out.appendChild(p);
      });
    }
    if (data.day === null) { out.appendChild(document.createTextNode("No papers fetched yet.")); return; }
    var text = "Today this would have found " + data.count + " paper" + (data.count === 1 ? "" : "s");
    out.appendChild(document.createTextNode(data.count ? text + ", for example:" : text + "."));
    if (data.examples && data.examples.length) {
      var list = document.createElement("ul");
      data.examples.forEach(function (title, number) {
        var item = document.createElement("li");
        item.textContent = title;  // text, never HTML: titles come from feeds
        var why = data.why && data.why[number];
        if (why) {
          var reason = document.createElement("small");
          reason.className = "preview-why";
          reason.textContent = " (" + why + ")";
          item.appendChild(reason);
        }
        list.appendChild(item);
      });
      out.appendChild(list);
    }
  }

  function update() {
    var params = new URLSearchParams();
    params.set("q", typed.value);
    boxes.forEach(function (box) { if (box.checked) params.append("topic", box.value); });
    if (!typed.value.trim() && !params.getAll("topic").length) { out.hidden = true; return; }
    var ticket = ++latest;
    fetch(typed.dataset.previewUrl + "?" + params.toString(), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && ticket === latest) render(data); })
      .catch(function () { /* the preview is a nicety; the form still works */ });
  }

  function schedule() { clearTimeout(timer); timer = setTimeout(update, 350); }
  typed.addEventListener("input", schedule);
  boxes.forEach(function (box) { box.addEventListener("change", schedule); });
  if (typed.value.trim() || document.querySelector("input[name=topics]:checked")) schedule();
})();
