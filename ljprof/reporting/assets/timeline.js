/*
 * ljprof's timeline chart: the run's time series in panels stacked on one
 * shared time axis, in plain JavaScript and SVG.
 *
 * Why our own chart and not a library: the page must open from a downloaded
 * GitHub Actions artifact with no network (no CDN), and stay under 5 MB for a
 * 10-minute run sampled every 100 ms; plotly's bundle alone is 3.5-4.6 MB.
 * This file draws only what ljprof needs:
 *   - panels (memory, allocation, events, objects) on one time axis;
 *   - hover: a crosshair on every panel, and the value of every shown series
 *     at that time;
 *   - drag: zoom every panel to the selected time range; double-click (or
 *     "reset zoom"): the whole run again;
 *   - legend entries show and hide their series (the y axis fits what is shown);
 *   - marks (ljprof.mark) as labelled vertical lines on every panel, and
 *     profilers switched on as shaded bands.
 *
 * Its data is the JSON in the script element #timeline-data (chart_data in
 * ljprof/reporting/timeline.py): {t0, t1, samples, panels: [{name, title,
 * unit, series: [{label, unit, points, t: [...], v: [...]}]}], marks: [{t,
 * label}], bands: [{t0, t1, label}]}. Series are already decimated (min and
 * max per bucket) to about 2,000 points each.
 */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#6e7781"];
  var PANEL_H = 150;
  var AXIS_H = 26;
  var M = { l: 72, r: 14, t: 16, b: 4 };
  var DRAG_MIN_PX = 4;

  function svg(name, attrs, parent) {
    var node = document.createElementNS(SVGNS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function html(name, cls, parent, text) {
    var node = document.createElement(name);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    if (parent) { parent.appendChild(node); }
    return node;
  }

  function thousands(n) {
    var s = Math.abs(n).toString().split(".");
    s[0] = s[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (n < 0 ? "-" : "") + s.join(".");
  }

  function round(v, digits) {
    var f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  // A value with its unit, as the reports write it (ljprof/reporting/units.py).
  function fmt(v, unit) {
    if (v === null || v === undefined || !isFinite(v)) { return "–"; }
    var a = Math.abs(v);
    if (unit === "KB" || unit === "KB/s") {
      var per = unit === "KB/s" ? "/s" : "";
      if (a >= 10000 * 1024) { return thousands(round(v / 1048576, 1)) + " GB" + per; }
      if (a >= 10000) { return thousands(round(v / 1024, 1)) + " MB" + per; }
      return thousands(Math.round(v)) + " KB" + per;
    }
    var text = a >= 1000 || v === Math.round(v) ? thousands(Math.round(v)) : thousands(round(v, a < 10 ? 2 : 1));
    return text + (unit ? " " + unit : "");
  }

  // Short numbers for an axis: 8.3M, 450k, 12.5.
  function fmtAxis(v, step) {
    var a = Math.abs(v);
    if (a >= 1e6) { return round(v / 1e6, step >= 1e6 ? 0 : 2) + "M"; }
    if (a >= 1e4) { return round(v / 1e3, step >= 1e3 ? 0 : 1) + "k"; }
    var digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
    return thousands(round(v, digits));
  }

  function fmtTime(t, step) {
    var digits = step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step) - 1e-9));
    return round(t, digits).toFixed(digits) + " s";
  }

  // About n ticks between lo and hi at 1, 2 or 5 times a power of ten.
  function ticks(lo, hi, n) {
    var span = hi - lo;
    if (!(span > 0)) { return { step: 1, values: [lo] }; }
    var raw = span / n;
    var pow = Math.pow(10, Math.floor(Math.log10(raw)));
    var ratio = raw / pow;  // 1..10: the nearest of 1, 2, 5, 10 (geometrically)
    var step = pow * (ratio >= 7.07 ? 10 : ratio >= 3.16 ? 5 : ratio >= 1.41 ? 2 : 1);
    var values = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) { values.push(round(v, 12)); }
    return { step: step, values: values };
  }

  // Index of the point nearest to t (t ascending).
  function nearest(ts, t) {
    var lo = 0, hi = ts.length - 1;
    if (hi < 0) { return -1; }
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (ts[mid] < t) { lo = mid + 1; } else { hi = mid; }
    }
    if (lo > 0 && Math.abs(ts[lo - 1] - t) <= Math.abs(ts[lo] - t)) { return lo - 1; }
    return lo;
  }

  function Chart(root, data) {
    this.root = root;
    this.data = data;
    var t0 = data.t0, t1 = data.t1;
    if (!(t1 > t0)) { t1 = t0 + 1; }
    this.full = [t0, t1];
    this.domain = [t0, t1];
    this.hidden = {};
    this.drag = null;
    this.panels = [];
    this.build();
  }

  Chart.prototype.build = function () {
    var self = this;
    this.root.textContent = "";
    this.root.classList.add("tl");
    var bar = html("div", "tl-bar", this.root);
    this.status = html("span", "tl-status", bar);
    this.reset = html("button", "tl-reset", bar, "reset zoom");
    this.reset.type = "button";
    this.reset.addEventListener("click", function () { self.zoom(self.full[0], self.full[1]); });
    this.data.panels.forEach(function (panel, p) {
      var box = html("div", "tl-panel", self.root);
      var head = html("div", "tl-head", box);
      var sized = panel.unit === "KB" || panel.unit === "KB/s";
      html("span", "tl-title", head, panel.title + (panel.unit && !sized ? " (" + panel.unit + ")" : ""));
      var legend = html("span", "tl-legend", head);
      panel.series.forEach(function (s, i) {
        var key = p + ":" + i;
        var item = html("button", "tl-key", legend);
        item.type = "button";
        item.title = "show or hide " + s.label;
        var swatch = html("span", "tl-swatch", item);
        swatch.style.background = COLORS[i % COLORS.length];
        html("span", "", item, s.label);
        item.addEventListener("click", function () {
          self.hidden[key] = !self.hidden[key];
          item.classList.toggle("off", !!self.hidden[key]);
          self.draw();
        });
      });
      var wrap = html("div", "tl-plot", box);
      var tip = html("div", "tl-tip", wrap);
      self.panels.push({ panel: panel, index: p, wrap: wrap, tip: tip, svg: null });
    });
    this.axisWrap = html("div", "tl-axis", this.root);
    this.draw();
    window.addEventListener("resize", function () {
      clearTimeout(self.resizing);
      self.resizing = setTimeout(function () { self.draw(); }, 100);
    });
    window.addEventListener("mouseup", function (e) { self.endDrag(e); });
  };

  Chart.prototype.width = function () {
    return Math.max(320, this.root.clientWidth || 800);
  };

  Chart.prototype.x = function (t) {
    var w = this.width() - M.l - M.r;
    return M.l + (t - this.domain[0]) / (this.domain[1] - this.domain[0]) * w;
  };

  Chart.prototype.t = function (x) {
    var w = this.width() - M.l - M.r;
    return this.domain[0] + (x - M.l) / w * (this.domain[1] - this.domain[0]);
  };

  Chart.prototype.zoom = function (a, b) {
    var lo = Math.max(this.full[0], Math.min(a, b)), hi = Math.min(this.full[1], Math.max(a, b));
    if (!(hi > lo)) { return; }
    this.domain = [lo, hi];
    this.draw();
  };

  Chart.prototype.visible = function (p, i) { return !this.hidden[p + ":" + i]; };

  // The y range of a panel's shown series within the time domain.
  Chart.prototype.yRange = function (entry) {
    var lo = Infinity, hi = -Infinity, self = this;
    entry.panel.series.forEach(function (s, i) {
      if (!self.visible(entry.index, i)) { return; }
      for (var k = 0; k < s.t.length; k++) {
        if (s.t[k] < self.domain[0] || s.t[k] > self.domain[1]) { continue; }
        if (s.v[k] < lo) { lo = s.v[k]; }
        if (s.v[k] > hi) { hi = s.v[k]; }
      }
    });
    if (lo === Infinity) { return [0, 1]; }
    if (hi === lo) { var pad = Math.abs(lo) * 0.1 || 1; return [lo - pad, hi + pad]; }
    var margin = (hi - lo) * 0.06;
    return [lo >= 0 && lo - margin < 0 ? 0 : lo - margin, hi + margin];
  };

  Chart.prototype.draw = function () {
    var self = this, width = this.width();
    var zoomed = this.domain[0] > this.full[0] || this.domain[1] < this.full[1];
    this.reset.style.visibility = zoomed ? "visible" : "hidden";
    this.status.textContent = zoomed
      ? "showing " + fmtTime(this.domain[0], 0.01) + " to " + fmtTime(this.domain[1], 0.01)
      : "drag across a panel to zoom, double-click to reset; click a legend entry to show or hide its series";
    var xt = ticks(this.domain[0], this.domain[1], Math.max(3, Math.floor(width / 110)));
    this.panels.forEach(function (entry) { self.drawPanel(entry, width, xt); });
    this.drawAxis(width, xt);
  };

  Chart.prototype.drawPanel = function (entry, width, xt) {
    var self = this, p = entry.index, h = PANEL_H;
    var top = M.t, bottom = h - M.b, left = M.l, right = width - M.r;
    if (entry.svg) { entry.wrap.removeChild(entry.svg); }
    var root = svg("svg", { width: width, height: h, "class": "tl-svg", role: "img",
      "aria-label": entry.panel.title + " over time" });
    entry.wrap.insertBefore(root, entry.tip);
    entry.svg = root;
    var clipId = "tl-clip-" + p;
    var clip = svg("clipPath", { id: clipId }, svg("defs", {}, root));
    svg("rect", { x: left, y: top, width: right - left, height: bottom - top }, clip);
    var yr = this.yRange(entry);
    var y = function (v) { return bottom - (v - yr[0]) / (yr[1] - yr[0]) * (bottom - top); };
    // profilers switched on: shaded bands, labelled on the first panel
    this.data.bands.forEach(function (b, k) {
      var a = Math.max(left, self.x(b.t0)), z = Math.min(right, self.x(b.t1));
      if (z <= a) { return; }
      svg("rect", { x: a, y: top, width: z - a, height: bottom - top, "class": "tl-band tl-band-" + (k % 3) }, root);
      if (p === 0) {
        svg("text", { x: a + 4, y: top + 11, "class": "tl-band-label" }, root).textContent = b.label + " on";
      }
    });
    // sizes get their unit on the axis (KB, or MB from 10,000 KB on); other panels say theirs in the title
    var sized = entry.panel.unit === "KB" || entry.panel.unit === "KB/s";
    var per = entry.panel.unit === "KB/s" ? "/s" : "";
    var scale = sized && Math.max(Math.abs(yr[0]), Math.abs(yr[1])) >= 10000 ? 1024 : 1;
    var yt = ticks(yr[0] / scale, yr[1] / scale, 4);
    yt.values.forEach(function (u) {
      var yy = y(u * scale);
      if (yy < top - 0.5 || yy > bottom + 0.5) { return; }
      svg("line", { x1: left, x2: right, y1: yy, y2: yy, "class": "tl-grid" }, root);
      var text = sized ? thousands(round(u, yt.step >= 1 ? 0 : 1)) + (scale > 1 ? " MB" : " KB") + per
                       : fmtAxis(u, yt.step);
      svg("text", { x: left - 6, y: yy + 4, "class": "tl-ylabel" }, root).textContent = text;
    });
    xt.values.forEach(function (t) {
      var xx = self.x(t);
      svg("line", { x1: xx, x2: xx, y1: top, y2: bottom, "class": "tl-grid" }, root);
    });
    svg("rect", { x: left, y: top, width: right - left, height: bottom - top, "class": "tl-frame" }, root);
    var lines = svg("g", { "clip-path": "url(#" + clipId + ")" }, root);
    entry.panel.series.forEach(function (s, i) {
      if (!self.visible(p, i) || s.t.length === 0) { return; }
      var d = [], first = 0, last = s.t.length - 1;
      while (first < last && s.t[first + 1] < self.domain[0]) { first++; }
      while (last > first && s.t[last - 1] > self.domain[1]) { last--; }
      for (var k = first; k <= last; k++) {
        d.push((d.length ? "L" : "M") + self.x(s.t[k]).toFixed(1) + " " + y(s.v[k]).toFixed(1));
      }
      var color = COLORS[i % COLORS.length];
      if (s.t.length === 1) {
        svg("circle", { cx: self.x(s.t[0]), cy: y(s.v[0]), r: 3, fill: color }, lines);
      } else {
        svg("path", { d: d.join(""), stroke: color, "class": "tl-line" }, lines);
      }
    });
    // marks: labelled vertical lines on every panel
    this.data.marks.forEach(function (m) {
      var xx = self.x(m.t);
      if (xx < left - 0.5 || xx > right + 0.5) { return; }
      svg("line", { x1: xx, x2: xx, y1: top - 4, y2: bottom, "class": "tl-mark" }, root);
      var label = svg("text", { x: Math.min(xx + 3, right - 4), y: top - 4, "class": "tl-mark-label" }, root);
      label.textContent = m.label;
      if (xx + 3 > right - 80) { label.setAttribute("text-anchor", "end"); label.setAttribute("x", xx - 3); }
    });
    entry.cross = svg("line", { x1: 0, x2: 0, y1: top, y2: bottom, "class": "tl-cross", visibility: "hidden" }, root);
    entry.sel = svg("rect", { x: 0, y: top, width: 0, height: bottom - top, "class": "tl-sel",
      visibility: "hidden" }, root);
    var overlay = svg("rect", { x: left, y: top, width: right - left, height: bottom - top,
      "class": "tl-overlay" }, root);
    overlay.addEventListener("mousemove", function (e) { self.hover(e, root); });
    overlay.addEventListener("mouseleave", function () { if (!self.drag) { self.unhover(); } });
    overlay.addEventListener("mousedown", function (e) {
      if (e.button !== 0) { return; }
      e.preventDefault();
      self.drag = { x: self.localX(e, root) };
    });
    overlay.addEventListener("dblclick", function () { self.zoom(self.full[0], self.full[1]); });
  };

  Chart.prototype.drawAxis = function (width, xt) {
    var self = this;
    this.axisWrap.textContent = "";
    var root = svg("svg", { width: width, height: AXIS_H, "class": "tl-svg" }, this.axisWrap);
    xt.values.forEach(function (t) {
      var xx = self.x(t);
      svg("line", { x1: xx, x2: xx, y1: 0, y2: 5, "class": "tl-tick" }, root);
      svg("text", { x: xx, y: 17, "class": "tl-xlabel" }, root).textContent = fmtTime(t, xt.step);
    });
  };

  Chart.prototype.localX = function (e, root) {
    var box = root.getBoundingClientRect();
    return Math.max(M.l, Math.min(this.width() - M.r, e.clientX - box.left));
  };

  Chart.prototype.hover = function (e, root) {
    var self = this, x = this.localX(e, root), t = this.t(x), width = this.width();
    this.panels.forEach(function (entry) {
      entry.cross.setAttribute("x1", x);
      entry.cross.setAttribute("x2", x);
      entry.cross.setAttribute("visibility", "visible");
      if (self.drag) {
        entry.sel.setAttribute("x", Math.min(self.drag.x, x));
        entry.sel.setAttribute("width", Math.abs(x - self.drag.x));
        entry.sel.setAttribute("visibility", "visible");
      }
      var tip = entry.tip;
      tip.textContent = "";
      html("div", "tl-tip-t", tip, fmtTime(t, (self.domain[1] - self.domain[0]) / 1000));
      entry.panel.series.forEach(function (s, i) {
        if (!self.visible(entry.index, i)) { return; }
        var k = nearest(s.t, t);
        var row = html("div", "tl-tip-row", tip);
        html("span", "tl-swatch", row).style.background = COLORS[i % COLORS.length];
        html("span", "", row, s.label + ": ");
        html("b", "", row, k < 0 ? "–" : fmt(s.v[k], s.unit));
      });
      tip.style.display = "block";
      var w = tip.offsetWidth;
      tip.style.left = (x + 12 + w > width - M.r ? x - 12 - w : x + 12) + "px";
    });
  };

  Chart.prototype.unhover = function () {
    this.panels.forEach(function (entry) {
      entry.cross.setAttribute("visibility", "hidden");
      entry.tip.style.display = "none";
    });
  };

  Chart.prototype.endDrag = function (e) {
    if (!this.drag) { return; }
    var start = this.drag.x, root = this.panels[0].svg;
    this.drag = null;
    this.panels.forEach(function (entry) { entry.sel.setAttribute("visibility", "hidden"); });
    var x = this.localX(e, root);
    if (Math.abs(x - start) >= DRAG_MIN_PX) {
      this.zoom(this.t(Math.min(start, x)), this.t(Math.max(start, x)));
    }
  };

  function start() {
    var source = document.getElementById("timeline-data");
    var root = document.getElementById("timeline");
    if (!source || !root) { return; }
    var data = JSON.parse(source.textContent);
    if (!data.panels.length || data.samples < 2) {
      root.textContent = "too short to plot: " + data.samples + " sample" + (data.samples === 1 ? "" : "s");
      return;
    }
    window.ljprofTimeline = new Chart(root, data);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
