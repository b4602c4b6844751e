// timeline.js — the GIL timeline page's renderer, embedded into every page by
// timeline_html.cpp (cmake/embed.cmake). Reads #gilrun-data, draws the lanes
// onto the canvas, wires zoom and tooltips. Plain ES5-style JS so any browser
// runs it; `node --check` checks it (tests/CMakeLists.txt).
(function () {
  'use strict';
  var STATE_NAMES = ['running', 'waiting', 'blocked'];
  var MARK_NAMES = ['drop request', 'forced drop'];
  var COLOURS = ['#2e9e44', '#d93a2b', '#cfd3d8'];
  var IDLE = '#f2f3f5', DROP = '#f59e0b', FORCED = '#1f2937', GRID = '#e5e7eb', ZEBRA = '#f8fafc';
  var AXIS_H = 24, COUNTER_GAP = 10, COUNTER_H = 52, BOTTOM_H = 24, MIN_SPAN_NS = 1000;

  var body = document.body;
  try {
    main();
  } catch (err) {
    body.dataset.renderError = String((err && err.message) || err);
    var message = document.getElementById('message');
    message.textContent = 'Could not draw the timeline: ' + body.dataset.renderError;
    message.hidden = false;
    throw err;
  }

  function main() {
    var data = JSON.parse(document.getElementById('gilrun-data').textContent);
    var lanes = data.lanes.map(decodeLane);
    var steps = decodeSteps(data.waiting);
    var sites = data.sites || [];
    var canvas = document.getElementById('timeline-canvas');
    var plot = document.getElementById('plot');
    var selection = document.getElementById('selection');
    var tooltip = document.getElementById('tooltip');
    var ctx = canvas.getContext('2d');
    var view = { t0: 0, t1: data.endNs };
    var rowH = Math.max(14, Math.min(46, Math.floor(320 / Math.max(1, lanes.length))));
    var width = 0;

    buildLabels();
    draw();
    body.dataset.rendered = String(lanes.length);
    canvas.dataset.lanes = String(lanes.length);
    window.gilrunTimeline = { lanes: lanes.length, data: data, view: view, redraw: draw, zoomTo: zoomTo };
    installInteraction();

    // ---- decoding -------------------------------------------------------
    function decodeLane(raw) {
      var n = raw.slices.length / 3, starts = new Float64Array(n), ends = new Float64Array(n),
          states = new Uint8Array(n), t = 0, i;
      for (i = 0; i < n; i++) {
        t += raw.slices[3 * i];
        starts[i] = t; ends[i] = t + raw.slices[3 * i + 1]; states[i] = raw.slices[3 * i + 2];
      }
      var m = raw.mix.length / 4, columns = new Float64Array(m), shares = new Float32Array(m * 3), c = 0;
      for (i = 0; i < m; i++) {
        c += raw.mix[4 * i]; columns[i] = c;
        for (var k = 0; k < 3; k++) shares[3 * i + k] = raw.mix[4 * i + 1 + k] / 1000;
      }
      var q = raw.marks.length / 3, markAt = new Float64Array(q), markKind = new Uint8Array(q),
          markSite = new Int32Array(q);
      t = 0;
      for (i = 0; i < q; i++) {
        t += raw.marks[3 * i]; markAt[i] = t; markKind[i] = raw.marks[3 * i + 1]; markSite[i] = raw.marks[3 * i + 2];
      }
      return { thread: raw.thread, name: raw.name, exact: raw.exact, starts: starts, ends: ends,
               states: states, columns: columns, shares: shares, markAt: markAt, markKind: markKind,
               markSite: markSite };
    }
    function decodeSteps(flat) {
      var n = flat.length / 2, at = new Float64Array(n), value = new Float64Array(n), t = 0;
      for (var i = 0; i < n; i++) { t += flat[2 * i]; at[i] = t; value[i] = flat[2 * i + 1]; }
      return { at: at, value: value };
    }
    // First index whose value is > x (sorted array).
    function upperBound(array, x) {
      var lo = 0, hi = array.length;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (array[mid] <= x) lo = mid + 1; else hi = mid; }
      return lo;
    }

    // ---- layout -----------------------------------------------------------
    function rowTop(index) { return AXIS_H + index * rowH; }
    function rowGeometry(index) {
      var markH = rowH >= 26 ? 7 : 0, top = rowTop(index);
      return { markH: markH, barTop: top + markH + 2, barH: rowH - 2 * markH - 4 };
    }
    function counterTop() { return AXIS_H + lanes.length * rowH + COUNTER_GAP; }
    function canvasHeight() { return counterTop() + COUNTER_H + BOTTOM_H; }
    function xOf(t) { return (t - view.t0) * width / (view.t1 - view.t0); }
    function tOf(x) { return view.t0 + x * (view.t1 - view.t0) / width; }

    function buildLabels() {
      var labels = document.getElementById('labels');
      labels.style.paddingTop = AXIS_H + 'px';
      lanes.forEach(function (lane) {
        var div = document.createElement('div');
        div.className = 'lane';
        div.dataset.thread = String(lane.thread);
        div.style.height = rowH + 'px';
        div.title = lane.name + ' (thread ' + lane.thread + ')';
        var name = document.createElement('span');
        name.className = 'name';
        name.textContent = lane.name || ('thread ' + lane.thread);
        var tid = document.createElement('span');
        tid.className = 'tid';
        tid.textContent = '#' + lane.thread;
        div.appendChild(name);
        if (rowH >= 18) div.appendChild(tid);
        labels.appendChild(div);
      });
      var counter = document.createElement('div');
      counter.className = 'counter-label';
      counter.style.height = COUNTER_H + 'px';
      counter.style.marginTop = COUNTER_GAP + 'px';
      counter.textContent = 'waiting threads (max ' + data.waitingMax + ')';
      labels.appendChild(counter);
    }

    // ---- drawing ----------------------------------------------------------
    function draw() {
      width = Math.max(200, Math.floor(plot.clientWidth));
      var height = canvasHeight(), dpr = window.devicePixelRatio || 1;
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.width = width + 'px';
      canvas.style.height = height + 'px';
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, width, height);
      for (var row = 1; row < lanes.length; row += 2) {  // zebra rows keep markers with their bar
        ctx.fillStyle = ZEBRA;
        ctx.fillRect(0, rowTop(row), width, rowH);
      }
      var ticks = niceTicks(Math.max(2, Math.floor(width / 120)));
      drawGrid(ticks, height);
      for (var i = 0; i < lanes.length; i++) drawLane(lanes[i], i);
      drawCounter();
      drawAxis(ticks, 0, true);
      drawAxis(ticks, height - BOTTOM_H, false);
      document.getElementById('view-range').textContent =
          (view.t0 === 0 && view.t1 === data.endNs ? 'Whole run: ' : 'Showing ') +
          formatTime(view.t0) + ' \u2013 ' + formatTime(view.t1) + ' of ' + formatTime(data.endNs);
    }

    function drawLane(lane, index) {
      var g = rowGeometry(index);
      ctx.fillStyle = IDLE;
      ctx.fillRect(0, g.barTop, width, g.barH);
      paintColumns(timePerPixel(lane), g);
      if (g.markH) drawMarks(lane, g);
    }

    // Time per state in each pixel column, in pixel units (1 = the whole pixel).
    function timePerPixel(lane) {
      var acc = new Float32Array(width * 3), scale = width / (view.t1 - view.t0), i;
      for (i = Math.max(0, upperBound(lane.starts, view.t0) - 1);
           i < lane.starts.length && lane.starts[i] < view.t1; i++) {
        if (lane.ends[i] <= view.t0) continue;
        addSpan(acc, (lane.starts[i] - view.t0) * scale, (lane.ends[i] - view.t0) * scale, lane.states[i], 1);
      }
      var cn = data.columnNs;
      for (i = Math.max(0, upperBound(lane.columns, Math.floor(view.t0 / cn)) - 1);
           i < lane.columns.length && lane.columns[i] * cn < view.t1; i++) {
        var x0 = (lane.columns[i] * cn - view.t0) * scale, x1 = x0 + cn * scale;
        for (var k = 0; k < 3; k++) {
          if (lane.shares[3 * i + k] > 0) addSpan(acc, x0, x1, k, lane.shares[3 * i + k]);
        }
      }
      return acc;
    }
    function addSpan(acc, x0, x1, state, weight) {
      if (x1 <= 0 || x0 >= width || x1 <= x0) return;
      x0 = Math.max(0, x0); x1 = Math.min(width, x1);
      var first = Math.floor(x0), last = Math.min(width - 1, Math.ceil(x1) - 1);
      if (first >= last) { acc[first * 3 + state] += (x1 - x0) * weight; return; }
      acc[first * 3 + state] += (first + 1 - x0) * weight;
      for (var x = first + 1; x < last; x++) acc[x * 3 + state] += weight;
      acc[last * 3 + state] += (x1 - last) * weight;
    }

    // Each pixel column: the states stacked top-down by their share of the
    // pixel's time (running, waiting, blocked); runs of equal columns are
    // painted as one rectangle.
    function paintColumns(acc, g) {
      var h = [0, 0, 0], prev = [-1, -1, -1], runStart = 0;
      for (var x = 0; x <= width; x++) {
        if (x < width) stackHeights(acc, x, g.barH, h);
        if (x === width || h[0] !== prev[0] || h[1] !== prev[1] || h[2] !== prev[2]) {
          if (x > 0) paintRun(runStart, x, prev, g);
          runStart = x; prev[0] = h[0]; prev[1] = h[1]; prev[2] = h[2];
        }
      }
    }
    function stackHeights(acc, x, barH, h) {
      var f0 = acc[3 * x], f1 = acc[3 * x + 1], f2 = acc[3 * x + 2], total = f0 + f1 + f2;
      if (total > 1) { f0 /= total; f1 /= total; f2 /= total; }
      h[0] = shareHeight(f0, barH); h[1] = shareHeight(f1, barH); h[2] = shareHeight(f2, barH);
      while (h[0] + h[1] + h[2] > barH) {  // rounding up tiny shares overflowed: trim the tallest
        var tallest = h[0] >= h[1] && h[0] >= h[2] ? 0 : (h[1] >= h[2] ? 1 : 2);
        h[tallest]--;
      }
    }
    function shareHeight(share, barH) {
      if (share <= 0.0005) return 0;
      return Math.max(1, Math.round(share * barH));
    }
    function paintRun(x0, x1, h, g) {
      var y = g.barTop;
      for (var k = 0; k < 3; k++) {
        if (!h[k]) continue;
        ctx.fillStyle = COLOURS[k];
        ctx.fillRect(x0, y, x1 - x0, h[k]);
        y += h[k];
      }
    }

    function drawMarks(lane, g) {
      var lastPixel = [-1, -1], paths = [new Path2D(), new Path2D()], half = 4, barBottom = g.barTop + g.barH;
      for (var i = Math.max(0, upperBound(lane.markAt, view.t0) - 1); i < lane.markAt.length; i++) {
        var t = lane.markAt[i];
        if (t < view.t0) continue;
        if (t > view.t1) break;
        var kind = lane.markKind[i], px = Math.round(xOf(t));
        if (px === lastPixel[kind]) continue;
        lastPixel[kind] = px;
        var p = paths[kind];
        if (kind === 0) {  // drop request: pointing down at the bar's top
          p.moveTo(px - half, g.barTop - g.markH - 1); p.lineTo(px + half, g.barTop - g.markH - 1); p.lineTo(px, g.barTop - 1);
        } else {           // forced drop: pointing up at the bar's bottom
          p.moveTo(px - half, barBottom + g.markH + 1); p.lineTo(px + half, barBottom + g.markH + 1); p.lineTo(px, barBottom + 1);
        }
        p.closePath();
      }
      ctx.fillStyle = DROP; ctx.fill(paths[0]);
      ctx.fillStyle = FORCED; ctx.fill(paths[1]);
    }

    function drawCounter() {
      var top = counterTop(), peak = Math.max(1, data.waitingMax);
      var yOf = function (v) { return top + COUNTER_H - 2 - (COUNTER_H - 8) * v / peak; };
      ctx.fillStyle = '#fafafa';
      ctx.fillRect(0, top, width, COUNTER_H);
      ctx.strokeStyle = GRID; ctx.lineWidth = 1;
      ctx.beginPath(); ctx.moveTo(0, yOf(peak) + 0.5); ctx.lineTo(width, yOf(peak) + 0.5); ctx.stroke();
      var i = upperBound(steps.at, view.t0) - 1, value = i >= 0 ? steps.value[i] : 0;
      var path = new Path2D();
      path.moveTo(0, yOf(0)); path.lineTo(0, yOf(value));
      for (i = i + 1; i < steps.at.length && steps.at[i] < view.t1; i++) {
        var x = xOf(steps.at[i]);
        path.lineTo(x, yOf(value)); value = steps.value[i]; path.lineTo(x, yOf(value));
      }
      path.lineTo(width, yOf(value)); path.lineTo(width, yOf(0)); path.closePath();
      ctx.fillStyle = 'rgba(217,58,43,0.22)'; ctx.fill(path);
      ctx.strokeStyle = COLOURS[1]; ctx.lineWidth = 1.2; ctx.stroke(path);
    }

    // ---- the time axis ----------------------------------------------------
    function niceTicks(maxTicks) {
      var span = view.t1 - view.t0, raw = span / maxTicks;
      var magnitude = Math.pow(10, Math.floor(Math.log10(raw))), step = magnitude;
      [1, 2, 5, 10].some(function (m) { step = m * magnitude; return step >= raw; });
      var values = [];
      for (var t = Math.ceil(view.t0 / step) * step; t <= view.t1 + step * 1e-9; t += step) values.push(t);
      return { step: step, values: values };
    }
    function tickUnit() {
      var span = view.t1 - view.t0;
      if (span >= 2e9) return [1e9, 's'];
      if (span >= 2e6) return [1e6, 'ms'];
      if (span >= 2e3) return [1e3, '\u00b5s'];
      return [1, 'ns'];
    }
    function formatTick(t, step) {
      var unit = tickUnit(), decimals = Math.max(0, Math.ceil(-Math.log10(step / unit[0]) - 1e-9));
      return (t / unit[0]).toFixed(Math.min(decimals, 6)) + ' ' + unit[1];
    }
    function drawGrid(ticks, height) {
      ctx.strokeStyle = GRID; ctx.lineWidth = 1;
      ctx.beginPath();
      ticks.values.forEach(function (t) {
        var x = Math.round(xOf(t)) + 0.5;
        ctx.moveTo(x, AXIS_H - 4); ctx.lineTo(x, height - BOTTOM_H + 4);
      });
      ctx.stroke();
    }
    function drawAxis(ticks, top, above) {
      ctx.fillStyle = '#374151'; ctx.font = '11px system-ui, sans-serif';
      ctx.textBaseline = above ? 'top' : 'bottom';
      ticks.values.forEach(function (t) {
        var x = xOf(t), label = formatTick(t, ticks.step), w = ctx.measureText(label).width;
        ctx.textAlign = 'left';
        ctx.fillText(label, Math.max(0, Math.min(width - w, x - w / 2)), above ? top + 5 : top + AXIS_H - 5);
      });
    }

    // ---- text -------------------------------------------------------------
    function formatTime(ns) {
      var a = Math.abs(ns);
      if (a === 0) return '0';
      if (a >= 1e9) return (ns / 1e9).toFixed(3) + ' s';
      if (a >= 1e6) return (ns / 1e6).toFixed(3) + ' ms';
      if (a >= 1e3) return (ns / 1e3).toFixed(1) + ' \u00b5s';
      return Math.round(ns) + ' ns';
    }
    function percent(share) { return Math.round(share * 100) + '%'; }

    // ---- interaction ------------------------------------------------------
    function zoomTo(t0, t1) {
      var span = Math.min(data.endNs, Math.max(MIN_SPAN_NS, t1 - t0));
      var start = Math.max(0, Math.min(data.endNs - span, t0));
      view.t0 = start; view.t1 = start + span;
      draw();
    }
    function pointer(ev) {
      var r = canvas.getBoundingClientRect();
      return { x: Math.max(0, Math.min(width, ev.clientX - r.left)), y: ev.clientY - r.top };
    }
    function installInteraction() {
      var dragFrom = null;
      canvas.addEventListener('wheel', function (ev) {
        ev.preventDefault();
        var x = pointer(ev).x, at = tOf(x), span = view.t1 - view.t0;
        var next = Math.min(data.endNs, Math.max(MIN_SPAN_NS, span * Math.pow(1.0015, ev.deltaY)));
        zoomTo(at - next * x / width, at - next * x / width + next);
      }, { passive: false });
      canvas.addEventListener('mousedown', function (ev) {
        if (ev.button !== 0) return;
        dragFrom = pointer(ev).x;
        ev.preventDefault();
      });
      window.addEventListener('mousemove', function (ev) {
        if (dragFrom === null) return;
        var x = pointer(ev).x;
        selection.hidden = false;
        selection.style.left = Math.min(x, dragFrom) + 'px';
        selection.style.width = Math.abs(x - dragFrom) + 'px';
      });
      window.addEventListener('mouseup', function (ev) {
        if (dragFrom === null) return;
        var x = pointer(ev).x, from = dragFrom;
        dragFrom = null;
        selection.hidden = true;
        if (Math.abs(x - from) >= 5) zoomTo(tOf(Math.min(x, from)), tOf(Math.max(x, from)));
      });
      canvas.addEventListener('dblclick', function () { zoomTo(0, data.endNs); });
      document.getElementById('zoom-reset').addEventListener('click', function () { zoomTo(0, data.endNs); });
      document.getElementById('zoom-out').addEventListener('click', function () {
        var mid = (view.t0 + view.t1) / 2, span = (view.t1 - view.t0) * 2;
        zoomTo(mid - span / 2, mid + span / 2);
      });
      canvas.addEventListener('mousemove', function (ev) {
        var p = pointer(ev), lines = dragFrom === null ? describe(p.x, p.y) : null;
        if (!lines) { tooltip.hidden = true; return; }
        showTooltip(lines, ev.clientX, ev.clientY);
      });
      canvas.addEventListener('mouseleave', function () { tooltip.hidden = true; });
      window.addEventListener('resize', draw);
    }
    function showTooltip(lines, clientX, clientY) {
      tooltip.textContent = '';
      lines.forEach(function (line, i) {
        var div = document.createElement('div');
        if (i === 0) div.className = 'head';
        div.textContent = line;
        tooltip.appendChild(div);
      });
      tooltip.hidden = false;
      var w = tooltip.offsetWidth, h = tooltip.offsetHeight;
      var left = clientX + 14 + w > window.innerWidth ? clientX - 14 - w : clientX + 14;
      var top = clientY + 16 + h > window.innerHeight ? clientY - 12 - h : clientY + 16;
      tooltip.style.left = Math.max(0, left) + 'px';
      tooltip.style.top = Math.max(0, top) + 'px';
    }

    // The tooltip lines for the point (x, y) of the canvas, or null.
    function describe(x, y) {
      var t = tOf(x), top = counterTop();
      if (y >= top && y < top + COUNTER_H) {
        var i = upperBound(steps.at, t) - 1;
        return ['waiting threads: ' + (i >= 0 ? steps.value[i] : 0), 'at ' + formatTime(t)];
      }
      var index = Math.floor((y - AXIS_H) / rowH);
      if (y < AXIS_H || index < 0 || index >= lanes.length) return null;
      var lane = lanes[index], lines = [lane.name + ' (thread ' + lane.thread + ')'];
      var mark = markNear(lane, x);
      if (mark >= 0) {
        lines.push(MARK_NAMES[lane.markKind[mark]] + ' at ' + formatTime(lane.markAt[mark]));
        var site = lane.markSite[mark];  // where the holder was when it let go (forced drops)
        if (site >= 0 && site < sites.length) lines.push('held at ' + sites[site]);
      }
      var s = upperBound(lane.starts, t) - 1;
      if (s >= 0 && lane.ends[s] > t) {
        lines.push(STATE_NAMES[lane.states[s]]);
        lines.push('start ' + formatTime(lane.starts[s]));
        lines.push('duration ' + formatTime(lane.ends[s] - lane.starts[s]));
        return lines;
      }
      var column = Math.floor(t / data.columnNs), c = upperBound(lane.columns, column) - 1;
      if (c >= 0 && lane.columns[c] === column) {
        var shares = [0, 1, 2].map(function (k) { return lane.shares[3 * c + k]; });
        lines.push('many short slices: ' + [0, 1, 2].filter(function (k) { return shares[k] > 0; })
            .map(function (k) { return percent(shares[k]) + ' ' + STATE_NAMES[k]; }).join(', '));
        lines.push(formatTime(column * data.columnNs) + ' \u2013 ' + formatTime((column + 1) * data.columnNs) +
                   ' (slices under ' + formatTime(data.columnNs) + ' are summed per column)');
        return lines;
      }
      lines.push(mark >= 0 ? '' : 'no state recorded here');
      return lines.filter(function (line) { return line !== ''; });
    }
    function markNear(lane, x) {
      var best = -1, bestDistance = 5;
      var i = Math.max(0, upperBound(lane.markAt, tOf(x - 5)) - 1);
      for (; i < lane.markAt.length && lane.markAt[i] <= tOf(x + 5); i++) {
        var d = Math.abs(xOf(lane.markAt[i]) - x);
        if (d < bestDistance) { bestDistance = d; best = i; }
      }
      return best;
    }
  }
})();
