// Progressive enhancement: hide questions that do not apply (show_if) while
// the person fills in the form. Without JavaScript every question shows and
// the server ignores answers to questions that did not apply.
(function () {
  "use strict";
  function currentValues(form, name) {
    var values = [];
    form.querySelectorAll('[name="' + name + '"]').forEach(function (el) {
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) return;
      if (el.value !== "") values.push(el.value);
    });
    return values;
  }
  function normalise(v) {
    if (v === "yes") return "true";
    if (v === "no") return "false";
    return v;
  }
  function update(form) {
    form.querySelectorAll("[data-show-if-field]").forEach(function (group) {
      var wanted = group.getAttribute("data-show-if-values").split("|").map(function (s) {
        try { return String(JSON.parse(s)); } catch (e) { return s; }
      });
      var have = currentValues(form, group.getAttribute("data-show-if-field")).map(normalise);
      var show = have.some(function (v) { return wanted.indexOf(v) !== -1; });
      group.hidden = !show;
    });
  }
  document.querySelectorAll("form.task-form").forEach(function (form) {
    update(form);
    form.addEventListener("change", function () { update(form); });
  });
  var summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
