// Quick period choices fill the two dates in place (the links also work without script:
// they reload the form with the dates filled in, losing nothing typed in an empty form).
(function () {
  const form = document.querySelector("form.shift-start");
  if (!form) return;
  form.addEventListener("click", function (event) {
    const link = event.target.closest("a.quick");
    if (!link) return;
    event.preventDefault();
    document.getElementById("id_start").value = link.dataset.start;
    document.getElementById("id_end").value = link.dataset.end;
    form.querySelectorAll("a.quick").forEach((a) => a.classList.toggle("chosen", a === link));
  });
})();
