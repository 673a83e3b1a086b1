// Keyboard shortcuts: an element with data-key="x" is activated by pressing x outside a text field.
// A form is submitted when it has no visible fields to fill, otherwise its first field gets focus.
(function () {
  "use strict";
  function typing(target) {
    return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) >= 0;
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    if (event.key === "?") {
      var help = document.getElementById("keys-help");
      if (help) { help.hidden = !help.hidden; }
      return;
    }
    var element = document.querySelector('[data-key="' + CSS.escape(event.key) + '"]');
    if (!element) { return; }
    event.preventDefault();
    if (element.tagName === "A") { element.click(); return; }
    if (element.tagName === "FORM") {
      var details = element.closest("details");
      if (details) { details.open = true; }
      var field = element.querySelector("input:not([type=hidden]), select, textarea");
      if (field) { field.focus(); } else { element.requestSubmit(); }
    }
  });
})();
