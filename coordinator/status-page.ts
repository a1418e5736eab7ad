/**
 * The coordinator's live status page: one self-contained HTML document (inline CSS and
 * script, no external fonts or CDN, so it works on an air-gapped cluster). The script polls
 * `/api/v1/status` every two seconds and redraws; every value is inserted as text, never as
 * HTML (worker ids, mount URIs and policy paths come from users).
 */
export const STATUS_POLL_MS = 2000;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Alluxio S3 cache — cluster status</title>
<style>
  :root { --bg:#f6f7f9; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --ok:#1a7f4b; --bad:#c2352b; --warn:#b7791f; --bar:#3b6fd8; --pin:#8a4fd8; }
  * { box-sizing: border-box; }
  body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; background:var(--bg); color:var(--ink); }
  header { display:flex; flex-wrap:wrap; gap:12px 24px; align-items:baseline; padding:14px 24px; background:#1d2330; color:#fff; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .meta { color:#c9cfdb; font-size:13px; }
  header .live { margin-left:auto; font-size:13px; }
  .dot { display:inline-block; width:8px; height:8px; border-radius:50%; margin-right:6px; background:var(--ok); vertical-align:middle; }
  .dot.stale { background:var(--bad); }
  main { padding:20px 24px; display:grid; gap:18px; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); }
  section { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px; min-width:0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); margin:0 0 10px; font-weight:600; }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:middle; white-space:nowrap; }
  td.wrap { white-space:normal; word-break:break-all; }
  th { font-size:12px; color:var(--muted); font-weight:600; }
  td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
  .badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--ok); }
  .badge.LOST, .badge.off, .badge.fail { background:var(--bad); }
  .badge.DECOMMISSIONING, .badge.DECOMMISSIONED { background:#8a6d00; }
  .badge.ro { background:var(--warn); }
  .badge.muted { background:#8a93a6; }
  .bar { position:relative; height:8px; width:120px; background:var(--line); border-radius:4px; overflow:hidden; display:inline-block; vertical-align:middle; margin-right:8px; }
  .bar > span { position:absolute; left:0; top:0; bottom:0; background:var(--bar); }
  .bar.pin > span { background:var(--pin); }
  .kv { display:grid; grid-template-columns: auto 1fr; gap:4px 14px; }
  .kv dt { color:var(--muted); }
  .kv dd { margin:0; font-variant-numeric: tabular-nums; }
  .big { font-size:26px; font-weight:600; }
  .muted { color:var(--muted); }
  #error { display:none; grid-column:1 / -1; background:#fdecea; border-color:#f5c2bd; color:var(--bad); }
  a { color:var(--bar); }
  code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
</style>
</head>
<body>
<header>
  <h1>Alluxio S3 cache</h1>
  <span class="meta">cluster version <b id="cluster-version">–</b></span>
  <span class="meta">write cache <span id="write-cache">–</span></span>
  <span class="meta">path policies v<b id="path-config-version">–</b></span>
  <span class="live"><span class="dot stale" id="live-dot"></span><span id="updated">connecting…</span></span>
</header>
<main>
  <section id="error"></section>
  <section>
    <h2>Members</h2>
    <div><span class="big" id="members-live">–</span> <span class="muted">live</span> · <span class="big" id="members-lost">–</span> <span class="muted">lost</span></div>
  </section>
  <section>
    <h2>Cache</h2>
    <dl class="kv">
      <dt>used</dt><dd id="cache-used">–</dd>
      <dt>capacity</dt><dd id="cache-capacity">–</dd>
      <dt>pinned (unpersisted)</dt><dd id="pinned-total">–</dd>
    </dl>
  </section>
  <section>
    <h2>Persistence backlog</h2>
    <dl class="kv" id="persistence">
      <dt>unpersisted</dt><dd id="persist-unpersisted">–</dd>
      <dt>pending bytes</dt><dd id="persist-pending-bytes">–</dd>
      <dt>failing</dt><dd id="persist-failing">–</dd>
      <dt>oldest</dt><dd id="persist-oldest">–</dd>
      <dt>transient</dt><dd id="persist-transient">–</dd>
    </dl>
  </section>
  <section class="wide">
    <h2>Workers</h2>
    <table>
      <thead><tr><th>worker</th><th>state</th><th>address</th><th>last heartbeat</th><th class="num">ring share</th><th>cache used / capacity</th><th class="num">pages</th><th>pinned</th><th class="num">persist queue</th><th>metrics</th></tr></thead>
      <tbody id="workers"></tbody>
    </table>
  </section>
  <section class="wide">
    <h2>Mounts</h2>
    <table>
      <thead><tr><th>path</th><th>under storage</th><th>mode</th></tr></thead>
      <tbody id="mounts"></tbody>
    </table>
  </section>
  <section class="wide">
    <h2>Path policies</h2>
    <table>
      <thead><tr><th>path</th><th>policy</th><th class="num">write replicas</th></tr></thead>
      <tbody id="policies"></tbody>
    </table>
  </section>
</main>
<script>
(function () {
  'use strict';
  var POLL_MS = ${STATUS_POLL_MS};
  var lastOk = 0;

  function fmtBytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }
  function fmtAge(ms) {
    if (ms < 1000) return ms + ' ms';
    var s = Math.round(ms / 1000);
    if (s < 120) return s + ' s';
    var m = Math.round(s / 60);
    if (m < 120) return m + ' min';
    return Math.round(m / 60) + ' h';
  }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function bar(used, cap, pin) {
    var pct = cap > 0 ? Math.min(100, used / cap * 100) : 0;
    var b = el('span', { className: pin ? 'bar pin' : 'bar' }, [el('span')]);
    b.firstChild.style.width = pct.toFixed(1) + '%';
    return b;
  }
  function setText(id, text, bytes) {
    var e = document.getElementById(id);
    e.textContent = text;
    if (bytes !== undefined) e.setAttribute('data-bytes', String(bytes));
  }
  function replace(id, rows) {
    var body = document.getElementById(id);
    while (body.firstChild) body.removeChild(body.firstChild);
    rows.forEach(function (r) { body.appendChild(r); });
  }

  function render(s) {
    setText('cluster-version', String(s.clusterVersion));
    var wc = document.getElementById('write-cache');
    wc.textContent = '';
    wc.appendChild(el('span', { className: 'badge ' + (s.writeCacheEnabled ? 'on' : 'muted'), text: s.writeCacheEnabled ? 'on' : 'off' }));
    setText('path-config-version', String(s.pathConfig.version));
    setText('members-live', String(s.membersByState.LIVE));
    setText('members-lost', String(s.membersByState.LOST));

    var used = 0, cap = 0, pinned = 0;
    s.workers.forEach(function (w) { if (w.state === 'LIVE') { used += w.cache.usedBytes; cap += w.cache.capacityBytes; } pinned += w.pinnedBytes; });
    setText('cache-used', fmtBytes(used), used);
    setText('cache-capacity', fmtBytes(cap), cap);
    setText('pinned-total', fmtBytes(pinned), pinned);

    var p = s.persistence;
    if (!p.available) {
      setText('persist-unpersisted', 'unavailable: ' + (p.error || 'no metastore'));
    } else {
      setText('persist-unpersisted', String(p.unpersisted));
    }
    setText('persist-pending-bytes', fmtBytes(p.pendingBytes), p.pendingBytes);
    setText('persist-failing', String(p.failing));
    setText('persist-oldest', p.unpersisted > 0 ? fmtAge(p.oldestUnpersistedAgeMs) : '–');
    setText('persist-transient', String(p.transient));

    var now = s.generatedAtMs;
    replace('workers', s.workers.map(function (w) {
      var tr = el('tr', { 'data-worker': w.id, 'data-state': w.state }, [
        el('td', { className: 'worker-id' }, [el('code', { text: w.id })]),
        el('td', { className: 'worker-state' }, [el('span', { className: 'badge ' + w.state, text: w.state })]),
        el('td', { text: w.host + ':' + w.s3Port }),
        el('td', { text: fmtAge(Math.max(0, now - w.lastHeartbeatMs)) + ' ago' }),
        el('td', { className: 'num worker-ring-share', 'data-share': String(w.ringShare), text: (w.ringShare * 100).toFixed(1) + '%' }),
        el('td', { className: 'worker-cache', 'data-bytes': String(w.cache.usedBytes) }, [bar(w.cache.usedBytes, w.cache.capacityBytes, false), fmtBytes(w.cache.usedBytes) + ' / ' + fmtBytes(w.cache.capacityBytes)]),
        el('td', { className: 'num', text: String(w.cache.pages) }),
        el('td', { className: 'worker-pinned', 'data-bytes': String(w.pinnedBytes) }, [fmtBytes(w.pinnedBytes) + (w.pinnedObjects ? ' (' + w.pinnedObjects + ' obj)' : '')]),
        el('td', { className: 'num worker-persist-queue', text: String(w.persistQueue) }),
        el('td', {}, w.webPort ? [el('a', { href: 'http://' + w.host + ':' + w.webPort + '/metrics', text: ':' + w.webPort + '/metrics' })] : [el('span', { className: 'muted', text: '–' })]),
      ]);
      return tr;
    }));

    replace('mounts', s.mounts.map(function (m) {
      return el('tr', { 'data-mount': m.path }, [
        el('td', {}, [el('code', { text: m.path })]),
        el('td', { className: 'wrap' }, [el('code', { text: m.ufsUri })]),
        el('td', {}, [el('span', { className: 'badge ' + (m.readOnly ? 'ro' : 'on'), text: m.readOnly ? 'read-only' : 'read-write' })]),
      ]);
    }));

    var doc = s.pathConfig.document || {};
    var rows = [];
    var d = doc['default'] || {};
    rows.push(el('tr', { 'data-policy': '/' }, [
      el('td', {}, [el('code', { text: '/ (default)' })]),
      el('td', { className: 'policy-mode', text: d.policyMode || 'WRITE_THROUGH' }),
      el('td', { className: 'num', text: String(d.writeReplicas || 1) }),
    ]));
    (doc.rules || []).forEach(function (r) {
      rows.push(el('tr', { 'data-policy': r.path }, [
        el('td', {}, [el('code', { text: r.path })]),
        el('td', { className: 'policy-mode', text: r.policyMode }),
        el('td', { className: 'num', text: String(r.writeReplicas || 1) }),
      ]));
    });
    replace('policies', rows);
  }

  function showError(msg) {
    var e = document.getElementById('error');
    e.style.display = msg ? 'block' : 'none';
    e.textContent = msg || '';
  }

  function tick() {
    fetch('/api/v1/status', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (s) {
        render(s);
        lastOk = Date.now();
        showError('');
        document.getElementById('live-dot').className = 'dot';
        document.body.setAttribute('data-cluster-version', String(s.clusterVersion));
        setText('updated', 'updated ' + new Date(lastOk).toLocaleTimeString());
      })
      .catch(function (err) {
        document.getElementById('live-dot').className = 'dot stale';
        showError('Cannot reach the coordinator (' + err.message + '); showing the last answer' + (lastOk ? ' from ' + new Date(lastOk).toLocaleTimeString() : '') + '.');
      })
      .finally(function () { setTimeout(tick, POLL_MS); });
  }
  tick();
})();
</script>
</body>
</html>
`;
