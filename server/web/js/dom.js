// Small DOM and formatting helpers shared by the pages.

/** Creates an element: h('div', {class: 'x', onclick: f}, child, ...). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** An error box shown in place of the content that failed. */
export function errorBox(err, what) {
  const msg = err && err.message ? err.message : String(err);
  const kind = err && err.errorType ? `${err.errorType}: ` : '';
  return h('div', { class: 'error', role: 'alert' }, what ? `${what}: ` : '', kind, msg);
}

/** Renders `load()`'s result into `el`, showing progress and errors in place. */
export async function loadInto(el, load, what) {
  el.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
  try {
    const content = await load();
    el.replaceChildren(content);
  } catch (e) {
    if (e.name === 'AbortError') return;
    el.replaceChildren(errorBox(e, what));
  }
}

/** "3.2s ago", "5m ago", "in 2h" from a Date or ISO string. */
export function relTime(t, now = Date.now()) {
  const d = t instanceof Date ? t : new Date(t);
  const ms = d.getTime();
  if (!Number.isFinite(ms) || ms <= 0 || d.getUTCFullYear() < 1971) return 'never';
  const diff = (now - ms) / 1000;
  const s = fmtSeconds(Math.abs(diff));
  return diff >= 0 ? `${s} ago` : `in ${s}`;
}

/** Seconds as a short human duration: 850ms, 4.2s, 3m 12s, 2h 5m, 3d 4h. */
export function fmtSeconds(sec) {
  if (!Number.isFinite(sec)) return String(sec);
  if (sec < 1) return `${+(sec * 1000).toPrecision(3)}ms`;
  if (sec < 60) return `${+sec.toFixed(sec < 10 ? 2 : 1)}s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m}m ${Math.floor(sec % 60)}s`;
  const hr = Math.floor(m / 60);
  if (hr < 24) return `${hr}h ${m % 60}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

/** Label set as `{a="b", ...}` text. */
export function labelsText(labels, skipName = true) {
  const parts = Object.entries(labels || {})
    .filter(([k]) => !(skipName && k === '__name__'))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `{${parts.join(', ')}}`;
}

/** A series name as Prometheus prints it: name{labels}. */
export function seriesName(metric) {
  const name = (metric && metric.__name__) || '';
  const rest = labelsText(metric, true);
  return rest === '{}' && name ? name : name + rest;
}

/** Label chips. */
export function labelChips(labels) {
  return Object.entries(labels || {}).map(([k, v]) => h('span', { class: 'label' }, `${k}="${v}"`));
}

/** A two-column table of key/value rows. */
export function kvTable(rows) {
  return h('table', { class: 'kv' }, h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v)))));
}

/** A table with a header row. */
export function table(headers, rows, cls) {
  return h('table', { class: cls || '' },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows));
}

/** Appends rows to `tbody` in chunks as a sentinel scrolls into view, so
 * tens of thousands of rows never block the page. */
export function lazyRows(tbody, items, renderRow, chunk = 200) {
  let next = 0;
  const wrap = tbody.closest('table')?.parentNode;
  let sentinel = null;
  const more = () => {
    const frag = document.createDocumentFragment();
    const end = Math.min(items.length, next + chunk);
    for (; next < end; next++) frag.append(renderRow(items[next]));
    tbody.append(frag);
    if (next >= items.length && sentinel) {
      observer.disconnect();
      sentinel.remove();
    } else if (sentinel) {
      sentinel.textContent = `Showing ${next} of ${items.length} — scroll or click for more`;
    }
  };
  const observer = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) more(); });
  more();
  if (next < items.length && wrap) {
    sentinel = h('button', { class: 'more', type: 'button', onclick: more }, `Showing ${next} of ${items.length} — scroll or click for more`);
    tbody.closest('table').after(sentinel);
    observer.observe(sentinel);
  }
}

/** Debounces `f` by `ms`. */
export function debounce(f, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => f(...a), ms); };
}

/** Number formatting for values: Prometheus' strings kept for specials. */
export function fmtValue(v) {
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (n !== 0 && (Math.abs(n) >= 1e15 || Math.abs(n) < 1e-4)) return n.toExponential(4);
  return String(+n.toPrecision(12));
}

/** Unix seconds to an ISO-like UTC string. */
export function fmtTime(sec) {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace(/\.000Z$/, 'Z');
}
