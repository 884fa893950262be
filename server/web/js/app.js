// Entry point: the client-side router, the navigation bar and the theme.

import { PREFIX } from './api.js';
import { errorBox, h } from './dom.js';
import { queryPage } from './query.js';
import { alertsPage, rulesPage } from './alerts.js';
import { targetsPage } from './targets.js';
import { sdPage } from './sd.js';
import { configPage, flagsPage, statusPage, tsdbPage } from './status.js';

const ROUTES = {
  '/query': ['Query', queryPage],
  '/alerts': ['Alerts', alertsPage],
  '/rules': ['Rules', rulesPage],
  '/targets': ['Targets', targetsPage],
  '/service-discovery': ['Service discovery', sdPage],
  '/status': ['Runtime & build information', statusPage],
  '/tsdb-status': ['TSDB status', tsdbPage],
  '/flags': ['Command-line flags', flagsPage],
  '/config': ['Configuration', configPage],
};

let cleanup = null;

function currentRoute() {
  let p = location.pathname;
  if (PREFIX && p.startsWith(PREFIX)) p = p.slice(PREFIX.length);
  return p.replace(/\/+$/, '') || '/query';
}

/** Renders the page for the current location; a page that throws shows its
 * error in place instead of leaving the screen blank. */
function render() {
  const main = document.getElementById('main');
  if (cleanup) { try { cleanup(); } catch (e) { console.warn(e); } cleanup = null; }
  const route = currentRoute();
  const entry = ROUTES[route];
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    a.classList.toggle('active', a.getAttribute('href') === PREFIX + route);
  }
  document.querySelector('.menu-btn').classList.toggle('active', ['/status', '/tsdb-status', '/flags', '/config'].includes(route));
  if (!entry) {
    main.replaceChildren(h('div', { class: 'empty' }, `No page at ${route}.`));
    return;
  }
  document.title = `${entry[0]} - Promethium`;
  main.replaceChildren();
  try {
    cleanup = entry[1](main) || null;
  } catch (e) {
    main.replaceChildren(errorBox(e, 'Rendering this page failed'));
    console.warn(e);
  }
}

/** Moves to `url` inside the app without a reload. */
export function navigate(url) {
  history.pushState(null, '', url);
  render();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-nav]');
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  if (a.getAttribute('href') !== location.pathname + location.search) navigate(a.getAttribute('href'));
  document.activeElement?.blur?.();
});
window.addEventListener('popstate', render);

// Theme: follow the system until the user picks one; the choice is kept.
const THEMES = ['auto', 'light', 'dark'];
const themeBtn = document.getElementById('theme');
function showTheme() {
  const t = document.documentElement.dataset.theme || 'auto';
  themeBtn.textContent = { auto: '◐ Auto', light: '☀ Light', dark: '☾ Dark' }[t];
}
themeBtn.addEventListener('click', () => {
  const cur = document.documentElement.dataset.theme || 'auto';
  const next = THEMES[(THEMES.indexOf(cur) + 1) % THEMES.length];
  if (next === 'auto') {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem('promethium-theme');
  } else {
    document.documentElement.dataset.theme = next;
    localStorage.setItem('promethium-theme', next);
  }
  showTheme();
  window.dispatchEvent(new Event('themechange'));
});
showTheme();
window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => window.dispatchEvent(new Event('themechange')));

render();
