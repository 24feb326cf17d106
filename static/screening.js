// Screens the text being typed in the post form, after a pause, and lists what the screening finds
// under it: the same rules and the chosen channels' policies as at submit. Text only, built with
// textContent, so nothing typed is ever run as HTML.
(function () {
  "use strict";
  var form = document.querySelector("form.post-form");
  if (!form) { return; }
  var token = form.querySelector("input[name=csrf_token]");

  function chosenChannels() {
    return Array.prototype.map.call(form.querySelectorAll("input[name=channels]:checked"), function (c) { return c.value; });
  }

  function show(box, findings) {
    box.textContent = "";
    if (!findings.length) { box.hidden = true; return; }
    var title = document.createElement("p");
    title.className = "findings-title";
    title.textContent = "The screening finds, as you type:";
    var list = document.createElement("ul");
    findings.forEach(function (f) {
      var item = document.createElement("li");
      item.className = "finding finding-" + f.severity;
      var head = document.createElement("strong");
      head.textContent = (f.severity === "block" ? "Blocks" : "Warning") + ": " + f.label;
      var words = document.createElement("mark");
      words.className = "finding-" + f.severity;
      words.textContent = f.matched;
      var why = document.createElement("span");
      why.className = "why";
      why.textContent = " " + f.why;
      item.append(head, " — ", words, ".", why);
      list.appendChild(item);
    });
    box.append(title, list);
    box.hidden = false;
  }

  function watch(box) {
    var field = form.querySelector("[name='" + box.dataset.screenSource + "']");
    if (!field) { return; }
    var timer = null;
    function check() {
      var data = new FormData();
      data.append("text", field.value);
      if (token) { data.append("csrf_token", token.value); }
      chosenChannels().forEach(function (id) { data.append("channel", id); });
      fetch(box.dataset.screenUrl, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (answer) { if (answer) { show(box, answer.findings); } })
        .catch(function () { /* the server screens again on save and submit */ });
    }
    field.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 600); });
  }

  Array.prototype.forEach.call(form.querySelectorAll("[data-screen-source]"), watch);
})();
