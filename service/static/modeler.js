// The draft editor's BPMN modeler (bpmn-js Modeler from npm, vendor/bpmn-js). The
// section #modeler stays hidden unless the modeler loads and imports the draft's
// diagram: without script, or without the vendor files, the page's upload form is
// how a designer changes the diagram.
//
// Saving sends the diagram as JSON to data-save-url with the draft's lock version
// (optimistic locking: a stale page gets the server's 409 message, nothing is
// overwritten). The server validates what it stored and answers with findings; each
// names a BPMN element, which is outlined on the canvas and can be selected from the
// list.
(function () {
  "use strict";
  var Modeler = window.BpmnJS;
  var box = document.getElementById("modeler");
  if (!box || typeof Modeler !== "function" || !window.fetch) return;

  var MARKER = "has-finding";
  var GAP = 16; // screen pixels around the drawing
  var saveButton = document.getElementById("modeler-save");
  var status = document.getElementById("modeler-status");
  var list = document.getElementById("modeler-findings");
  var canvasBox = box.querySelector(".modeler-canvas");
  if (!saveButton || !status || !list || !canvasBox) return;

  function label(name) {
    return box.getAttribute("data-label-" + name) || "";
  }

  var modeler = new Modeler({ container: canvasBox });
  var changes = 0; // commands done or undone since the page loaded
  var savedAt = 0; // the value of ``changes`` the server has
  var saving = false;
  var marked = [];
  var warnedUnsaved = false;

  function dirty() {
    return changes !== savedAt;
  }

  function say(text, kind) {
    status.textContent = text;
    status.className = kind ? "notice notice-" + kind : "";
  }

  function setLockVersion(value) {
    box.setAttribute("data-lock-version", String(value));
    // The page's other forms (upload, forms, scenarios) post the same draft's lock
    // version: after a save from here theirs would be stale and get a conflict.
    document.querySelectorAll('input[type="hidden"][name="lock_version"]').forEach(function (input) {
      input.value = String(value);
    });
  }

  function select(id) {
    var element = modeler.get("elementRegistry").get(id);
    if (!element) return;
    var canvas = modeler.get("canvas");
    canvasBox.scrollIntoView({ block: "nearest" });
    if (typeof canvas.scrollToElement === "function") canvas.scrollToElement(element);
    modeler.get("selection").select(element);
  }

  function mark(findings) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    marked.forEach(function (id) {
      if (registry.get(id)) canvas.removeMarker(id, MARKER);
    });
    marked = [];
    findings.forEach(function (finding) {
      var id = finding.element;
      if (id && registry.get(id) && marked.indexOf(id) === -1) {
        canvas.addMarker(id, MARKER);
        marked.push(id);
      }
    });
  }

  function show(findings) {
    var registry = modeler.get("elementRegistry");
    list.textContent = "";
    findings.forEach(function (finding) {
      var item = document.createElement("li");
      var id = finding.element;
      if (id) {
        var code = document.createElement("code");
        code.textContent = id;
        if (registry.get(id)) {
          // A button: it selects the element in the modeler, it goes nowhere.
          var button = document.createElement("button");
          button.type = "button";
          button.className = "link-button finding-element";
          button.setAttribute("data-element-id", id);
          button.appendChild(code);
          button.addEventListener("click", function () {
            select(id);
          });
          item.appendChild(button);
        } else {
          item.appendChild(code);
        }
        item.appendChild(document.createTextNode(": "));
      }
      item.appendChild(document.createTextNode(String(finding.message || "")));
      list.appendChild(item);
    });
    mark(findings);
  }

  // The page's "check before deployment" block was drawn when the page loaded; the
  // save's findings are the whole draft's, so they replace it.
  function summarise(findings) {
    var check = document.getElementById("draft-check");
    if (!check) return;
    check.textContent = "";
    var lead = document.createElement("p");
    if (!findings.length) {
      lead.id = "no-findings";
      lead.className = "notice notice-success";
      lead.textContent = check.getAttribute("data-label-valid") || "";
      check.appendChild(lead);
      return;
    }
    lead.textContent = (check.getAttribute("data-label-invalid") || "").replace("{n}", String(findings.length));
    var all = document.createElement("ul");
    all.id = "findings";
    all.className = "findings";
    findings.forEach(function (finding) {
      var item = document.createElement("li");
      if (finding.element) {
        var code = document.createElement("code");
        code.textContent = finding.element;
        item.appendChild(code);
        item.appendChild(document.createTextNode(": "));
      }
      item.appendChild(document.createTextNode(String(finding.message || "")));
      all.appendChild(item);
    });
    check.appendChild(lead);
    check.appendChild(all);
  }

  function readAnswer(response) {
    var type = response.headers.get("Content-Type") || "";
    if (type.indexOf("application/json") === -1) {
      // A sign-in page after a timed-out session, or a server error page.
      return { status: response.status, body: { error: "HTTP " + response.status } };
    }
    return response.json().then(function (body) {
      return { status: response.status, body: body || {} };
    });
  }

  function save() {
    if (saving) return;
    saving = true;
    saveButton.disabled = true;
    var generation = changes;
    modeler
      .saveXML({ format: true })
      .then(function (result) {
        return fetch(box.getAttribute("data-save-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: {
            "Content-Type": "application/json",
            Accept: "application/json",
            "X-CSRFToken": box.getAttribute("data-csrf") || "",
          },
          body: JSON.stringify({
            xml: result.xml,
            lock_version: parseInt(box.getAttribute("data-lock-version") || "", 10),
          }),
        });
      })
      .then(readAnswer)
      .then(function (answer) {
        var body = answer.body;
        if (answer.status !== 200 || !body.saved) {
          say(label("failed") + " " + (body.error || "HTTP " + answer.status), "error");
          return;
        }
        setLockVersion(body.lock_version);
        savedAt = generation;
        warnedUnsaved = false;
        var findings = Array.isArray(body.findings) ? body.findings : [];
        show(findings);
        summarise(findings);
        if (findings.length) {
          say(label("invalid"), "error");
        } else {
          say(label("saved") + " " + label("valid"), "success");
        }
      })
      .catch(function (error) {
        say(label("failed") + " " + (error && error.message ? error.message : String(error)), "error");
      })
      .then(function () {
        saving = false;
        saveButton.disabled = false;
      });
  }

  // The whole drawing in view, right of the tool palette: fitted to the full box,
  // the palette would cover the pool's and lanes' titles at its left edge.
  function fit() {
    var canvas = modeler.get("canvas");
    var inner = canvas.viewbox().inner;
    var palette = canvasBox.querySelector(".djs-palette");
    var left = (palette ? palette.offsetLeft + palette.offsetWidth : 0) + GAP;
    var width = canvasBox.clientWidth;
    var height = canvasBox.clientHeight;
    if (!inner.width || !inner.height || width <= left + GAP) {
      canvas.zoom("fit-viewport", "auto");
      return;
    }
    var scale = Math.min(1, (width - left - GAP) / inner.width, (height - 2 * GAP) / inner.height);
    canvas.viewbox({
      x: inner.x - left / scale,
      y: inner.y - GAP / scale,
      width: width / scale,
      height: height / scale,
    });
  }

  modeler.on("commandStack.changed", function () {
    changes += 1;
    if (!warnedUnsaved && dirty() && label("unsaved")) {
      warnedUnsaved = true;
      say(label("unsaved"), "info");
    }
  });

  saveButton.addEventListener("click", save);
  box.addEventListener("keydown", function (event) {
    // Ctrl+S / Cmd+S inside the modeler saves the draft, not the web page.
    if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
      event.preventDefault();
      save();
    }
  });
  window.addEventListener("beforeunload", function (event) {
    if (!dirty()) return undefined;
    event.preventDefault();
    event.returnValue = ""; // older browsers ask only when a value is set
    return "";
  });

  box.hidden = false; // the modeler measures its container while importing
  box.setAttribute("aria-busy", "true");
  fetch(box.getAttribute("data-bpmn-url"), {
    credentials: "same-origin",
    headers: { Accept: "application/xml" },
  })
    .then(function (response) {
      if (!response.ok) throw new Error("diagram " + response.status);
      return response.text();
    })
    .then(function (xml) {
      return modeler.importXML(xml);
    })
    .then(function () {
      fit();
      box.removeAttribute("aria-busy");
      box.classList.add("modeler-ready");
    })
    .catch(function () {
      // The upload form below still changes the diagram.
      box.hidden = true;
      box.removeAttribute("aria-busy");
      modeler.destroy();
    });
})();
