// Draws a process diagram with the bpmn-js viewer (vendor/bpmn-js, from npm) into each
// .diagram box: the BPMN comes from data-bpmn-url, the case's steps from data-current
// and data-finished (element ids). The box stays hidden unless drawing succeeds, so the
// page's text list of steps is what remains without script or without the viewer.
//
// The drawing is laid out at a chosen scale inside a scrolling box: a phone scrolls it
// with a finger (the viewer itself takes no touch or wheel events) and zooms with the
// buttons, which keep the step in progress in view.
(function () {
  "use strict";
  var Viewer = window.BpmnJS;
  if (typeof Viewer !== "function" || !window.fetch) return;

  var PAD = 30; // diagram units around the drawing
  // Zoom steps: from the whole picture, one press makes the labels readable on a phone.
  var LEVELS = [0.35, 0.5, 0.7, 1, 1.4, 2];
  var MAX_SCALE = LEVELS[LEVELS.length - 1];

  function ids(box, name) {
    return (box.getAttribute(name) || "").split(/\s+/).filter(Boolean);
  }

  function badge(text, className) {
    var span = document.createElement("span");
    span.className = "step-badge " + className;
    span.textContent = text;
    return span;
  }

  function mark(viewer, box) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    var done = box.getAttribute("data-label-done") || "";
    var now = box.getAttribute("data-label-current") || "";
    var current = [];
    ids(box, "data-finished").forEach(function (id) {
      var element = registry.get(id);
      if (!element) return;
      canvas.addMarker(id, "step-done");
      if (!/Gateway$/.test(element.type)) {
        var check = badge("\u2713", "step-badge-done");
        check.title = done;
        overlays.add(id, { position: { bottom: 4, right: 4 }, html: check });
      }
    });
    ids(box, "data-current").forEach(function (id) {
      var element = registry.get(id);
      if (!element) return;
      canvas.addMarker(id, "step-current");
      overlays.add(id, { position: { top: -30, left: -4 }, html: badge(now, "step-badge-current") });
      current.push(element);
    });
    return current;
  }

  function Layout(viewer, box, focus) {
    this.canvas = viewer.get("canvas");
    this.scroller = box.querySelector(".diagram-scroll");
    this.sheet = box.querySelector(".diagram-canvas");
    this.focus = focus;
    var inner = this.canvas.viewbox().inner;
    this.area = {
      x: inner.x - PAD,
      y: inner.y - PAD,
      width: inner.width + 2 * PAD,
      height: inner.height + 2 * PAD,
    };
    this.scale = 1;
  }

  Layout.prototype.fitScale = function () {
    var width = this.scroller.clientWidth || this.area.width;
    return Math.min(1, width / this.area.width);
  };

  // Size the sheet to the drawing at ``scale`` and show all of it there.
  Layout.prototype.apply = function (scale) {
    this.scale = Math.max(this.fitScale(), Math.min(MAX_SCALE, scale));
    this.sheet.style.width = Math.ceil(this.area.width * this.scale) + "px";
    this.sheet.style.height = Math.ceil(this.area.height * this.scale) + "px";
    this.canvas.resized();
    this.canvas.viewbox(this.area);
  };

  Layout.prototype.centre = function (x, y) {
    this.scroller.scrollLeft = (x - this.area.x) * this.scale - this.scroller.clientWidth / 2;
    this.scroller.scrollTop = (y - this.area.y) * this.scale - this.scroller.clientHeight / 2;
  };

  Layout.prototype.zoom = function (how) {
    var s = this.scroller;
    var atFit = this.scale <= this.fitScale() + 0.001;
    var x, y;
    if (atFit && this.focus) {
      // From the whole picture, zoom in on the step in progress.
      x = this.focus.x + this.focus.width / 2;
      y = this.focus.y + this.focus.height / 2;
    } else {
      x = this.area.x + (s.scrollLeft + s.clientWidth / 2) / this.scale;
      y = this.area.y + (s.scrollTop + s.clientHeight / 2) / this.scale;
    }
    if (how === "fit") {
      this.apply(0);
      s.scrollLeft = 0;
      s.scrollTop = 0;
      return;
    }
    var scale = this.scale;
    var next = how === "in"
      ? LEVELS.filter(function (level) { return level > scale + 0.01; })[0] || MAX_SCALE
      : LEVELS.filter(function (level) { return level < scale - 0.01; }).pop() || 0;
    this.apply(next);
    this.centre(x, y);
  };

  function draw(box) {
    if (box.getAttribute("data-drawn")) return;
    box.setAttribute("data-drawn", "1");
    var viewer = new Viewer({ container: box.querySelector(".diagram-canvas") });
    box.hidden = false; // the viewer measures its container while importing
    fetch(box.getAttribute("data-bpmn-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/xml" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("diagram " + response.status);
        return response.text();
      })
      .then(function (xml) {
        return viewer.importXML(xml);
      })
      .then(function () {
        var current = mark(viewer, box);
        var layout = new Layout(viewer, box, current[0]);
        layout.apply(0);
        box.querySelectorAll("[data-zoom]").forEach(function (button) {
          button.addEventListener("click", function () {
            layout.zoom(button.getAttribute("data-zoom"));
          });
        });
        var resizing;
        window.addEventListener("resize", function () {
          clearTimeout(resizing);
          resizing = setTimeout(function () {
            layout.apply(layout.scale);
          }, 150);
        });
        box.classList.add("diagram-ready");
      })
      .catch(function () {
        box.hidden = true; // the list of steps above still says it all
        viewer.destroy();
      });
  }

  document.querySelectorAll(".diagram[data-bpmn-url]").forEach(function (box) {
    var details = box.closest("details");
    if (details && !details.open) {
      details.addEventListener("toggle", function () {
        if (details.open) draw(box);
      });
    } else {
      draw(box);
    }
  });
})();
