// Small behaviours that HTML and htmx cannot express alone. No framework, no build step.
(function () {
  "use strict";

  // A phone's account menu closes when the person taps elsewhere.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.user-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  // After htmx swaps in a form, focus its first invalid field, or its autofocus field
  // (the autofocus attribute only works on page load).
  document.addEventListener("htmx:afterSettle", function () {
    var field = document.querySelector("form [aria-invalid='true']") || document.querySelector("form.editor [autofocus]");
    if (field) field.focus();
  });

  // Plain (non-htmx) forms ask before destructive actions: <form data-confirm="Are you sure?">.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // A network failure during an htmx request must not pass silently.
  document.addEventListener("htmx:sendError", function () {
    document.body.classList.add("is-offline");
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) document.body.classList.remove("is-offline");
  });
})();
