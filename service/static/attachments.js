// Progressive enhancement for adding a file to a case: a file over the limit is
// refused at once, before minutes of uploading on a phone. The server checks
// again (and checks the type by content) whether or not this runs.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var message = document.getElementById(input.getAttribute("data-too-large"));
    var group = input.closest(".form-group");
    if (!input.form || !message || !max) return;
    function tooLarge() {
      var file = input.files && input.files[0];
      return Boolean(file && file.size > max);
    }
    function show(on) {
      message.hidden = !on;
      if (group) group.classList.toggle("form-group-error", on);
    }
    input.addEventListener("change", function () { show(tooLarge()); });
    input.form.addEventListener("submit", function (event) {
      if (tooLarge()) {
        event.preventDefault();
        show(true);
        input.focus();
      }
    });
  });
})();
