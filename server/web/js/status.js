// Status pages: runtime & build information, TSDB status, command-line
// flags and the loaded configuration.

import { api } from './api.js';
import { debounce, fmtTime, h, kvTable, loadInto, relTime, table } from './dom.js';

function show(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function statusPage(main) {
  const runtime = h('div');
  const build = h('div');
  const ams = h('div');
  main.append(h('h1', {}, 'Runtime & build information'), h('h2', {}, 'Runtime information'), runtime,
    h('h2', {}, 'Build information'), build, h('h2', {}, 'Alertmanagers'), ams);
  loadInto(runtime, async () => {
    const d = await api('status/runtimeinfo');
    return kvTable(Object.entries(d).map(([k, v]) => [k, /Time$/.test(k) && v ? `${show(v)} (${relTime(v)})` : show(v)]));
  }, 'Loading runtime information failed');
  loadInto(build, async () => kvTable(Object.entries(await api('status/buildinfo')).map(([k, v]) => [k, show(v)])), 'Loading build information failed');
  loadInto(ams, async () => {
    const d = await api('alertmanagers');
    const active = d.activeAlertmanagers || [];
    if (!active.length) return h('p', { class: 'muted' }, 'No Alertmanagers discovered.');
    return table(['Endpoint'], active.map((a) => h('tr', {}, h('td', {}, a.url))));
  }, 'Loading Alertmanagers failed');
}

export function tsdbPage(main) {
  const body = h('div');
  main.append(h('h1', {}, 'TSDB status'), body);
  loadInto(body, async () => {
    const d = await api('status/tsdb');
    const hs = d.headStats || {};
    const time = (ms) => (Number.isFinite(ms) && Math.abs(ms) < 1e15 ? `${fmtTime(ms / 1000)} (${ms})` : show(ms));
    const top = (title, rows, col) => [h('h2', {}, title), rows && rows.length
      ? table(['Name', col], rows.map((r) => h('tr', {}, h('td', { class: 'mono' }, r.name), h('td', {}, show(r.value)))))
      : h('p', { class: 'muted' }, 'No data.')];
    return h('div', {},
      h('h2', {}, 'Head block'),
      kvTable([['Number of series', show(hs.numSeries)], ['Number of chunks', show(hs.chunkCount)], ['Number of label pairs', show(hs.numLabelPairs)],
        ['Current min time', time(hs.minTime)], ['Current max time', time(hs.maxTime)]]),
      top('Top series count by metric name', d.seriesCountByMetricName, 'Count'),
      top('Top label names with value count', d.labelValueCountByLabelName, 'Count'),
      top('Top label names with high memory usage', d.memoryInBytesByLabelName, 'Bytes'),
      top('Top series count by label value pairs', d.seriesCountByLabelValuePair, 'Count'));
  }, 'Loading TSDB status failed');
}

export function flagsPage(main) {
  const body = h('div');
  const search = h('input', { type: 'search', placeholder: 'Filter flags', 'aria-label': 'Filter flags' });
  main.append(h('h1', {}, 'Command-line flags'), h('div', { class: 'toolbar' }, search), body);
  loadInto(body, async () => {
    const flags = Object.entries(await api('status/flags')).sort(([a], [b]) => a.localeCompare(b));
    const tbody = h('tbody');
    const render = () => {
      const f = search.value.trim().toLowerCase();
      tbody.replaceChildren(...flags.filter(([k, v]) => !f || k.toLowerCase().includes(f) || String(v).toLowerCase().includes(f))
        .map(([k, v]) => h('tr', {}, h('td', { class: 'mono' }, `--${k}`), h('td', { class: 'mono' }, v))));
    };
    search.addEventListener('input', debounce(render, 100));
    render();
    return h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Flag'), h('th', {}, 'Value'))), tbody);
  }, 'Loading flags failed');
}

export function configPage(main) {
  const body = h('div');
  main.append(h('h1', {}, 'Configuration'), body);
  loadInto(body, async () => {
    const yaml = (await api('status/config')).yaml || '';
    const copy = h('button', { type: 'button', onclick: async () => {
      try { await navigator.clipboard.writeText(yaml); copy.textContent = 'Copied'; } catch { copy.textContent = 'Copy failed (select the text instead)'; }
    } }, 'Copy to clipboard');
    return h('div', {}, h('div', { class: 'toolbar' }, copy), h('pre', { class: 'config' }, yaml));
  }, 'Loading configuration failed');
}
