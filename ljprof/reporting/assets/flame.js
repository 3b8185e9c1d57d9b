// ljprof's flame graph (ljprof/reporting/flame.py writes the data): one canvas, no library.
// Data: frames (names), stacks ([count, frame index, ...] root first), source ({frame index: line}),
// top ([frame, self, total, self %, total %, source line]), samples, interval_ms.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("flame-data").textContent);
  var canvas = document.getElementById("flame"), tip = document.getElementById("flame-tip");
  var ctx = canvas.getContext("2d");
  var ROW = 18, FONT = "12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
  var STATE_COLORS = {"[interpreted]": "#f2b25c", "[compiled]": "#7cc47c", "[C]": "#8fb3de", "[GC]": "#e0736b",
    "[JIT compiler]": "#b493d6", "[trace exit]": "#d9a0c0", "[recording]": "#b493d6", "[optimizing]": "#b493d6",
    "[assembling]": "#b493d6", "[trace]": "#7cc47c"};
  var opts = {icicle: false, heavy: true, byfn: false, query: null};
  var root = null, zoom = null, boxes = [], hover = null;

  var LUA = /^(\S+?):(\d+)(?: (.*))?$/;
  function fnName(name) {  // flame.py's function_name: the frame without its line
    if (name.charAt(0) === "[" && STATE_COLORS[name]) return name;
    var m = LUA.exec(name);
    return m ? (m[3] ? m[1] + " " + m[3] : m[1]) : name;
  }

  function build() {
    var top = {name: "all", value: 0, children: new Map(), parent: null, depth: 0, src: ""};
    var maxDepth = 0;
    data.stacks.forEach(function (row) {
      var count = row[0], node = top;
      top.value += count;
      for (var i = 1; i < row.length; i++) {
        var name = data.frames[row[i]];
        if (opts.byfn) name = fnName(name);
        var child = node.children.get(name);
        if (!child) {
          child = {name: name, value: 0, children: new Map(), parent: node, depth: node.depth + 1,
                   src: opts.byfn ? "" : (data.source[row[i]] || "")};
          node.children.set(name, child);
        }
        child.value += count;
        node = child;
      }
      if (node.depth > maxDepth) maxDepth = node.depth;
    });
    top.maxDepth = maxDepth;
    root = top;
    zoom = root;
  }

  function ordered(node) {
    var kids = Array.from(node.children.values());
    if (opts.heavy) kids.sort(function (a, b) { return b.value - a.value || (a.name < b.name ? -1 : 1); });
    else kids.sort(function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; });
    return kids;
  }

  function matches(name) {
    var q = opts.query;
    if (!q) return false;
    return q instanceof RegExp ? q.test(name) : name.indexOf(q) >= 0;
  }

  function color(node) {
    if (opts.query && matches(node.name)) return "#e040fb";
    if (STATE_COLORS[node.name]) return STATE_COLORS[node.name];
    var h = 0;
    for (var i = 0; i < node.name.length; i++) h = (h * 31 + node.name.charCodeAt(i)) | 0;
    var r = 205 + (Math.abs(h) % 50), g = 80 + (Math.abs(h >> 8) % 120), b = 40 + (Math.abs(h >> 16) % 40);
    return opts.query ? "rgb(" + [r, g, b].map(function (c) { return Math.round(c * 0.35 + 160); }) + ")"
                      : "rgb(" + r + "," + g + "," + b + ")";
  }

  function layout(width) {
    boxes = [];
    // ancestors of the zoomed node: full width, dimmed
    var chain = [];
    for (var a = zoom; a; a = a.parent) chain.unshift(a);
    chain.forEach(function (n) { boxes.push({node: n, x: 0, w: width, depth: n.depth, dim: n !== zoom}); });
    var scale = width / zoom.value;
    (function walk(node, x) {
      ordered(node).forEach(function (child) {
        var w = child.value * scale;
        if (w >= 0.4) {
          boxes.push({node: child, x: x, w: w, depth: child.depth, dim: false});
          walk(child, x);
        }
        x += w;
      });
    })(zoom, 0);
  }

  function draw() {
    var width = canvas.parentNode.clientWidth, ratio = window.devicePixelRatio || 1;
    var height = (root.maxDepth + 1) * ROW + 2;
    canvas.width = width * ratio; canvas.height = height * ratio;
    canvas.style.width = width + "px"; canvas.style.height = height + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT; ctx.textBaseline = "middle";
    layout(width);
    boxes.forEach(function (b) {
      b.y = opts.icicle ? b.depth * ROW : height - (b.depth + 1) * ROW - 1;
      ctx.globalAlpha = b.dim ? 0.55 : 1;
      ctx.fillStyle = b.node === root ? "#d0d7de" : color(b.node);
      ctx.fillRect(b.x, b.y, Math.max(b.w - 0.5, 0.5), ROW - 1);
      if (b.w > 30) {
        var label = b.node === root ? "all (" + data.samples.toLocaleString() + " samples)" : b.node.name;
        var room = Math.floor((b.w - 6) / 7.2);
        if (label.length > room) label = label.slice(0, Math.max(room - 1, 0)) + "\u2026";
        ctx.fillStyle = "#1f2328";
        ctx.fillText(label, b.x + 3, b.y + ROW / 2);
      }
    });
    ctx.globalAlpha = 1;
    status();
  }

  function pct(n, of) { return (100 * n / (of || 1)).toFixed(2) + "%"; }

  function status() {
    var s = document.getElementById("flame-status");
    var text = "click a frame to zoom in, the bottom bar (or reset) to zoom out";
    if (zoom !== root) text = "zoomed on " + zoom.name + ": " + pct(zoom.value, root.value) + " of all samples. " + text;
    s.textContent = text;
    var m = document.getElementById("flame-match");
    if (!opts.query) { m.textContent = ""; return; }
    // the matching share: each sample once, at its outermost matching frame
    var hit = 0;
    (function walk(node) {
      node.children.forEach(function (child) { if (matches(child.name)) hit += child.value; else walk(child); });
    })(root);
    m.textContent = "matched " + hit.toLocaleString() + " samples, " + pct(hit, root.value);
  }

  function at(ev) {
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    for (var i = boxes.length - 1; i >= 0; i--) {
      var b = boxes[i];
      if (x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + ROW) return b.node;
    }
    return null;
  }

  canvas.addEventListener("mousemove", function (ev) {
    var node = at(ev);
    if (!node) { tip.hidden = true; return; }
    var lines = [node === root ? "all" : node.name,
      node.value.toLocaleString() + " samples, " + pct(node.value, root.value) + " of all" +
      (zoom !== root ? ", " + pct(node.value, zoom.value) + " of the zoomed frame" : "")];
    if (data.interval_ms) lines.push("\u2248 " + (node.value * data.interval_ms / 1000).toFixed(2) + " s of CPU");
    if (node.src) lines.push(node.src);
    tip.textContent = lines.join("\n");
    tip.hidden = false;
    var wrap = canvas.parentNode.getBoundingClientRect();
    var left = ev.clientX - wrap.left + 12, top = ev.clientY - wrap.top + 14;
    tip.style.left = Math.min(left, wrap.width - tip.offsetWidth - 4) + "px";
    tip.style.top = top + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("click", function (ev) {
    var node = at(ev);
    if (!node) return;
    zoom = node;
    draw();
  });

  function setQuery(text) {
    var m = /^\/(.+)\/$/.exec(text);
    try { opts.query = text ? (m ? new RegExp(m[1]) : text) : null; } catch (e) { opts.query = text; }
    draw();
  }
  var search = document.getElementById("flame-search");
  search.addEventListener("input", function () { setQuery(search.value); });
  document.getElementById("flame-icicle").addEventListener("change", function (ev) {
    opts.icicle = ev.target.checked; draw(); });
  document.getElementById("flame-heavy").addEventListener("change", function (ev) {
    opts.heavy = ev.target.checked; draw(); });
  document.getElementById("flame-byfn").addEventListener("change", function (ev) {
    opts.byfn = ev.target.checked; build(); draw(); });
  document.getElementById("flame-reset").addEventListener("click", function () { zoom = root; draw(); });
  window.addEventListener("resize", draw);

  // the top-functions table; a click on a row searches for its frame
  var body = document.getElementById("flame-top");
  data.top.forEach(function (t) {
    var tr = document.createElement("tr");
    [t[0], t[1].toLocaleString(), t[3].toFixed(1), t[2].toLocaleString(), t[4].toFixed(1), t[5]]
      .forEach(function (v, i) {
        var td = document.createElement("td");
        if (i === 0 || i === 5) { var c = document.createElement("code"); c.textContent = v; td.appendChild(c); }
        else { td.textContent = v; td.className = "num"; }
        tr.appendChild(td);
      });
    tr.title = "search the graph for this frame";
    tr.addEventListener("click", function () { search.value = t[0]; setQuery(t[0]); });
    body.appendChild(tr);
  });

  build();
  draw();
})();
