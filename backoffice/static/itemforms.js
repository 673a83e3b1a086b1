// Charge review: every edit of a claim line re-runs the real scrubber on the server (debounced) and shows its
// findings, the priced lines and the total. Nothing is saved until the biller presses a button.
(function () {
  "use strict";
  var form = document.getElementById("charge-form");
  if (!form || !form.dataset.scrubUrl) { return; }
  var FIELDS = ["cpt", "modifiers", "units", "pos", "pointers"];
  var timer = null;
  var sequence = 0;
  var findings = document.getElementById("scrub-findings");
  var problems = document.getElementById("scrub-problems");
  var status = document.getElementById("scrub-status");
  var total = document.getElementById("charge-total");

  function rows() {
    return Array.prototype.map.call(form.querySelectorAll("tr[data-line]"), function (tr) {
      var n = tr.dataset.line;
      var line = {};
      FIELDS.forEach(function (field) {
        var input = form.querySelector('[name="line-' + n + "-" + field + '"]');
        line[field] = input ? input.value : "";
      });
      return line;
    });
  }

  function item(text, className, tag) {
    var li = document.createElement("li");
    if (className) { li.className = className; }
    if (tag) {
      var badge = document.createElement("span");
      badge.className = "tag" + (tag === "error" ? " warn" : "");
      badge.textContent = tag;
      li.appendChild(badge);
      li.appendChild(document.createTextNode(" "));
    }
    li.appendChild(document.createTextNode(text));
    return li;
  }

  function show(data) {
    findings.replaceChildren();
    data.findings.forEach(function (f) {
      var li = item("", f.severity, f.severity);
      var code = document.createElement("code");
      code.textContent = f.rule;
      li.appendChild(code);
      li.appendChild(document.createTextNode(" " + f.message));
      findings.appendChild(li);
    });
    if (!data.findings.length) { findings.appendChild(item("No findings: the claim is clean.", "clean")); }
    var charges = form.querySelectorAll("tr[data-line] td.charge");
    Array.prototype.forEach.call(charges, function (cell, index) {
      cell.textContent = data.lines[index] ? data.lines[index].charge : "";
    });
    total.textContent = data.total;
    status.textContent = data.errors + " error(s) · live";
    problems.hidden = true;
    problems.replaceChildren();
  }

  function refuse(messages) {
    problems.replaceChildren();
    messages.forEach(function (m) { problems.appendChild(item(m, "error", "fix")); });
    problems.hidden = false;
    status.textContent = "fix the lines to scrub them";
  }

  function scrub() {
    var mine = ++sequence;
    status.textContent = "scrubbing…";
    fetch(form.dataset.scrubUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": form.querySelector("[name=csrf_token]").value},
      body: JSON.stringify({lines: rows()})
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, data: data}; });
    }).then(function (answer) {
      if (mine !== sequence) { return; }  // a newer edit is on its way
      if (answer.ok) { show(answer.data); } else { refuse(answer.data.problems || ["the scrubber could not run"]); }
    }).catch(function () {
      if (mine === sequence) { status.textContent = "scrubber unreachable; save to scrub"; }
    });
  }

  form.addEventListener("input", function (event) {
    if (!event.target.name || event.target.name.indexOf("line-") !== 0) { return; }
    clearTimeout(timer);
    timer = setTimeout(scrub, 350);
  });
})();
