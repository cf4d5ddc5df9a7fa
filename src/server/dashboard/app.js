// Dashboard client for index.html: an MQTT-over-WebSocket client of this gateway (ws(s)://<location.host>/mqtt) that renders $SYS data and a topic tree. Uses only the global `mqtt` from /dashboard/vendor/mqtt.min.js.
//
// Inputs (contract: $SYS topics are retained, published by the gateway every sys.intervalMs):
//   $SYS/gateway/stats   JSON { time, uptimeSeconds, clients: { mqtt, stomp, byTransport: { tcp, ws } }, sessions,
//                        subscriptions, retained, messages: { in, out, inPerSecond, outPerSecond, dropped },
//                        partitions: [{ partition, startOffset, endOffset, bytes }], groups: [{ group, partition, committed, end, lag }],
//                        lag: { total, behind, top: [{ id, kind, lag }] },
//                        bridges: [{ kind, name, state, lag, messagesOut, messagesIn, errors, connects }] }
//   $SYS/gateway/clients JSON [{ clientId, protocol, transport, remote, connectedAt }]
//   $SYS/broker/version  text
//   #, $SYS/#            every other topic: last value per topic in the tree (`#` does not match `$` topics [MQTT-4.7.2-1])
// Live by subscription, no polling. All data reaches the DOM through textContent, never as HTML.
'use strict';
(() => {
  const HISTORY = 60; // chart samples (one per stats message)
  const MAX_TOPICS = 5000; // tree nodes kept; later topics are counted, not shown
  const MAX_CLIENT_ROWS = 500;
  const VALUE_CHARS = 200;

  const $ = (id) => document.getElementById(id);
  const num = new Intl.NumberFormat('en');
  const setText = (id, v) => {
    const el = $(id);
    const s = String(v);
    if (el && el.textContent !== s) el.textContent = s;
  };
  const fmtNum = (n) => (typeof n === 'number' && Number.isFinite(n) ? num.format(n) : '–');
  const fmtRate = (n) => (typeof n === 'number' && Number.isFinite(n) ? (n < 10 ? n.toFixed(1) : num.format(Math.round(n))) : '–');
  function fmtBytes(n) {
    if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
  }
  function fmtDuration(s) {
    if (typeof s !== 'number' || !Number.isFinite(s)) return '–';
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  }
  const decoder = new TextDecoder('utf-8', { fatal: true });
  function payloadText(payload) {
    if (payload.length === 0) return '(empty)';
    try {
      const s = decoder.decode(payload);
      return s.length > VALUE_CHARS ? `${s.slice(0, VALUE_CHARS)}…` : s;
    } catch {
      return `<${payload.length} bytes, binary>`;
    }
  }

  // ---- tables ----
  function renderRows(tableId, rows, cells, emptyText, keyOf) {
    const table = $(tableId);
    const body = table.tBodies[0];
    const width = table.tHead.rows[0].cells.length;
    if (!rows.length) {
      const td = document.createElement('td');
      td.colSpan = width;
      td.className = 'empty';
      td.textContent = emptyText;
      const tr = document.createElement('tr');
      tr.append(td);
      body.replaceChildren(tr);
      return;
    }
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      if (keyOf) tr.dataset.key = keyOf(r);
      for (const c of cells(r)) {
        const td = document.createElement('td');
        td.textContent = c;
        tr.append(td);
      }
      return tr;
    }));
  }

  // ---- messages-per-second chart (inline SVG, y scaled to the largest sample shown) ----
  const rates = { in: [], out: [] };
  function drawChart() {
    const max = Math.max(1, ...rates.in, ...rates.out);
    const top = 10, bottom = 140, width = 600;
    const points = (xs) => xs
      .map((v, i) => `${((HISTORY - xs.length + i) * width / (HISTORY - 1)).toFixed(1)},${(bottom - (v / max) * (bottom - top)).toFixed(1)}`)
      .join(' ');
    $('rate-line-in').setAttribute('points', points(rates.in));
    $('rate-line-out').setAttribute('points', points(rates.out));
    setText('rate-max', fmtRate(max));
  }

  // ---- $SYS/gateway/stats and $SYS/gateway/clients ----
  function onStats(s) {
    const c = s.clients || {};
    const t = c.byTransport || {};
    setText('clients-connected', fmtNum((c.mqtt || 0) + (c.stomp || 0)));
    setText('clients-mqtt', fmtNum(c.mqtt));
    setText('clients-stomp', fmtNum(c.stomp));
    setText('clients-tcp', fmtNum(t.tcp));
    setText('clients-ws', fmtNum(t.ws));
    setText('sessions', fmtNum(s.sessions));
    const lag = s.lag || { total: NaN, behind: NaN, top: [] };
    setText('lag-total', fmtNum(lag.total));
    setText('lag-behind', fmtNum(lag.behind));
    const worst = Array.isArray(lag.top) && lag.top.length ? lag.top[0] : undefined;
    setText('lag-top', worst ? `${worst.id} (${fmtNum(worst.lag)})` : '–');
    setText('subscriptions', fmtNum(s.subscriptions));
    setText('retained', fmtNum(s.retained));
    setText('uptime', fmtDuration(s.uptimeSeconds));
    const m = s.messages || {};
    setText('messages-in', fmtNum(m.in));
    setText('messages-out', fmtNum(m.out));
    setText('messages-dropped', fmtNum(m.dropped));
    setText('rate-in', `${fmtRate(m.inPerSecond)}/s`);
    setText('rate-out', `${fmtRate(m.outPerSecond)}/s`);
    rates.in.push(Number(m.inPerSecond) || 0);
    rates.out.push(Number(m.outPerSecond) || 0);
    if (rates.in.length > HISTORY) rates.in.shift();
    if (rates.out.length > HISTORY) rates.out.shift();
    drawChart();
    renderRows('partitions-table', s.partitions || [],
      (p) => [p.partition, fmtNum(p.startOffset), fmtNum(p.endOffset), fmtBytes(p.bytes)], 'no durable log', (p) => String(p.partition));
    renderRows('groups-table', s.groups || [],
      (g) => [g.group, g.partition, fmtNum(g.committed), fmtNum(g.end), fmtNum(g.lag)], 'no consumer groups', (g) => `${g.group}/${g.partition}`);
    renderRows('bridges-table', s.bridges || [],
      (b) => [b.name, b.kind, b.state, fmtNum(b.lag), fmtNum(b.messagesOut), fmtNum(b.messagesIn), fmtNum(b.errors)], 'no bridges', (b) => `${b.kind}/${b.name}`);
  }

  function onClients(list) {
    const sorted = [...list].sort((a, b) => (a.connectedAt || 0) - (b.connectedAt || 0));
    const shown = sorted.slice(0, MAX_CLIENT_ROWS);
    setText('clients-count', list.length > shown.length ? `${shown.length} of ${list.length}` : String(list.length));
    const since = (ms) => (typeof ms === 'number' ? `${new Date(ms).toLocaleTimeString()} (${fmtDuration((Date.now() - ms) / 1000)} ago)` : '–');
    renderRows('clients-table', shown,
      (k) => [k.clientId, k.protocol, k.transport, k.remote || '', since(k.connectedAt)], 'no clients', (k) => k.clientId);
  }

  // ---- topic tree: one <details> per level, created once and updated in place so open/closed state survives ----
  const root = { kids: new Map(), box: $('topic-tree'), depth: -1 };
  let topicCount = 0;
  let hidden = 0;
  const dirty = new Set();
  let scheduled = false;

  function child(parent, level, path) {
    let n = parent.kids.get(level);
    if (n) return n;
    const details = document.createElement('details');
    details.className = 'leaf';
    details.dataset.topic = path;
    details.open = parent.depth < 1; // the first two levels start open
    const summary = document.createElement('summary');
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = level === '' ? '(empty level)' : level;
    const value = document.createElement('span');
    value.className = 'value';
    const meta = document.createElement('span');
    meta.className = 'meta';
    const box = document.createElement('div');
    summary.append(name, value, meta);
    details.append(summary, box);
    n = { kids: new Map(), box, details, value, meta, depth: parent.depth + 1, text: null, retained: false, count: 0, at: 0 };
    // keep siblings sorted by name
    const after = [...parent.kids.keys()].filter((k) => k > level).sort()[0];
    parent.box.insertBefore(details, after === undefined ? null : parent.kids.get(after).details);
    parent.kids.set(level, n);
    if (parent.details) parent.details.classList.remove('leaf');
    return n;
  }

  function onTopic(topic, payload, retained) {
    let n = root;
    const levels = topic.split('/');
    for (let i = 0; i < levels.length; i++) {
      if (!n.kids.has(levels[i]) && topicCount >= MAX_TOPICS) { hidden++; return; }
      if (!n.kids.has(levels[i])) topicCount++;
      n = child(n, levels[i], levels.slice(0, i + 1).join('/'));
    }
    n.text = payloadText(payload);
    n.retained = retained;
    n.count++;
    n.at = Date.now();
    dirty.add(n);
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(flush);
    }
  }

  function flush() {
    scheduled = false;
    for (const n of dirty) {
      n.value.textContent = n.text;
      n.value.title = n.text;
      n.meta.replaceChildren();
      if (n.retained) {
        const b = document.createElement('span');
        b.className = 'badge';
        b.textContent = 'R';
        n.meta.append(b, ' ');
      }
      n.meta.append(`${fmtNum(n.count)} msg · ${new Date(n.at).toLocaleTimeString()}`);
    }
    dirty.clear();
    setText('topic-count', hidden ? `${topicCount} levels shown, ${hidden} messages on topics not shown` : `${topicCount} levels`);
  }

  // ---- the connection ----
  function setStatus(cls, text) {
    const el = $('conn');
    el.className = `status ${cls}`;
    el.textContent = text;
  }

  // Login: when the gateway has http.adminToken, the dashboard connects as `$admin` with the token as password
  // (src/core/auth.ts). The token comes from `#token=<token>` in the address (then removed from it) or the form,
  // and is kept in sessionStorage for this tab only. Without a token the dashboard connects anonymously
  // (allowed on loopback by default).
  const TOKEN_KEY = 'gateway-admin-token';
  const fromHash = /^#token=(.+)$/.exec(location.hash);
  if (fromHash) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(fromHash[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  const token = sessionStorage.getItem(TOKEN_KEY) || '';
  const loginForm = $('login');
  loginForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('login-token').value);
    location.reload();
  });

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/mqtt`;
  const client = mqtt.connect(url, {
    clientId: `dashboard-${Math.random().toString(16).slice(2, 10)}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 2000,
    connectTimeout: 5000,
    ...(token ? { username: '$admin', password: token } : {}),
  });
  client.on('connect', () => {
    loginForm.hidden = true;
    setStatus('live', 'live');
  });
  client.on('reconnect', () => setStatus('connecting', 'reconnecting'));
  let refused = '';
  client.on('close', () => setStatus('down', refused || 'disconnected'));
  client.on('error', (err) => {
    // CONNACK 4 (bad user name or password) / 5 (not authorized): ask for the admin token; stop retrying.
    if (err && (err.code === 4 || err.code === 5)) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      loginForm.hidden = false;
      refused = token ? 'admin token refused' : 'log in with the admin token';
      client.end(true);
      setStatus('down', refused);
      return;
    }
    setStatus('down', `error: ${err.message}`);
  });
  // Queued until CONNACK; mqtt.js re-subscribes after a reconnect.
  client.subscribe(['#', '$SYS/#'], { qos: 0 });

  client.on('message', (topic, payload, packet) => {
    onTopic(topic, payload, Boolean(packet.retain));
    try {
      if (topic === '$SYS/gateway/stats') onStats(JSON.parse(new TextDecoder().decode(payload)));
      else if (topic === '$SYS/gateway/clients') onClients(JSON.parse(new TextDecoder().decode(payload)));
      else if (topic === '$SYS/broker/version') setText('version', payloadText(payload));
    } catch (err) {
      console.warn(`dashboard: bad ${topic} payload`, err);
    }
  });
})();
