// Keyboard shortcuts: an element with data-key="x" is activated by pressing x outside a text field.
// A form is submitted when it has no visible fields to fill, otherwise its first field gets focus.
// Queue tables: j/k move the selection, Enter or o open the selected item, t takes and starts it, r releases it.
// On an item: t takes and starts it, r opens "Release to queue". g then n/q/b: get next, my queue, supervisor.
// Ctrl+Enter (or Cmd+Enter) in a form submits it with its primary button. ? shows the keys.
(function () {
  "use strict";
  var selected = -1;
  var prefix = null;

  function typing(target) {
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) >= 0;
  }

  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll("table.items tbody tr"), function (tr) {
      return tr.querySelector('a[href*="/items/"]');
    });
  }

  function select(index) {
    var all = rows();
    if (!all.length) { return false; }
    selected = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (tr, i) {
      tr.classList.toggle("selected", i === selected);
      tr.setAttribute("aria-selected", i === selected ? "true" : "false");
    });
    all[selected].scrollIntoView({block: "nearest"});
    return true;
  }

  function selectedLink() {
    var all = rows();
    return selected >= 0 && all[selected] ? all[selected].querySelector('a[href*="/items/"]') : null;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  function post(action) {
    var form = document.createElement("form");
    form.method = "post";
    form.action = action;
    var token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = csrfToken();
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
  }

  function openRelease() {
    var details = document.getElementById("reassign");
    if (!details) { return false; }
    details.open = true;
    var who = details.querySelector("select[name=assignee_id]");
    if (who) { who.value = "0"; }
    var reason = details.querySelector("input[name=reason]");
    if (reason) { reason.focus(); }
    return true;
  }

  function activate(element) {
    if (element.tagName === "A") { element.click(); return; }
    if (element.tagName === "FORM") {
      var details = element.closest("details");
      if (details) { details.open = true; }
      var field = element.querySelector("input:not([type=hidden]), select, textarea");
      if (field) { field.focus(); } else { element.requestSubmit(); }
    }
  }

  function submitWithPrimary(form) {
    var primary = form.querySelector("button.primary[type=submit]") || form.querySelector("button[type=submit]");
    if (primary) { form.requestSubmit(primary); } else { form.requestSubmit(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.location.hash === "#reassign") { openRelease(); }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = event.target.closest && event.target.closest("form");
      if (form) { event.preventDefault(); submitWithPrimary(form); }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "?") {
      var help = document.getElementById("keys-help");
      if (help) { help.hidden = !help.hidden; }
      return;
    }
    if (prefix === "g") {
      prefix = null;
      var target = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
      if (target) { event.preventDefault(); activate(target); }
      return;
    }
    if (event.key === "g") { prefix = "g"; setTimeout(function () { prefix = null; }, 1500); return; }
    if (event.key === "j" || event.key === "k") {
      if (select(selected < 0 ? 0 : selected + (event.key === "j" ? 1 : -1))) { event.preventDefault(); }
      return;
    }
    var link = selectedLink();
    if (link && (event.key === "o" || (event.key === "Enter" && ["A", "BUTTON"].indexOf(event.target.tagName) < 0))) {
      event.preventDefault();
      link.click();
      return;
    }
    if (event.key === "t") {
      var start = document.querySelector('form[action$="/start"]');
      if (link) { event.preventDefault(); post(link.getAttribute("href") + "/start"); return; }
      if (start) { event.preventDefault(); start.requestSubmit(); }
      return;
    }
    if (event.key === "r") {
      if (link) { event.preventDefault(); window.location.href = link.getAttribute("href") + "#reassign"; return; }
      if (openRelease()) { event.preventDefault(); }
      return;
    }
    var element = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
    if (!element) { return; }
    event.preventDefault();
    activate(element);
  });
})();
