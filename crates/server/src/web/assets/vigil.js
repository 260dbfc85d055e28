// Vigil's only script: conveniences on top of pages that work without it.
(function () {
  "use strict";
  // "Select all" checks every issue of the bulk form (delegated: live refresh replaces the box).
  document.addEventListener("change", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("[data-select-all]") || !box.form) { return; }
    var name = box.getAttribute("data-select-all");
    box.form.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });
  // Selectors marked data-autosubmit apply at once (without script, a button does).
  document.addEventListener("change", function (e) {
    var select = e.target;
    if (select.matches && select.matches("[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });
  // Destructive buttons ask first.
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (e) {
      if (!window.confirm(button.getAttribute("data-confirm"))) {
        e.preventDefault();
      }
    });
  });
  // Live refresh: a list marked data-live="<seconds>" is fetched again that often and swapped in,
  // unless the reader is using it (something checked, or focus inside it) or the tab is hidden.
  document.querySelectorAll("[data-live]").forEach(function (live) {
    var seconds = parseInt(live.getAttribute("data-live"), 10) || 30;
    setInterval(function () {
      if (document.hidden || live.contains(document.activeElement) ||
          live.querySelector("input[type=checkbox]:checked")) {
        return;
      }
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html || !live.id) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(live.id);
          if (fresh) { live.innerHTML = fresh.innerHTML; }
        })
        .catch(function () {});
    }, seconds * 1000);
  });
  // A page that refreshes itself (waiting for a first event) restarts doing so when the
  // browser brings it back from its back/forward cache, which stops the meta refresh.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted && document.querySelector('meta[http-equiv="refresh"]')) {
      window.location.reload();
    }
  });
  // "/" focuses the search bar, as in Sentry; "j" and "k" move through the issues of a list
  // (Enter opens the one in focus).
  document.addEventListener("keydown", function (e) {
    var search = document.getElementById("search");
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test((e.target && e.target.tagName) || "");
    if (typing || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "/" && search) {
      e.preventDefault();
      search.focus();
      search.select();
    } else if (e.key === "j" || e.key === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("a.title"));
      if (!links.length) { return; }
      var at = links.indexOf(document.activeElement);
      var next = e.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
      links[next].focus();
    }
  });
})();
