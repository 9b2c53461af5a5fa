// The dashboard page: one WebSocket to /ws (with the page's token, if any), a small SVG chart
// per figure over the last HISTORY snapshots, and the tree visualizer: the table's top levels
// from `shape` messages (an SVG, one row of nodes per level, root on top), with the nodes that
// `events` messages name highlighted on it for HIGHLIGHT_MS, and listed level by level below.
'use strict';
(() => {
  const HISTORY = 120;
  const NODES_PER_ROW_MAX = 40;
  const LOG_MAX = 60;
  const THRASH_SHOWN_MAX = 24;
  const HIGHLIGHT_MS = 3000;
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

  // The shape: the tree's top levels as the server walked them (at most once a second).
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const SHAPE_W = 1200; // viewBox width
  const SHAPE_LABEL_W = 78; // the level names' column
  const SHAPE_ROW_H = 60;
  const SHAPE_NODE_H = 30;
  const SHAPE_SLOT_MAX = 76; // a node's slot, at most (a level of few nodes stays compact)
  let shapeNodes = new Map(); // page id -> <g> of the shape drawn now
  const recent = new Map(); // page id -> { type, until }: nodes recent events named

  const svgEl = (name, attrs, parent) => {
    const el = document.createElementNS(SVG_NS, name);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    if (parent) parent.appendChild(el);
    return el;
  };
  // A key prefix (hex) as text when it is printable ASCII, else as hex.
  const keyText = (hex) => {
    const codes = hex.match(/../g) || [];
    const bytes = codes.map((pair) => parseInt(pair, 16));
    if (bytes.length === 0) return '(empty)';
    return bytes.every((b) => b >= 0x20 && b < 0x7f) ? JSON.stringify(String.fromCharCode(...bytes)) : `0x${hex}`;
  };
  const levelName = (depth, height) => {
    if (depth === 0) return 'root';
    return depth === height - 1 ? 'leaves' : `level ${depth}`;
  };

  function onShape(message) {
    const svg = $('shape-svg');
    const caption = $('shape-caption');
    svg.dataset.status = message.status;
    svg.dataset.seq = message.seq;
    if (message.table !== null) $('tree-table').textContent = message.table;
    if (message.status !== 'ok') {
      // "missing": the table does not exist yet (quietly); "error": shown as text.
      svg.replaceChildren();
      svg.classList.add('empty');
      shapeNodes = new Map();
      caption.className = `dim note shape-${message.status}`;
      caption.textContent = message.status === 'error'
        ? `The tree's shape cannot be read: ${message.message}` : `${message.message}.`;
      return;
    }
    const shape = message.shape;
    const limits = message.limits;
    caption.className = 'dim note shape-ok';
    caption.innerHTML = 'height <b id="shape-height"></b>, <b id="shape-entries"></b> entries, ' +
      'root page <b id="shape-root"></b>; <span id="shape-extent"></span>';
    $('shape-height').textContent = shape.height;
    $('shape-entries').textContent = count(shape.entries);
    $('shape-root').textContent = shape.root;
    const cut = shape.levels.some((level) => level.truncated);
    $('shape-extent').textContent = `the top ${shape.levels.length} of ${shape.height} levels` +
      `${cut ? `, at most ${limits.nodes_per_level_max} nodes each (… marks the rest)` : ''}; ` +
      'the bar in a node is its page\'s fill (bytes used / page size).';

    const height = 6 + (shape.levels.length - 1) * SHAPE_ROW_H + SHAPE_NODE_H + 16;
    svg.replaceChildren();
    svg.classList.remove('empty');
    svg.setAttribute('viewBox', `0 0 ${SHAPE_W} ${height}`);
    svg.setAttribute('height', height);
    svg.dataset.root = shape.root;
    svg.dataset.height = shape.height;
    svg.dataset.entries = shape.entries;
    const links = svgEl('g', { class: 'links' }, svg);
    const drawn = new Map(); // page id -> { cx, bottom }
    shapeNodes = new Map();
    for (const level of shape.levels) {
      const y = 6 + level.depth * SHAPE_ROW_H;
      const g = svgEl('g', {
        class: 'level', 'data-depth': level.depth, 'data-nodes': level.nodes.length,
        'data-truncated': level.truncated,
      }, svg);
      const label = svgEl('text', { class: 'level-label', x: 4, y: y + 12 }, g);
      label.textContent = levelName(level.depth, shape.height);
      const nodesText = svgEl('text', { class: 'level-count', x: 4, y: y + 26 }, g);
      nodesText.textContent = `${level.nodes.length}${level.truncated ? '+' : ''} node${level.nodes.length === 1 && !level.truncated ? '' : 's'}`;
      const slots = level.nodes.length + (level.truncated ? 1 : 0);
      const avail = SHAPE_W - SHAPE_LABEL_W;
      const slot = Math.min(avail / Math.max(1, slots), SHAPE_SLOT_MAX);
      const gap = Math.max(1, Math.min(8, slot * 0.15));
      const x0 = SHAPE_LABEL_W + (avail - slot * slots) / 2;
      level.nodes.forEach((node, i) => {
        const x = x0 + i * slot + gap / 2;
        const w = slot - gap;
        const fill = node.page_bytes > 0 ? Math.min(1, Math.max(0, node.used_bytes / node.page_bytes)) : 0;
        const box = svgEl('g', {
          class: `snode ${node.kind}`, 'data-page': node.page_id, 'data-kind': node.kind,
          'data-depth': level.depth, 'data-fill': fill.toFixed(3),
        }, g);
        svgEl('rect', { class: 'frame', x, y, width: w, height: SHAPE_NODE_H, rx: 3 }, box);
        const fh = fill * (SHAPE_NODE_H - 2);
        svgEl('rect', { class: 'fill', x: x + 1, y: y + SHAPE_NODE_H - 1 - fh, width: Math.max(0, w - 2), height: fh, rx: 2 }, box);
        if (w >= 30) {
          const text = svgEl('text', { x: x + w / 2, y: y + SHAPE_NODE_H / 2 }, box);
          text.textContent = node.page_id;
        }
        const title = svgEl('title', {}, box);
        const what = node.kind === 'leaf' ? `${node.cells} entries` : `${node.cells} separators, ${node.cells + 1} children`;
        title.textContent = `page ${node.page_id} (${node.kind}): ${what}; ${bytes(node.used_bytes)} of ` +
          `${bytes(node.page_bytes)} used (${(fill * 100).toFixed(0)} %); first key ${keyText(node.first_key_prefix)}`;
        const parent = node.parent === null ? undefined : drawn.get(node.parent);
        const cx = x + w / 2;
        if (parent) {
          const mid = (parent.bottom + y) / 2;
          svgEl('path', {
            d: `M${parent.cx.toFixed(1)},${parent.bottom} C${parent.cx.toFixed(1)},${mid} ${cx.toFixed(1)},${mid} ${cx.toFixed(1)},${y}`,
            'data-parent': node.parent, 'data-child': node.page_id,
          }, links);
        }
        drawn.set(node.page_id, { cx, bottom: y + SHAPE_NODE_H });
        shapeNodes.set(node.page_id, box);
      });
      if (level.truncated) {
        const more = svgEl('text', { class: 'more', x: x0 + (slots - 0.5) * slot, y: y + SHAPE_NODE_H / 2 }, g);
        more.textContent = '…';
        svgEl('title', {}, more).textContent = 'more nodes on this level than were read';
      }
    }
    // An interior node whose children were not read (past the per-level limit) gets a dashed
    // stub: its subtree is there, not drawn.
    const parents = new Set();
    for (const level of shape.levels) for (const node of level.nodes) if (node.parent !== null) parents.add(node.parent);
    shape.levels.forEach((level) => {
      for (const node of level.nodes) {
        const at = drawn.get(node.page_id);
        if (node.kind !== 'interior' || parents.has(node.page_id)) continue;
        svgEl('path', { class: 'stub', d: `M${at.cx.toFixed(1)},${at.bottom} v12`, 'data-parent': node.page_id }, links);
      }
    });
    for (const page of recent.keys()) highlight(page);
  }

  // Highlights `page` in the shape while a recent event names it.
  function highlight(page) {
    const entry = recent.get(page);
    const active = entry !== undefined && entry.until > Date.now();
    if (!active) recent.delete(page);
    const box = shapeNodes.get(page);
    if (!box) return;
    box.classList.remove('hl-split', 'hl-merge', 'hl-redistribute', 'hl-root_grow', 'hl-root_shrink');
    if (active) box.classList.add(`hl-${entry.type}`);
  }

  function mark(page, type) {
    recent.set(page, { type, until: Date.now() + HIGHLIGHT_MS });
    highlight(page);
  }

  // Twice a second, the highlights that expired are taken off.
  setInterval(() => {
    const now = Date.now();
    for (const [page, entry] of recent) if (entry.until <= now) highlight(page);
  }, 500);

  function onEvent(e) {
    switch (e.type) {
      case 'split': place(e.page, e.node, 'split'); place(e.other, e.node, 'split'); break;
      case 'merge': place(e.page, e.node, 'merge'); free(e.other); break;
      case 'redistribute': place(e.page, e.node, 'redistribute'); place(e.other, e.node, 'redistribute'); break;
      case 'root_grow': place(e.other, 'root', 'root_grow'); break;
      case 'root_shrink': free(e.page); place(e.other, 'root', 'root_shrink'); break;
      default: return;
    }
    mark(e.page, e.type);
    mark(e.other, e.type);
    const li = document.createElement('li');
    li.dataset.seq = e.seq;
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
      `the ${NODES_PER_ROW_MAX} most recently changed per level are shown, and highlighted in the ` +
      `tree above for ${HIGHLIGHT_MS / 1000} s where it draws them.`;
  }

  function onHello(message) {
    const table = message.shape_table ?? message.table;
    if (table === null || table === undefined) return;
    $('tree-table').textContent = table;
    if ($('shape-svg').dataset.status) return; // a shape came already
    $('shape-caption').textContent = message.shape_table === null
      ? 'This dashboard does not read the tree\'s shape; the nodes its events name are listed below.'
      : 'Waiting for the tree\'s shape.';
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
      else if (message.type === 'shape') onShape(message);
      else if (message.type === 'hello') onHello(message);
      else if (message.type === 'closed') setStatus('closed');
    };
    socket.onclose = () => { setStatus('disconnected'); setTimeout(connect, 1000); };
  }

  buildCharts();
  connect();
})();
