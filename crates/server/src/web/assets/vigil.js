// Vigil's only script: conveniences on top of pages that work without it.
(function () {
  "use strict";
  // "Select all" checks every issue of the bulk form.
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      var name = box.getAttribute("data-select-all");
      box.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
        c.checked = box.checked;
      });
    });
  });
  // Destructive buttons ask first.
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (e) {
      if (!window.confirm(button.getAttribute("data-confirm"))) {
        e.preventDefault();
      }
    });
  });
  // "/" focuses the search bar, as in Sentry.
  document.addEventListener("keydown", function (e) {
    var search = document.getElementById("search");
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || "");
    if (e.key === "/" && search && !typing) {
      e.preventDefault();
      search.focus();
      search.select();
    }
  });
})();
