// The Query page: several panels, each with an expression editor, a Table
// tab (instant query) and a Graph tab (range query). The whole state lives
// in the URL, in Prometheus' g<N>.* parameters, so a link reproduces it.

import { apiCall } from './api.js';
import { createChart } from './chart.js';
import { errorBox, fmtTime, fmtValue, h, lazyRows, seriesName, table } from './dom.js';
import { createEditor } from './editor.js';

const RANGES = ['1m', '5m', '15m', '30m', '1h', '2h', '6h', '12h', '1d', '2d', '1w', '2w', '4w', '8w', '1y'];
const UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };

/** "1h30m" → 5400; a bare number is seconds; null when invalid. */
export function parseDuration(s) {
  s = String(s || '').trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
  if (!/^(\d+(ms|[smhdwy]))+$/.test(s)) return null;
  let total = 0;
  for (const m of s.matchAll(/(\d+)(ms|[smhdwy])/g)) total += parseInt(m[1], 10) * UNITS[m[2]];
  return total;
}

/** 5400 → "1h30m". */
export function formatDuration(sec) {
  let rest = Math.round(sec * 1000);
  if (rest <= 0) return '0s';
  let out = '';
  for (const [u, f] of [['y', 31536000], ['w', 604800], ['d', 86400], ['h', 3600], ['m', 60], ['s', 1], ['ms', 0.001]]) {
    const n = Math.floor(rest / (f * 1000));
    if (n > 0) { out += `${n}${u}`; rest -= n * f * 1000; }
  }
  return out;
}

/** A time input ("" = now; ISO or "YYYY-MM-DD HH:MM:SS" in UTC; or unix seconds) to unix seconds. */
export function parseTime(s) {
  s = String(s || '').trim();
  if (!s) return null;
  if (/^\d+(\.\d+)?$/.test(s)) return parseFloat(s);
  const iso = s.includes('T') ? s : s.replace(' ', 'T');
  const ms = Date.parse(/(Z|[+-]\d\d:?\d\d)$/.test(iso) ? iso : `${iso}Z`);
  return Number.isFinite(ms) ? ms / 1000 : NaN;
}

/** Reads panels from the URL (Prometheus' g0.expr=… scheme). */
export function panelsFromURL(search) {
  const p = new URLSearchParams(search);
  const panels = [];
  for (let i = 0; p.has(`g${i}.expr`) || p.has(`g${i}.tab`) || p.has(`g${i}.range_input`); i++) {
    const g = (k) => p.get(`g${i}.${k}`);
    const tab = g('tab');
    panels.push({
      expr: g('expr') || '',
      tab: tab === '1' || tab === 'table' ? 'table' : 'graph',
      range: g('range_input') || '1h',
      end: g('end_input') || '',
      moment: g('moment_input') || '',
      step: g('step_input') || '',
      stacked: g('display_mode') === 'stacked' || g('stacked') === '1',
    });
  }
  if (!panels.length) panels.push(newPanel());
  return panels;
}

/** Writes panels back in the same scheme. */
export function panelsToURL(panels) {
  const p = new URLSearchParams();
  panels.forEach((s, i) => {
    p.set(`g${i}.expr`, s.expr);
    p.set(`g${i}.tab`, s.tab);
    p.set(`g${i}.range_input`, s.range);
    if (s.end) p.set(`g${i}.end_input`, s.end);
    if (s.moment) p.set(`g${i}.moment_input`, s.moment);
    if (s.step) p.set(`g${i}.step_input`, s.step);
    p.set(`g${i}.display_mode`, s.stacked ? 'stacked' : 'lines');
  });
  return `?${p.toString()}`;
}

function newPanel() {
  return { expr: '', tab: 'table', range: '1h', end: '', moment: '', step: '', stacked: false };
}

/** Offset into `expr` of Prometheus' "line:col:" error prefix, or null. */
export function errorOffset(expr, message) {
  const m = /(?:^|\s)(\d+):(\d+)(?:-\d+:\d+)?: /.exec(message || '') || /\bat position (\d+)\b/.exec(message || '');
  if (!m) return null;
  if (m.length === 2) return Math.max(0, parseInt(m[1], 10));
  const lines = expr.split('\n');
  const line = parseInt(m[1], 10) - 1;
  const col = parseInt(m[2], 10) - 1;
  let off = 0;
  for (let i = 0; i < line && i < lines.length; i++) off += lines[i].length + 1;
  return Math.min(expr.length, off + Math.max(0, col));
}

