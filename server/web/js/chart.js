// The Graph tab's line chart on a canvas: time axis, legend, hover
// tooltip, stacked mode and drag-to-zoom. Draws in O(points) with one path
// segment group per pixel column, so 1,000 series × 1,000 points stay fast.

import { fmtValue, h, seriesName } from './dom.js';

/** Distinct, stable colours: golden-angle hues. */
export function color(i) {
  return `hsl(${Math.round((i * 137.508) % 360)}, 68%, 48%)`;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 31536000];

/** "Nice" value ticks covering [lo, hi]. */
export function valueTicks(lo, hi, count = 6) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function timeLabel(sec, span) {
  const d = new Date(sec * 1000);
  const p = (n) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  if (span <= 300) return `${hm}:${p(d.getSeconds())}`;
  if (span <= 86400 * 2) return hm;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}${span < 86400 * 14 ? ` ${hm}` : ''}`;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Converts the API's series into typed arrays (stacked sums when asked). */
export function prepare(result, start, step, stacked, hidden) {
  const series = result.map((s, i) => {
    const n = s.values ? s.values.length : 0;
    const ts = new Float64Array(n);
    const vs = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      ts[k] = s.values[k][0];
      vs[k] = parseFloat(s.values[k][1]);
    }
    return { metric: s.metric, name: seriesName(s.metric), color: color(i), ts, vs, raw: vs };
  });
  if (stacked) {
    // Range-query samples sit on the step grid: one running sum per step.
    let maxKey = 0;
    for (const s of series) if (s.ts.length) maxKey = Math.max(maxKey, Math.round((s.ts[s.ts.length - 1] - start) / step));
    const acc = new Float64Array(Math.min(maxKey + 1, 1 << 22));
    series.forEach((s, i) => {
      if (hidden.has(i)) return;
      const out = new Float64Array(s.vs.length);
      for (let k = 0; k < s.vs.length; k++) {
        const key = Math.round((s.ts[k] - start) / step);
        const v = Number.isFinite(s.vs[k]) ? s.vs[k] : 0;
        if (key >= 0 && key < acc.length) { acc[key] += v; out[k] = acc[key]; } else out[k] = v;
      }
      s.vs = out;
    });
  }
  return series;
}

/** Index of the sample nearest to t in sorted `ts`. */
function nearest(ts, t) {
  let lo = 0;
  let hi = ts.length - 1;
  if (hi < 0) return -1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid; else hi = mid;
  }
  return Math.abs(ts[lo] - t) <= Math.abs(ts[hi] - t) ? lo : hi;
}

/**
 * Creates a chart for a range-query `result` over [start, end] with `step`.
 * `onZoom(start, end)` is called after a drag selection.
 */
export function createChart({ result, start, end, step, stacked, onZoom }) {
  const canvas = h('canvas');
  const overlay = h('canvas', { style: { position: 'absolute', left: 0, top: 0, pointerEvents: 'none' } });
  const tip = h('div', { class: 'tooltip', hidden: true });
  const legend = h('div', { class: 'legend' });
  const wrap = h('div', { class: 'chart-wrap' }, canvas, overlay, tip);
  const el = h('div', {}, wrap, legend);
  const hidden = new Set();
  let series = prepare(result, start, step, stacked, hidden);
  let geom = null;
  let dragFrom = null;

  function layout() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 800;
    const hgt = canvas.clientHeight || 360;
    for (const c of [canvas, overlay]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(hgt * dpr);
      c.style.width = `${w}px`;
      c.style.height = `${hgt}px`;
    }
    return { dpr, w, hgt };
  }

  function draw() {
    if (!canvas.isConnected) return;
    const { dpr, w, hgt } = layout();
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    let lo = Infinity;
    let hi = -Infinity;
    series.forEach((s, i) => {
      if (hidden.has(i)) return;
      for (let k = 0; k < s.vs.length; k++) {
        const v = s.vs[k];
        if (Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
      }
    });
    if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
    if (stacked && lo > 0) lo = 0;
    if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
    const ticks = valueTicks(lo, hi);
    lo = Math.min(lo, ticks[0]);
    hi = Math.max(hi, ticks.at(-1));
    ctx.font = '11px ui-monospace, monospace';
    const left = Math.max(...ticks.map((t) => ctx.measureText(fmtValue(t)).width)) + 14;
    const top = 8;
    const right = w - 12;
    const bottom = hgt - 24;
    const x = (t) => left + ((t - start) / (end - start || 1)) * (right - left);
    const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    geom = { left, right, top, bottom, x, y, t: (px) => start + ((px - left) / (right - left)) * (end - start), w, hgt, dpr };

    const fg = cssVar('--muted') || '#666';
    const grid = cssVar('--border') || '#ddd';
    ctx.strokeStyle = grid;
    ctx.fillStyle = fg;
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of ticks) {
      const py = Math.round(y(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, py); ctx.lineTo(right, py); ctx.stroke();
      ctx.fillText(fmtValue(t), left - 6, py);
    }
    const span = end - start;
    const tstep = TIME_STEPS.find((s) => span / s <= Math.max(2, (right - left) / 110)) || TIME_STEPS.at(-1);
    const offset = new Date().getTimezoneOffset() * 60;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const first = Math.ceil((start - (tstep >= 86400 ? offset : 0)) / tstep) * tstep + (tstep >= 86400 ? offset : 0);
    for (let t = first; t <= end; t += tstep) {
      const px = Math.round(x(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(px, top); ctx.lineTo(px, bottom); ctx.stroke();
      const label = timeLabel(t, span);
      const half = ctx.measureText(label).width / 2;
      ctx.fillText(label, Math.min(Math.max(px, half + 2), w - half - 2), bottom + 6);
    }
    ctx.strokeStyle = fg;
    ctx.beginPath(); ctx.moveTo(left, bottom + 0.5); ctx.lineTo(right, bottom + 0.5); ctx.stroke();

    ctx.save();
    ctx.beginPath(); ctx.rect(left, top, right - left, bottom - top); ctx.clip();
    ctx.lineWidth = series.length > 200 ? 1 : 1.5;
    ctx.lineJoin = 'round';
    const gap = step * 1.5;
    series.forEach((s, i) => {
      if (hidden.has(i)) return;
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      drawSeries(ctx, s, x, y, gap);
      ctx.stroke();
    });
    ctx.restore();
  }

  // Per pixel column, only first, min, max and last are drawn: the image
  // equals the full polyline's at this resolution.
  function drawSeries(ctx, s, x, y, gap) {
    let col = null;
    let first = 0; let min = 0; let max = 0; let last = 0;
    let prevT = -Infinity;
    let pen = false;
    const flush = () => {
      if (col === null) return;
      if (!pen) { ctx.moveTo(col, first); pen = true; } else ctx.lineTo(col, first);
      if (min !== first) ctx.lineTo(col, min);
      if (max !== min) ctx.lineTo(col, max);
      if (last !== max) ctx.lineTo(col, last);
      col = null;
    };
    const single = [];
    for (let k = 0; k < s.ts.length; k++) {
      const v = s.vs[k];
      const t = s.ts[k];
      if (!Number.isFinite(v)) { flush(); pen = false; prevT = -Infinity; continue; }
      if (t - prevT > gap) { flush(); pen = false; }
      const px = Math.round(x(t));
      const py = y(v);
      if (px !== col) {
        flush();
        col = px; first = min = max = last = py;
        if (!pen) single.push(k);
      } else {
        if (py < min) min = py;
        if (py > max) max = py;
        last = py;
      }
      prevT = t;
    }
    flush();
    // Isolated points (no neighbour within a step) get a dot.
    for (const k of single) {
      const isolated = (k === 0 || s.ts[k] - s.ts[k - 1] > gap) && (k === s.ts.length - 1 || s.ts[k + 1] - s.ts[k] > gap);
      if (isolated) { ctx.moveTo(x(s.ts[k]) + 1.5, y(s.vs[k])); ctx.arc(x(s.ts[k]), y(s.vs[k]), 1.5, 0, 2 * Math.PI); }
    }
  }

  function drawOverlay(mx, my) {
    const o = overlay.getContext('2d');
    o.setTransform(geom.dpr, 0, 0, geom.dpr, 0, 0);
    o.clearRect(0, 0, geom.w, geom.hgt);
    if (dragFrom !== null && mx !== undefined) {
      o.fillStyle = 'rgba(100,140,255,0.18)';
      o.fillRect(Math.min(dragFrom, mx), geom.top, Math.abs(mx - dragFrom), geom.bottom - geom.top);
    }
    if (mx === undefined || mx < geom.left || mx > geom.right) { tip.hidden = true; return; }
    const t = geom.t(mx);
    let best = null;
    series.forEach((s, i) => {
      if (hidden.has(i)) return;
      const k = nearest(s.ts, t);
      if (k < 0 || !Number.isFinite(s.vs[k]) || Math.abs(s.ts[k] - t) > step * 1.5 + (end - start) / 400) return;
      const d = Math.abs(geom.y(s.vs[k]) - my);
      if (!best || d < best.d) best = { d, s, k };
    });
    o.strokeStyle = cssVar('--muted');
    o.beginPath(); o.moveTo(Math.round(mx) + 0.5, geom.top); o.lineTo(Math.round(mx) + 0.5, geom.bottom); o.stroke();
    if (!best) { tip.hidden = true; return; }
    const px = geom.x(best.s.ts[best.k]);
    const py = geom.y(best.s.vs[best.k]);
    o.fillStyle = best.s.color;
    o.beginPath(); o.arc(px, py, 4, 0, 2 * Math.PI); o.fill();
    const labels = Object.entries(best.s.metric || {}).map(([k, v]) => h('div', {}, h('b', {}, k), `: ${v}`));
    tip.replaceChildren(
      h('div', { class: 'muted' }, new Date(best.s.ts[best.k] * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z')),
      h('div', {}, h('span', { class: 'swatch', style: { background: best.s.color } }), ' ', h('b', {}, `value: ${fmtValue(best.s.raw[best.k])}`), stacked ? h('span', { class: 'muted' }, ` (stacked ${fmtValue(best.s.vs[best.k])})`) : ''),
      ...labels,
    );
    tip.hidden = false;
    const tw = tip.offsetWidth;
    tip.style.left = `${px + 14 + tw > geom.w ? Math.max(0, px - 14 - tw) : px + 14}px`;
    tip.style.top = `${Math.max(0, Math.min(py + 10, geom.hgt - tip.offsetHeight))}px`;
  }

  function renderLegend() {
    const rows = series.map((s, i) => h('div', {
      class: hidden.has(i) ? 'off' : '', title: 'Click to hide or show; Ctrl-click to show only this series',
      onclick: (e) => {
        if (e.ctrlKey || e.metaKey) {
          const only = hidden.size === series.length - 1 && !hidden.has(i);
          hidden.clear();
          if (!only) series.forEach((_, j) => { if (j !== i) hidden.add(j); });
        } else if (hidden.has(i)) hidden.delete(i); else hidden.add(i);
        rebuild();
      },
    }, h('span', { class: 'swatch', style: { background: s.color } }), s.name || '{}'));
    legend.replaceChildren(...rows);
  }

  function rebuild() {
    series = prepare(result, start, step, stacked, hidden);
    renderLegend();
    draw();
  }

  const pos = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener('mousemove', (e) => { if (geom) drawOverlay(...pos(e)); });
  canvas.addEventListener('mouseleave', () => { if (geom && dragFrom === null) drawOverlay(); });
  canvas.addEventListener('mousedown', (e) => { if (geom && e.button === 0) { dragFrom = pos(e)[0]; e.preventDefault(); } });
  const up = (e) => {
    if (dragFrom === null || !geom) return;
    const x1 = pos(e)[0];
    const x0 = dragFrom;
    dragFrom = null;
    drawOverlay();
    if (Math.abs(x1 - x0) > 5) {
      const a = geom.t(Math.max(geom.left, Math.min(x0, x1)));
      const b = geom.t(Math.min(geom.right, Math.max(x0, x1)));
      onZoom?.(a, b);
    }
  };
  window.addEventListener('mouseup', up);
  const ro = new ResizeObserver(() => draw());
  ro.observe(canvas);
  const onTheme = () => draw();
  window.addEventListener('themechange', onTheme);
  // The observer also fires once the canvas is first laid out: that is
  // the initial draw.
  renderLegend();
  return {
    el,
    destroy() { ro.disconnect(); window.removeEventListener('mouseup', up); window.removeEventListener('themechange', onTheme); },
  };
}
