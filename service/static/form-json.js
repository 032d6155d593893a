// The draft editor's form JSON: checked on the server as the designer types (nothing
// is stored until the form is saved), the findings shown under the text box. Without
// script the server checks the form when it is saved and shows the same findings.
(function () {
  "use strict";
  if (!window.fetch) return;
  var DELAY = 400; // ms of quiet typing before a check

  function setup(form) {
    var text = form.querySelector("textarea.form-json-text");
    var list = form.querySelector("ul.json-findings");
    var url = form.getAttribute("data-check-url");
    if (!text || !list || !url) return null;
    var timer = null;
    var asked = 0; // only the newest check's answer is shown
    var submitting = false;
    // The form's id is the last part of the address it is saved to.
    var formId = decodeURIComponent((form.getAttribute("action") || "").split("/").pop() || "");

    function render(findings) {
      list.textContent = "";
      if (!findings.length) {
        var ok = document.createElement("li");
        ok.className = "json-valid";
        ok.textContent = form.getAttribute("data-label-valid") || "";
        list.appendChild(ok);
        text.setAttribute("aria-invalid", "false");
        return;
      }
      findings.forEach(function (finding) {
        var item = document.createElement("li");
        var element = finding.element;
        // The form's own id says nothing new here; a field name does.
        if (element && element !== formId) {
          var code = document.createElement("code");
          code.textContent = element;
          item.appendChild(code);
          item.appendChild(document.createTextNode(": "));
        }
        item.appendChild(document.createTextNode(String(finding.message || "")));
        list.appendChild(item);
      });
      text.setAttribute("aria-invalid", "true");
    }

    function check() {
      var mine = ++asked;
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": form.getAttribute("data-csrf") || "",
        },
        body: JSON.stringify({ text: text.value }),
      })
        .then(function (response) {
          if (!response.ok) throw new Error("check " + response.status);
          return response.json();
        })
        .then(function (body) {
          if (mine !== asked) return; // a newer check is on its way
          render(body && Array.isArray(body.findings) ? body.findings : []);
        })
        .catch(function () {
          // The check is a convenience: saving the form checks it again.
        });
    }

    text.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, DELAY);
    });
    form.addEventListener("submit", function () {
      submitting = true;
    });
    return {
      unsaved: function () {
        return !submitting && text.value !== text.defaultValue;
      },
    };
  }

  var editors = [];
  document.querySelectorAll("form.form-json").forEach(function (form) {
    var editor = setup(form);
    if (editor) editors.push(editor);
  });
  if (!editors.length) return;
  window.addEventListener("beforeunload", function (event) {
    var unsaved = editors.some(function (editor) {
      return editor.unsaved();
    });
    if (!unsaved) return undefined;
    event.preventDefault();
    event.returnValue = "";
    return "";
  });
})();
