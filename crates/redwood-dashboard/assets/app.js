// The dashboard page: one WebSocket to /ws (with the page's token, if any), a small SVG chart
// per figure over the last HISTORY snapshots, and the tree visualizer fed by `events` messages.
'use strict';
(() => {
  const HISTORY = 120;
  const NODES_PER_ROW_MAX = 40;
  const LOG_MAX = 60;
  const THRASH_SHOWN_MAX = 24;
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token');

  const bytes = (n) => {
    if (n === null || n === undefined) return 'n/a';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  };
  const count = (n) => (n === null || n === undefined ? 'n/a' : Math.round(n).toLocaleString('en'));
  const perSecond = (n) => (n === null ? 'n/a' : `${n.toFixed(n < 10 ? 1 : 0)}/s`);
  const percent = (n) => (n === null ? 'n/a' : `${(n * 100).toFixed(1)} %`);

  // Each chart: a value from (snapshot, previous snapshot, seconds between), and a format.
  const rate = (pick) => (d, p, dt) => (p && dt > 0 ? Math.max(0, pick(d) - pick(p)) / dt : null);
  const CHARTS = [
    ['hit-ratio', 'Cache hit ratio (per interval)', percent, (d, p) => {
      if (!p) return null;
      const hits = d.pool.hits - p.pool.hits;
      const lookups = hits + d.pool.misses - p.pool.misses;
      return lookups > 0 ? hits / lookups : null;
    }],
    ['hits', 'Cache hits', perSecond, rate((d) => d.pool.hits)],
    ['misses', 'Cache misses', perSecond, rate((d) => d.pool.misses)],
    ['evictions', 'Evictions', perSecond, rate((d) => d.pool.evictions)],
    ['thrashing', 'Thrashing pages', count, (d) => d.thrashing_pages.length],
    ['log-bytes', 'Log bytes in use', bytes, (d) => d.wal.bytes_in_use],
    ['checkpoint-lag', 'Checkpoint lag (LSNs)', count, (d) => d.checkpoints.lsns_behind],
    ['commits-rate', 'Commits', perSecond, rate((d) => d.pager.commits)],
    ['rss', 'RSS', bytes, (d) => d.process.rss_bytes],
    ['heap', 'Heap', bytes, (d) => (d.process.heap ? d.process.heap.allocated_bytes : null)],
    ['readers', 'Open readers', count, (d) => d.checkpoints.readers],
    ['alerts-count', 'Active alerts', count, (d, p, dt, alerts) => alerts.length],
  ];
  const series = new Map();

  function buildCharts() {
    const root = $('charts');
    for (const [id, title] of CHARTS) {
      const card = document.createElement('div');
      card.className = 'card';
      card.id = `chart-${id}`;
      card.innerHTML = `<div class="title"></div><div class="value" id="value-${id}">n/a</div>` +
        '<svg viewBox="0 0 200 44" preserveAspectRatio="none"><polyline points=""/></svg>';
      card.querySelector('.title').textContent = title;
      root.appendChild(card);
      series.set(id, []);
    }
  }

  function drawChart(id, values) {
    const known = values.filter((v) => v !== null);
    const max = Math.max(1e-9, ...known);
    const min = Math.min(0, ...known);
    const span = max - min || 1;
    const step = 200 / (HISTORY - 1);
    const offset = HISTORY - values.length;
    const points = values
      .map((v, i) => (v === null ? null : `${((offset + i) * step).toFixed(1)},${(42 - ((v - min) / span) * 40).toFixed(1)}`))
      .filter((p) => p !== null)
      .join(' ');
    $(`chart-${id}`).querySelector('polyline').setAttribute('points', points);
  }

  let previous = null;
  function onSnapshot(message) {
    const d = message.diagnostics;
    const dt = previous ? (d.taken_at_unix_ms - previous.taken_at_unix_ms) / 1000 : 0;
    for (const [id, , format, value] of CHARTS) {
      const v = value(d, previous, dt, message.alerts);
      const values = series.get(id);
      values.push(v === undefined ? null : v);
      if (values.length > HISTORY) values.shift();
      $(`value-${id}`).textContent = format(v === undefined ? null : v);
      drawChart(id, values);
    }
    previous = d;
    $('snapshot-seq').textContent = message.seq;
    $('commits').textContent = d.pager.commits;
    $('page-count').textContent = d.pager.page_count;
    $('chart-thrashing').classList.toggle('warn', d.thrashing_pages.length > 0);
    // The newest reports last: show the newest THRASH_SHOWN_MAX, and how many more there are.
    const thrashing = d.thrashing_pages.slice(-THRASH_SHOWN_MAX).reverse();
    fillChips($('thrash-pages'), thrashing.map((page) =>
      [`page ${page.page_id} ×${page.reloads}`, { page: page.page_id, reloads: page.reloads }]),
    d.thrashing_pages.length - thrashing.length);
    fillChips($('alerts'), message.alerts.map((name) => [name, { alert: name }]));
    $('events-observed').textContent = message.events.observed;
    $('events-dropped').textContent = message.events.dropped;
    if (message.events.table !== null) $('tree-table').textContent = message.events.table;
  }

  function fillChips(list, items, hidden = 0) {
    list.replaceChildren();
    if (items.length === 0) {
      const none = document.createElement('li');
      none.className = 'none';
      none.textContent = 'none';
      list.appendChild(none);
    }
    for (const [text, data] of items) {
      const li = document.createElement('li');
      li.textContent = text;
      for (const [key, value] of Object.entries(data)) li.dataset[key] = value;
      list.appendChild(li);
    }
    if (hidden > 0) {
      const more = document.createElement('li');
      more.className = 'none';
      more.textContent = `+${hidden} more`;
      list.appendChild(more);
    }
  }

  // The visualizer: node boxes by level, most recently changed first.
  const nodes = new Map(); // page id -> element, for the nodes drawn
  const known = new Map(); // page id -> level, for every live node an event named
  function place(page, level, change) {
    let el = nodes.get(page);
    if (!el) {
      el = document.createElement('div');
      el.className = 'node';
      el.dataset.page = page;
      el.textContent = page;
      nodes.set(page, el);
    }
    el.dataset.level = level;
    known.set(page, level);
    const row = $(`row-${level}`);
    row.prepend(el);
    el.classList.remove('split', 'merge', 'redistribute', 'root_grow', 'root_shrink', 'freed');
    void el.offsetWidth; // restart the transition
    el.classList.add(change);
    clearTimeout(el.fade);
    el.fade = setTimeout(() => el.classList.remove(change), 1500);
    trimRow(row);
  }

  function free(page) {
    known.delete(page);
    const el = nodes.get(page);
    if (!el) return;
    nodes.delete(page);
    el.classList.add('freed');
    setTimeout(() => el.remove(), 700);
  }

  function trimRow(row) {
    const boxes = row.querySelectorAll('.node');
    for (let i = NODES_PER_ROW_MAX; i < boxes.length; i += 1) {
      nodes.delete(Number(boxes[i].dataset.page));
      boxes[i].remove();
    }
    let more = row.querySelector('.more');
    const level = row.id.slice('row-'.length);
    let inLevel = 0;
    for (const seen of known.values()) if (seen === level) inLevel += 1;
    const hidden = inLevel - Math.min(boxes.length, NODES_PER_ROW_MAX);
    if (more && hidden <= 0) more.remove();
    if (hidden > 0) {
      if (!more) { more = document.createElement('span'); more.className = 'more'; row.appendChild(more); }
      more.textContent = `+${hidden} more`;
      row.appendChild(more);
    }
  }

  function onEvent(e) {
    switch (e.type) {
      case 'split': place(e.page, e.node, 'split'); place(e.other, e.node, 'split'); break;
      case 'merge': place(e.page, e.node, 'merge'); free(e.other); break;
      case 'redistribute': place(e.page, e.node, 'redistribute'); place(e.other, e.node, 'redistribute'); break;
      case 'root_grow': place(e.other, 'root', 'root_grow'); break;
      case 'root_shrink': free(e.page); place(e.other, 'root', 'root_shrink'); break;
      default: return;
    }
    const li = document.createElement('li');
    li.dataset.type = e.type;
    li.dataset.node = e.node;
    li.dataset.page = e.page;
    li.dataset.other = e.other;
    const arrow = { split: '→', merge: '←', redistribute: '⇄', root_grow: '↑', root_shrink: '↓' }[e.type];
    li.textContent = `#${e.seq} ${e.type} ${e.node} ${e.page} ${arrow} ${e.other}`;
    const log = $('event-log');
    log.prepend(li);
    while (log.children.length > LOG_MAX) log.lastChild.remove();
    $('tree-note').textContent = 'The nodes named by the table\'s structural events, level by level; ' +
      `the ${NODES_PER_ROW_MAX} most recently changed per level are shown.`;
  }

  function setStatus(text) {
    const status = $('status');
    status.textContent = text;
    status.className = `state ${text}`;
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const query = token ? `?token=${encodeURIComponent(token)}` : '';
    const socket = new WebSocket(`${scheme}://${location.host}/ws${query}`);
    socket.onopen = () => setStatus('live');
    socket.onmessage = (frame) => {
      let message;
      try { message = JSON.parse(frame.data); } catch (_) { return; }
      if (message.type === 'snapshot') onSnapshot(message);
      else if (message.type === 'events') message.events.forEach(onEvent);
      else if (message.type === 'hello' && message.table !== null) $('tree-table').textContent = message.table;
      else if (message.type === 'closed') setStatus('closed');
    };
    socket.onclose = () => { setStatus('disconnected'); setTimeout(connect, 1000); };
  }

  buildCharts();
  connect();
})();
