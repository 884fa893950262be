// The expression editor: a textarea over a highlighted copy of its text,
// with metric-name, function and label autocompletion from the label APIs.

import { api } from './api.js';
import { h } from './dom.js';

const AGGREGATIONS = ['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio'];
const FUNCTIONS = ['abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'deg', 'delta', 'deriv', 'exp', 'floor', 'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_stddev', 'histogram_stdvar', 'histogram_sum', 'hour', 'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'mad_over_time', 'max_over_time', 'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_by_label', 'sort_by_label_desc', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time', 'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year'];
const KEYWORDS = ['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'atan2'];
const FN_SET = new Set([...AGGREGATIONS, ...FUNCTIONS]);
const KW_SET = new Set(KEYWORDS);

/**
 * Splits PromQL text into tokens {type, text, start}. Tolerant: anything it
 * does not know becomes an 'op' token, so highlighting never throws.
 */
export function tokenize(src) {
  const out = [];
  let i = 0;
  let braces = 0;
  let brackets = 0;
  let parens = 0;
  let groupingParen = false;
  const push = (type, end) => { out.push({ type, text: src.slice(i, end), start: i }); i = end; };
  while (i < src.length) {
    const c = src[i];
    const rest = src.slice(i);
    let m;
    if (c === '#') { const nl = src.indexOf('\n', i); push('comment', nl < 0 ? src.length : nl); continue; }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c !== '`' ? 2 : 1;
      push('str', Math.min(j + 1, src.length));
      continue;
    }
    if ((m = /^\s+/.exec(rest))) { push('ws', i + m[0].length); continue; }
    if ((m = /^(\d+(\.\d+)?(ms|[smhdwy]))+/.exec(rest)) && !/^[\w.]/.test(src[i + m[0].length] || '')) { push('num', i + m[0].length); continue; }
    if ((m = /^(0x[0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|Inf|NaN)(?![\w:])/i.exec(rest)) && !/[\w:]/.test(src[i - 1] || '')) { push('num', i + m[0].length); continue; }
    if (c === ':' && brackets > 0) { push('op', i + 1); continue; }
    if ((m = /^[a-zA-Z_:][\w:]*/.exec(rest))) {
      const w = m[0];
      const after = src.slice(i + w.length).trimStart();
      let type;
      if (braces > 0 || groupingParen) type = 'label';
      else if (KW_SET.has(w.toLowerCase())) type = 'kw';
      else if ((FN_SET.has(w) || w === 'atan2') && after.startsWith('(')) type = 'fn';
      else if (FN_SET.has(w) && AGGREGATIONS.includes(w) && /^(by|without)\b/.test(after)) type = 'fn';
      else type = 'metric';
      const prev = out.filter((t) => t.type !== 'ws').at(-1);
      push(type, i + w.length);
      if (type === 'kw' && /^(by|without|on|ignoring|group_left|group_right)$/i.test(w) && after.startsWith('(')) groupingParen = 'pending';
      void prev;
      continue;
    }
    if (c === '{') braces++;
    if (c === '[') brackets++;
    if (c === ']') brackets = Math.max(0, brackets - 1);
    if (c === '}') braces = Math.max(0, braces - 1);
    if (c === '(') { parens++; if (groupingParen === 'pending') groupingParen = parens; }
    if (c === ')') { if (groupingParen === parens) groupingParen = false; parens--; }
    push('op', i + 1);
  }
  return out;
}

/** Fills `pre` with highlighted tokens; `errorAt` (0-based offset) marks
 * the character the server's parse error points at. */
function highlight(pre, src, errorAt) {
  const frag = document.createDocumentFragment();
  for (const t of tokenize(src)) {
    if (errorAt !== null && errorAt >= t.start && errorAt < t.start + t.text.length) {
      const k = errorAt - t.start;
      if (k > 0) frag.append(h('span', { class: `tok-${t.type}` }, t.text.slice(0, k)));
      frag.append(h('span', { class: `tok-${t.type} tok-error` }, t.text[k]));
      if (k + 1 < t.text.length) frag.append(h('span', { class: `tok-${t.type}` }, t.text.slice(k + 1)));
    } else {
      frag.append(t.type === 'ws' ? t.text : h('span', { class: `tok-${t.type}` }, t.text));
    }
  }
  if (errorAt !== null && errorAt >= src.length) frag.append(h('span', { class: 'tok-error' }, ' '));
  frag.append('\n');
  pre.replaceChildren(frag);
}

/** What to complete at `pos`: {kind: 'metric'|'label'|'value', word, from, label?}. */
export function completionContext(src, pos) {
  const before = src.slice(0, pos);
  const m = /[a-zA-Z_:][\w:]*$/.exec(before);
  const word = m ? m[0] : '';
  const from = pos - word.length;
  const open = before.lastIndexOf('{');
  const close = before.lastIndexOf('}');
  if (open > close) {
    const inner = before.slice(open + 1);
    const v = /([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)$/.exec(inner);
    if (v) return { kind: 'value', label: v[1], word: v[3], from: pos - v[3].length };
    if (/(^|,)\s*[a-zA-Z_]*$/.test(inner)) {
      const name = /([a-zA-Z_:][\w:]*)\s*\{[^{}]*$/.exec(before);
      return { kind: 'label', word, from, metric: name ? name[1] : '' };
    }
    return null;
  }
  const g = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)$/.exec(before);
  if (g && /(^|,)\s*[a-zA-Z_]*$/.test(g[2])) return { kind: 'label', word, from, metric: '' };
  if (!word) return null;
  return { kind: 'metric', word, from };
}

const cache = new Map();
/** Cached API lists for completion; a failure yields an empty list (the
 * editor must keep working when the label API is unavailable). */
function cached(key, load) {
  if (!cache.has(key)) {
    cache.set(key, load().catch(() => { cache.delete(key); return []; }));
  }
  return cache.get(key);
}

async function candidates(ctx) {
  if (ctx.kind === 'label') {
    const names = await cached(`labels:${ctx.metric}`, () => api('labels', ctx.metric ? { 'match[]': ctx.metric } : {}));
    return names.filter((n) => n !== '__name__').map((n) => ({ text: n, kind: 'label' }));
  }
  if (ctx.kind === 'value') {
    const vals = await cached(`values:${ctx.label}`, () => api(`label/${encodeURIComponent(ctx.label)}/values`));
    return vals.map((v) => ({ text: v, kind: 'value' }));
  }
  const metrics = await cached('metrics', () => api('label/__name__/values'));
  return [
    ...metrics.map((n) => ({ text: n, kind: 'metric' })),
    ...AGGREGATIONS.map((n) => ({ text: n, kind: 'aggregation' })),
    ...FUNCTIONS.map((n) => ({ text: n, kind: 'function' })),
    ...KEYWORDS.map((n) => ({ text: n, kind: 'keyword' })),
  ];
}

/** Ranks: prefix matches first, then substring matches; at most 100. */
export function rank(list, word) {
  const w = word.toLowerCase();
  const pre = [];
  const sub = [];
  for (const c of list) {
    const t = c.text.toLowerCase();
    if (t === w) continue;
    if (t.startsWith(w)) pre.push(c);
    else if (w && t.includes(w)) sub.push(c);
    if (pre.length >= 100) break;
  }
  return [...pre, ...sub].slice(0, 100);
}

/**
 * Creates an editor. `onExecute()` runs on Enter (Shift+Enter inserts a
 * newline); returns {el, value(), setValue(v), setError(offset|null), focus()}.
 */
export function createEditor(initial, { onExecute, onChange }) {
  const pre = h('pre', { 'aria-hidden': 'true' });
  const ta = h('textarea', { rows: 1, spellcheck: false, autocomplete: 'off', placeholder: 'Expression (press Shift+Enter for newlines)', 'aria-label': 'Expression' });
  const list = h('div', { class: 'complete', hidden: true, role: 'listbox' });
  const el = h('div', { class: 'editor' }, ta, pre, list);
  ta.value = initial || '';
  let errorAt = null;
  let items = [];
  let sel = 0;
  let ctx = null;
  let seq = 0;

  const resize = () => { ta.style.height = 'auto'; ta.style.height = `${Math.max(36, ta.scrollHeight + 2)}px`; };
  const redraw = () => { highlight(pre, ta.value, errorAt); resize(); };
  const close = () => { list.hidden = true; items = []; };
  const showList = () => {
    if (!items.length) { close(); return; }
    list.replaceChildren(...items.map((c, i) => h('div', {
      class: i === sel ? 'sel' : '', role: 'option',
      onmousedown: (e) => { e.preventDefault(); accept(i); },
    }, h('span', {}, c.text), h('small', {}, c.kind))));
    list.hidden = false;
    list.children[sel]?.scrollIntoView({ block: 'nearest' });
  };
  const accept = (i) => {
    const c = items[i];
    if (!c || !ctx) return;
    const v = ta.value;
    const end = ta.selectionStart;
    let insert = c.text;
    if (c.kind === 'function' || c.kind === 'aggregation') insert += '(';
    ta.value = v.slice(0, ctx.from) + insert + v.slice(end);
    const p = ctx.from + insert.length;
    ta.setSelectionRange(p, p);
    close();
    changed();
  };
  const complete = async () => {
    const my = ++seq;
    ctx = completionContext(ta.value, ta.selectionStart);
    if (!ctx || (ctx.kind === 'metric' && ctx.word.length < 1)) { close(); return; }
    const all = await candidates(ctx);
    if (my !== seq) return;
    items = rank(all, ctx.word);
    sel = 0;
    showList();
  };
  const changed = () => {
    errorAt = null;
    redraw();
    onChange?.(ta.value);
  };

  ta.addEventListener('input', () => { changed(); complete(); });
  ta.addEventListener('blur', () => setTimeout(close, 100));
  ta.addEventListener('scroll', () => { pre.scrollTop = ta.scrollTop; });
  ta.addEventListener('keydown', (e) => {
    if (!list.hidden && items.length) {
      if (e.key === 'ArrowDown') { sel = (sel + 1) % items.length; showList(); e.preventDefault(); return; }
      if (e.key === 'ArrowUp') { sel = (sel - 1 + items.length) % items.length; showList(); e.preventDefault(); return; }
      if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey)) { accept(sel); e.preventDefault(); return; }
      if (e.key === 'Escape') { close(); e.preventDefault(); return; }
    }
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); close(); onExecute?.(); }
  });
  redraw();
  requestAnimationFrame(resize);
  return {
    el,
    value: () => ta.value,
    setValue: (v) => { ta.value = v; changed(); },
    setError: (offset) => { errorAt = offset; redraw(); },
    focus: () => ta.focus(),
  };
}
