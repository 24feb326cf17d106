// The post form's live X counter. The figures come from the desk's server (/posts/count), which counts
// exactly as its own check before submission does: there is no second way of counting here. Without this
// script the form works the same, and the server still checks every text when it is saved.
(function () {
  "use strict";
  var form = document.querySelector("form.post-form[data-count-url]");
  if (!form || !window.fetch) { return; }
  var url = form.getAttribute("data-count-url");
  var tokenInput = form.querySelector("input[name=csrf_token]");
  var link = form.elements.namedItem("link");
  var body = form.elements.namedItem("body");
  var WAIT_MS = 300;

  function xChannels() {
    return Array.prototype.filter.call(form.querySelectorAll(".channel-choice[data-platform=x]"), function (div) {
      var box = div.querySelector("input[name=channels]");
      return box && box.checked;
    });
  }

  function ownText(div) {
    return form.elements.namedItem("target-" + div.getAttribute("data-channel") + "-text");
  }

  function show(counter, figures) {
    counter.querySelector(".figure").textContent = figures.label;
    counter.classList.toggle("over", figures.weighted > figures.limit);
    counter.title = figures.weighted > figures.limit
      ? "Over X's limit by " + figures.over_by + ": shorten it before submitting."
      : "As X counts it: a link counts 23, an emoji 2, a Chinese, Japanese or Korean character 2.";
    counter.hidden = false;
  }

  function count(counter, text) {
    var data = new URLSearchParams();
    data.set("platform", "x");
    data.set("text", text);
    data.set("link", link ? link.value : "");
    fetch(url, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": tokenInput ? tokenInput.value : "", "Accept": "application/json" }
    }).then(function (resp) {
      if (!resp.ok) { throw new Error(resp.status); }
      return resp.json();
    }).then(function (figures) { show(counter, figures); })
      .catch(function () { counter.hidden = true; });  // no figure rather than a wrong one
  }

  // What each counter counts now: a channel's own text, or the body for X channels without one.
  function refresh(counter) {
    var source = counter.getAttribute("data-count-source");
    if (source === "body") {
      var usesBody = xChannels().some(function (div) { var t = ownText(div); return !t || !t.value.trim(); });
      if (!usesBody) { counter.hidden = true; return; }
      count(counter, body ? body.value : "");
      return;
    }
    var field = form.elements.namedItem(source);
    if (!field || !field.value.trim()) { counter.hidden = true; return; }
    count(counter, field.value);
  }

  var timers = {};
  function later(counter) {
    var key = counter.getAttribute("data-count-source");
    clearTimeout(timers[key]);
    timers[key] = setTimeout(function () { refresh(counter); }, WAIT_MS);
  }

  var counters = form.querySelectorAll(".x-count[data-count-source]");
  function all() { Array.prototype.forEach.call(counters, later); }
  var bodyCounter = form.querySelector(".x-count[data-count-source=body]");

  Array.prototype.forEach.call(counters, function (counter) {
    var source = form.elements.namedItem(counter.getAttribute("data-count-source"));
    if (source && source !== body) {
      // A channel's own text also decides whether the body counter is needed.
      source.addEventListener("input", function () { later(counter); if (bodyCounter) { later(bodyCounter); } });
    }
  });
  if (body && bodyCounter) { body.addEventListener("input", function () { later(bodyCounter); }); }
  if (link) { link.addEventListener("input", all); }
  Array.prototype.forEach.call(form.querySelectorAll("input[name=channels]"), function (box) {
    box.addEventListener("change", all);
  });
  all();
})();
