// Rota's only script (static, so a strict Content-Security-Policy with script-src 'self' allows
// it). Everything here is an enhancement: every page works without it.
(function () {
  "use strict";

  // Filters submit as soon as a select changes (the Apply button stays for no-JS use).
  function autoSubmit(root) {
    root.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  }

  // "Copy" next to the calendar address.
  function copyButtons(root) {
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var input = document.getElementById(button.getAttribute("data-copy"));
        input.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard) {
          navigator.clipboard.writeText(input.value).then(done, function () {});
        } else {
          done();
        }
      });
    });
  }

  // Print buttons.
  function printButtons(root) {
    root.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  }

  // The swap builder: show the counterpart list of the chosen kind only.
  function swapBuilder(root) {
    var form = root.querySelector("form[data-swap-builder]");
    if (!form) { return; }
    function sync() {
      var checked = form.querySelector("input[name=kind]:checked");
      var kind = checked ? checked.value : "";
      form.querySelectorAll("[data-kind-section]").forEach(function (section) {
        section.hidden = section.getAttribute("data-kind-section") !== kind;
      });
    }
    form.querySelectorAll("input[name=kind]").forEach(function (input) {
      input.addEventListener("change", sync);
    });
    sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    autoSubmit(document);
    copyButtons(document);
    printButtons(document);
    swapBuilder(document);
  });
})();