/** An error box for a query; parse errors show the expression with a caret. */
function queryError(expr, err) {
  const box = errorBox(err);
  const off = errorOffset(expr, err.message);
  if (off !== null) {
    const before = expr.slice(0, off);
    const lineStart = before.lastIndexOf('\n') + 1;
    const lineEnd = expr.indexOf('\n', off);
    const line = expr.slice(lineStart, lineEnd < 0 ? expr.length : lineEnd);
    box.append(h('div', { class: 'caret-pos', 'data-error-offset': String(off) }, `${line}\n${' '.repeat(off - lineStart)}^`));
  }
  return box;
}

export function queryPage(main) {
  const panels = panelsFromURL(location.search);
  const list = h('div');
  const views = [];
  const sync = () => history.replaceState(null, '', panelsToURL(panels));

  const add = (state, run) => {
    const view = panelView(state, { sync, remove: () => {
      const i = views.indexOf(view);
      views.splice(i, 1);
      panels.splice(i, 1);
      view.destroy();
      view.el.remove();
      if (!panels.length) add(newPanel(), false);
      sync();
    } });
    views.push(view);
    list.append(view.el);
    if (run) view.execute();
    return view;
  };
  panels.forEach((p) => add(p, !!p.expr));
  main.append(
    list,
    h('button', { type: 'button', onclick: () => { const s = newPanel(); panels.push(s); add(s, false).focus(); sync(); } }, '+ Add panel'),
  );
  sync();
  return () => views.forEach((v) => v.destroy());
}

