// "Select all on version N": ticks or clears every case checkbox of that version.
document.querySelectorAll("input.select-all").forEach(function (box) {
  box.addEventListener("change", function () {
    var group = box.getAttribute("data-group");
    document.querySelectorAll('input[name="case"][data-group="' + group + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });
});
