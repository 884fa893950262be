// The Service Discovery page: per scrape pool, each discovered target's
// labels before relabeling beside its labels after, or "dropped".

import { h, labelChips } from './dom.js';
import { poolPage } from './targets.js';

function matches(text, ...sets) {
  if (!text) return true;
  return sets.some((ls) => ls && Object.entries(ls).some(([k, v]) => `${k}="${v}"`.toLowerCase().includes(text)));
}

export function sdPage(main) {
  return poolPage(main, {
    title: 'Service discovery',
    state: 'any',
    healthFilter: false,
    tableClass: 'half',
    rows: (pool, data, filter) => {
      const active = (data.activeTargets || []).map((t) => ({ discovered: t.discoveredLabels, labels: t.labels }));
      const dropped = (data.droppedTargets || []).map((t) => ({ discovered: t.discoveredLabels, labels: null }));
      const droppedTotal = (data.droppedTargetCounts && data.droppedTargetCounts[pool]) ?? dropped.length;
      const all = [...active, ...dropped];
      const items = all.filter((t) => matches(filter.text, t.discovered, t.labels));
      return {
        summary: `(${active.length} active / ${active.length + droppedTotal} discovered)`,
        headers: ['Discovered labels', 'Target labels'],
        items,
        row: (t) => h('tr', {},
          h('td', {}, labelChips(t.discovered)),
          h('td', {}, t.labels ? labelChips(t.labels) : h('span', { class: 'dropped' }, 'dropped'))),
      };
    },
  });
}