function panelView(state, { sync, remove }) {
  let controller = null;
  let chart = null;
  const output = h('div', { class: 'tab-body' });
  const stats = h('span', { class: 'stats' });
  const editor = createEditor(state.expr, { onExecute: () => execute(), onChange: (v) => { state.expr = v; } });
  const tabBtn = (name, label) => h('button', { type: 'button', class: state.tab === name ? 'active' : '', 'data-tab': name, onclick: () => {
    state.tab = name;
    for (const b of tabs.children) b.classList.toggle('active', b.dataset.tab === name);
    renderControls();
    sync();
    if (state.expr.trim()) execute(); else output.replaceChildren(empty());
  } }, label);
  const tabs = h('div', { class: 'tabs' }, tabBtn('table', 'Table'), tabBtn('graph', 'Graph'));
  const controls = h('div', { class: 'controls' });
  const empty = () => h('p', { class: 'muted' }, 'No query executed yet. Type an expression and press Enter or Execute.');

  function field(value, cls, placeholder, title, onchange) {
    return h('input', { class: cls, value, placeholder, title, onchange: (e) => { onchange(e.target.value.trim()); sync(); execute(); } });
  }

  function renderControls() {
    if (state.tab === 'table') {
      controls.replaceChildren(
        h('span', {}, 'Evaluation time:'),
        field(state.moment, 'time', 'now', 'UTC time (YYYY-MM-DD HH:MM:SS) or unix seconds; empty for now', (v) => { state.moment = v; }),
        h('button', { type: 'button', onclick: () => { state.moment = ''; renderControls(); sync(); execute(); } }, 'Now'),
        stats,
      );
      return;
    }
    const shift = (dir) => {
      const cur = parseDuration(state.range) || 3600;
      const secs = RANGES.map(parseDuration);
      const i = dir < 0 ? secs.findLastIndex((s) => s < cur) : secs.findIndex((s) => s > cur);
      if (i >= 0) state.range = RANGES[i];
      renderControls(); sync(); execute();
    };
    const moveEnd = (dir) => {
      const range = parseDuration(state.range) || 3600;
      const end = parseTime(state.end) ?? Date.now() / 1000;
      state.end = fmtTime(end + (dir * range) / 2);
      renderControls(); sync(); execute();
    };
    controls.replaceChildren(
      h('button', { type: 'button', title: 'Shorter range', onclick: () => shift(-1) }, '−'),
      field(state.range, 'short', '1h', 'Range (e.g. 1h, 30m, 2d)', (v) => { state.range = v || '1h'; }),
      h('button', { type: 'button', title: 'Longer range', onclick: () => shift(1) }, '+'),
      h('button', { type: 'button', title: 'Earlier', onclick: () => moveEnd(-1) }, '◀'),
      field(state.end, 'time', 'end: now', 'End time: UTC (YYYY-MM-DD HH:MM:SS) or unix seconds; empty for now', (v) => { state.end = v; }),
      h('button', { type: 'button', title: 'Later', onclick: () => moveEnd(1) }, '▶'),
      h('button', { type: 'button', title: 'End now', onclick: () => { state.end = ''; renderControls(); sync(); execute(); } }, 'Now'),
      field(state.step, 'short', 'res. (auto)', 'Resolution (step), e.g. 15s; empty for automatic', (v) => { state.step = v; }),
      h('label', {}, h('input', { type: 'checkbox', checked: state.stacked, onchange: (e) => { state.stacked = e.target.checked; sync(); execute(); } }), ' Stacked'),
      stats,
    );
  }

  async function execute() {
    const expr = editor.value();
    state.expr = expr;
    sync();
    if (controller) controller.abort();
    if (chart) { chart.destroy(); chart = null; }
    if (!expr.trim()) { output.replaceChildren(empty()); return; }
    controller = new AbortController();
    const my = controller;
    output.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    stats.textContent = '';
    const began = performance.now();
    try {
      let body;
      let range;
      if (state.tab === 'table') {
        const t = parseTime(state.moment);
        if (Number.isNaN(t)) throw new Error(`invalid evaluation time "${state.moment}"`);
        body = await apiCall('query', { query: expr, ...(t !== null ? { time: t } : {}) }, { signal: my.signal, method: 'POST' });
      } else {
        const dur = parseDuration(state.range);
        if (!dur) throw new Error(`invalid range "${state.range}"`);
        const endT = parseTime(state.end) ?? Date.now() / 1000;
        if (Number.isNaN(endT)) throw new Error(`invalid end time "${state.end}"`);
        const step = state.step ? parseDuration(state.step) : Math.max(Math.floor(dur / 250), 1);
        if (!step) throw new Error(`invalid resolution "${state.step}"`);
        range = { start: endT - dur, end: endT, step };
        body = await apiCall('query_range', { query: expr, start: range.start, end: range.end, step }, { signal: my.signal, method: 'POST' });
      }
      if (my !== controller) return;
      editor.setError(null);
      const ms = Math.round(performance.now() - began);
      const data = body.data;
      const n = Array.isArray(data.result) ? data.result.length : 1;
      stats.textContent = `Load time: ${ms}ms · Result series: ${n}`;
      const notes = [...(body.warnings || []).map((w) => h('div', { class: 'warning' }, `Warning: ${w}`)), ...(body.infos || []).map((w) => h('div', { class: 'warning' }, `Info: ${w}`))];
      if (state.tab === 'table') {
        output.replaceChildren(...notes, tableView(data));
      } else {
        output.replaceChildren(...notes, graphView(data, range));
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      editor.setError(errorOffset(expr, e.message));
      output.replaceChildren(queryError(expr, e));
    }
  }

  function graphView(data, range) {
    if (data.resultType !== 'matrix') return h('div', { class: 'error' }, `Expected a range vector, got ${data.resultType}`);
    if (!data.result.length) return h('div', { class: 'empty' }, 'Empty query result');
    chart = createChart({
      result: data.result, ...range, stacked: state.stacked,
      onZoom: (a, b) => {
        state.range = formatDuration(Math.max(1, Math.round(b - a)));
        state.end = fmtTime(Math.round(b));
        renderControls(); sync(); execute();
      },
    });
    return chart.el;
  }

  const el = h('div', { class: 'panel' },
    h('div', { class: 'expr-row' },
      editor.el,
      h('button', { type: 'button', class: 'primary', onclick: () => execute() }, 'Execute'),
      h('button', { type: 'button', title: 'Remove panel', onclick: remove }, '✕')),
    tabs, controls, output);
  renderControls();
  output.replaceChildren(empty());
  return {
    el,
    execute,
    focus: () => editor.focus(),
    destroy: () => { controller?.abort(); chart?.destroy(); },
  };
}

/** The Table tab's content for any result type. */
export function tableView(data) {
  const { resultType, result } = data;
  if (resultType === 'scalar' || resultType === 'string') {
    return table(['', 'Value'], [h('tr', {}, h('td', { class: 'metric' }, resultType), h('td', { class: 'value' }, fmtValue(result[1])))], 'series-table');
  }
  if (!result.length) return h('div', { class: 'empty' }, 'Empty query result');
  const tbody = h('tbody');
  const t = h('table', { class: 'series-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'Series'), h('th', {}, 'Value'))), tbody);
  const wrap = h('div', {}, t);
  const row = (s) => {
    let value;
    if (resultType === 'matrix') {
      value = (s.values || []).map(([ts, v]) => h('div', {}, `${fmtValue(v)} @${ts}`));
      if (s.histograms) value.push(...s.histograms.map(([ts, hg]) => h('div', {}, `histogram count=${hg.count} sum=${hg.sum} @${ts}`)));
    } else if (s.histogram) {
      value = `histogram count=${s.histogram[1].count} sum=${s.histogram[1].sum}`;
    } else {
      value = fmtValue(s.value[1]);
    }
    return h('tr', {}, h('td', { class: 'metric' }, seriesName(s.metric) || '{}'), h('td', { class: 'value' }, value));
  };
  lazyRows(tbody, result, row, 500);
  return wrap;
}
