// The Targets page, and the per-pool list it shares with Service
// Discovery: pools come from /api/v1/scrape_pools, each pool's targets are
// loaded only when it is expanded (?scrapePool=) and rendered in chunks, so
// 500 pools × 20,000 targets open at once.

import { api } from './api.js';
import { debounce, errorBox, fmtSeconds, h, labelChips, lazyRows, relTime, table } from './dom.js';

/** Pools expanded on open when there are at most this many. */
const EXPAND_ALL_UP_TO = 20;

/**
 * A page of collapsible scrape-pool cards.
 * opts: {title, state: API state filter, healthFilter: bool,
 *        rows(pool, data, filter) → {headers, items, row, summary}}
 */
export function poolPage(main, opts) {
  const filter = { text: '', health: new Set(['up', 'down', 'unknown']) };
  const search = h('input', { type: 'search', placeholder: 'Filter by endpoint or labels', 'aria-label': 'Filter' });
  const list = h('div');
  const cards = [];
  const toolbar = h('div', { class: 'toolbar' }, search);
  if (opts.healthFilter) {
    for (const s of ['up', 'down', 'unknown']) {
      toolbar.append(h('label', {}, h('input', { type: 'checkbox', checked: true, 'data-health': s, onchange: (e) => {
        if (e.target.checked) filter.health.add(s); else filter.health.delete(s);
        refilter();
      } }), ` ${s.toUpperCase()}`));
    }
  }
  toolbar.append(
    h('button', { type: 'button', onclick: () => cards.forEach((c) => c.setOpen(false)) }, 'Collapse all'),
    h('button', { type: 'button', onclick: () => cards.forEach((c) => c.setOpen(true)) }, 'Expand all'),
  );
  const refilter = () => cards.forEach((c) => c.render());
  search.addEventListener('input', debounce(() => { filter.text = search.value.trim().toLowerCase(); refilter(); }, 150));
  main.append(h('h1', {}, opts.title), toolbar, list);

  let stopped = false;
  (async () => {
    list.replaceChildren(h('p', { class: 'muted' }, 'Loading scrape pools…'));
    let pools;
    try {
      pools = (await api('scrape_pools')).scrapePools || [];
    } catch (e) {
      list.replaceChildren(errorBox(e, 'Loading scrape pools failed'));
      return;
    }
    if (stopped) return;
    if (!pools.length) {
      list.replaceChildren(h('div', { class: 'empty' }, 'No scrape pools configured.'));
      return;
    }
    const frag = document.createDocumentFragment();
    for (const pool of pools) {
      const c = poolCard(pool, pools.length <= EXPAND_ALL_UP_TO, opts, filter);
      cards.push(c);
      frag.append(c.el);
    }
    list.replaceChildren(frag);
  })();
  return () => { stopped = true; };
}

function poolCard(pool, open, opts, filter) {
  const summary = h('span', { class: 'count' });
  const body = h('div', { class: 'card-body' });
  const head = h('div', { class: 'card-head' }, h('span', { class: 'toggle' }, open ? '▾ ' : '▸ ', pool), summary);
  const el = h('div', { class: `card${open ? '' : ' collapsed'}`, 'data-pool': pool }, head, body);
  let data = null;
  let loading = false;
  const load = async () => {
    if (data || loading) return;
    loading = true;
    body.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    try {
      data = await api('targets', { scrapePool: pool, state: opts.state });
      render();
    } catch (e) {
      body.replaceChildren(errorBox(e, `Loading pool ${pool} failed`));
    } finally {
      loading = false;
    }
  };
  const render = () => {
    if (!data) return;
    const { headers, items, row, summary: text } = opts.rows(pool, data, filter);
    summary.textContent = text;
    if (!items.length) {
      body.replaceChildren(h('div', { class: 'empty' }, filter.text || filter.health.size < 3 ? 'No targets match the filter.' : 'No targets.'));
      return;
    }
    const tbody = h('tbody');
    const t = table(headers, [], opts.tableClass || '');
    t.querySelector('tbody').replaceWith(tbody);
    body.replaceChildren(t);
    lazyRows(tbody, items, row, 100);
  };
  const setOpen = (o) => {
    open = o;
    el.classList.toggle('collapsed', !o);
    head.firstChild.textContent = `${o ? '▾' : '▸'} ${pool}`;
    if (o) load();
  };
  head.addEventListener('click', () => setOpen(!open));
  if (open) load();
  return { el, setOpen, render };
}

function matchesText(text, ...labelSets) {
  if (!text) return true;
  return labelSets.some((ls) => ls && (typeof ls === 'string'
    ? ls.toLowerCase().includes(text)
    : Object.entries(ls).some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(text))));
}

/** Health as shown: UP, DOWN or UNKNOWN. */
function healthBadge(health) {
  const hl = (health || 'unknown').toLowerCase();
  return h('span', { class: `badge ${hl}` }, hl.toUpperCase());
}

export function targetsPage(main) {
  return poolPage(main, {
    title: 'Targets',
    state: 'active',
    healthFilter: true,
    rows: (pool, data, filter) => {
      const all = data.activeTargets || [];
      const up = all.filter((t) => t.health === 'up').length;
      const items = all.filter((t) => filter.health.has(t.health || 'unknown') && matchesText(filter.text, t.scrapeUrl, t.labels));
      return {
        summary: `(${up}/${all.length} up)`,
        headers: ['Endpoint', 'State', 'Labels', 'Last scrape', 'Scrape duration', 'Error'],
        items,
        row: (t) => h('tr', { 'data-endpoint': t.scrapeUrl, 'data-health': t.health },
          h('td', {}, h('a', { href: t.scrapeUrl, target: '_blank', rel: 'noopener' }, t.scrapeUrl)),
          h('td', {}, healthBadge(t.health)),
          h('td', {}, labelChips(t.labels)),
          h('td', { title: t.lastScrape }, relTime(t.lastScrape)),
          h('td', {}, t.lastScrapeDuration ? fmtSeconds(t.lastScrapeDuration) : '—'),
          h('td', { class: t.lastError ? 'error-text' : '' }, t.lastError ? h('span', { class: 'badge down' }, 'error') : '', t.lastError ? ` ${t.lastError}` : '')),
      };
    },
  });
}
