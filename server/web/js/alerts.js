// The Alerts and Rules pages over /api/v1/rules and /api/v1/alerts.

import { api } from './api.js';
import { errorBox, fmtSeconds, h, labelChips, loadInto, relTime, table } from './dom.js';

function stateBadge(state) {
  const s = (state || 'inactive').toLowerCase();
  return h('span', { class: `badge ${s}` }, s.toUpperCase());
}

function healthBadge(health) {
  const s = (health || 'unknown').toLowerCase();
  return h('span', { class: `badge ${s === 'ok' ? 'ok' : s === 'err' ? 'err' : 'unknown'}` }, s.toUpperCase());
}

export function alertsPage(main) {
  const body = h('div');
  main.append(h('h1', {}, 'Alerts'), body);
  loadInto(body, async () => {
    const [rules, alerts] = await Promise.all([api('rules', { type: 'alert' }), api('alerts')]);
    const groups = (rules.groups || []).filter((g) => (g.rules || []).length);
    const active = alerts.alerts || [];
    const counts = { firing: 0, pending: 0, inactive: 0 };
    for (const g of groups) for (const r of g.rules) counts[r.state || 'inactive'] = (counts[r.state || 'inactive'] || 0) + 1;
    const out = h('div', {}, h('p', {},
      stateBadge('firing'), ` ${counts.firing}  `, stateBadge('pending'), ` ${counts.pending}  `, stateBadge('inactive'), ` ${counts.inactive}  `,
      h('span', { class: 'muted' }, `· ${active.length} active alert${active.length === 1 ? '' : 's'}`)));
    if (!groups.length) {
      out.append(h('div', { class: 'empty' }, 'No alerting rules configured. Add rule_files to the configuration to define alerting rules.'));
      return out;
    }
    for (const g of groups) out.append(alertGroup(g));
    return out;
  }, 'Loading alerts failed');
}

function alertRule(r) {
  const alerts = r.alerts || [];
  const rows = alerts.map((a) => h('tr', {},
    h('td', {}, labelChips(a.labels)),
    h('td', {}, stateBadge(a.state)),
    h('td', { title: a.activeAt }, relTime(a.activeAt)),
    h('td', {}, a.value)));
  return h('div', { class: 'card', 'data-rule': r.name },
    h('div', { class: 'card-head' }, stateBadge(r.state), h('b', {}, r.name), h('span', { class: 'muted' }, `${alerts.length} active`)),
    h('div', { class: 'card-body' },
      h('pre', { class: 'mono' }, `expr: ${r.query}${r.duration ? `\nfor: ${fmtSeconds(r.duration)}` : ''}`),
      labelChips(r.labels),
      r.lastError ? errorBox(r.lastError, 'Last evaluation failed') : '',
      rows.length ? table(['Labels', 'State', 'Active since', 'Value'], rows) : ''));
}

function alertGroup(g) {
  return h('div', { class: 'card' },
    h('div', { class: 'card-head' }, h('b', {}, g.name), h('span', { class: 'muted' }, g.file)),
    h('div', { class: 'card-body' }, g.rules.map(alertRule)));
}

export function rulesPage(main) {
  const body = h('div');
  main.append(h('h1', {}, 'Rules'), body);
  loadInto(body, async () => {
    const data = await api('rules');
    const groups = data.groups || [];
    if (!groups.length) {
      return h('div', { class: 'empty' }, 'No rule groups configured. Add rule_files to the configuration to define recording and alerting rules.');
    }
    return h('div', {}, groups.map((g) => h('div', { class: 'card' },
      h('div', { class: 'card-head' }, h('b', {}, g.name), h('span', { class: 'muted' }, g.file),
        h('span', { class: 'muted' }, `interval ${fmtSeconds(g.interval || 0)} · last evaluation ${relTime(g.lastEvaluation)} · took ${fmtSeconds(g.evaluationTime || 0)}`)),
      h('div', { class: 'card-body' }, table(['Rule', 'Health', 'Last evaluation', 'Evaluation time'], (g.rules || []).map((r) => h('tr', {},
        h('td', {}, h('pre', { class: 'mono', style: { margin: 0, whiteSpace: 'pre-wrap' } },
          r.type === 'alerting' ? `alert: ${r.name}\nexpr: ${r.query}` : `record: ${r.name}\nexpr: ${r.query}`),
          labelChips(r.labels), r.lastError ? errorBox(r.lastError) : ''),
        h('td', {}, healthBadge(r.health)),
        h('td', { title: r.lastEvaluation }, relTime(r.lastEvaluation)),
        h('td', {}, fmtSeconds(r.evaluationTime || 0)))))))));
  }, 'Loading rules failed');
}
