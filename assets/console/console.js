// job-runner console: one page over the daemon's own API. No framework, no build step,
// nothing loaded from elsewhere. Every text the API returns is put into the page as text
// (textContent), never as markup. The API secret is sent once to POST /session and
// forgotten; the session cookie is HttpOnly, and state-changing requests carry the
// session's CSRF token, which lives in memory only.
'use strict';

(() => {
  const CONFIG = JSON.parse(document.getElementById('console-config').textContent);
  const POLL_RUNS_MS = 2000;
  const POLL_RUN_MS = 1500;
  const POLL_HEALTH_MS = 10000;
  const PAGE_SIZE = 25;
  const MAX_LOG_LINES = 5000;

  /** The session's CSRF token (memory only). */
  let csrf = null;
  /** The view showing now: { leave() }. */
  let current = null;

  // ---- small DOM helpers -------------------------------------------------------------

  const byId = (id) => document.getElementById(id);

  /** An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function badge(status) {
    return el('span', { class: `badge st-${status}`, text: String(status).replace(/_/g, ' ') });
  }

  function notice(text, bad) {
    const n = byId('notice');
    n.textContent = text || '';
    n.classList.toggle('bad', !!bad);
  }

  const shortId = (id) => (id ? String(id).slice(0, 8) : '');

  function duration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    if (ms < 10000) return `${(ms / 1000).toFixed(1)} s`;
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${s % 60} s`;
    return `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function money(usd) {
    if (usd === null || usd === undefined) return '—';
    if (usd === 0) return '$0';
    return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
  }

  function when(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  /** A timer that runs `fn` now and then every `ms` until stopped; never overlapping. */
  function poller(fn, ms) {
    let timer = null;
    let stopped = false;
    let failing = false;
    const tick = async () => {
      try {
        await fn();
        // Recovered: the error it reported is no longer true.
        if (failing) notice('');
        failing = false;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 401)) {
          failing = true;
          notice(`Could not refresh: ${e.message}; retrying.`, true);
        }
      }
      if (!stopped) timer = setTimeout(tick, ms);
    };
    tick();
    return { stop() { stopped = true; clearTimeout(timer); } };
  }

  // ---- the API -----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, options = {}) {
    const method = options.method || 'GET';
    const headers = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
    let res;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'NETWORK', 'the daemon cannot be reached');
    }
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (!res.ok) {
      const err = new ApiError(res.status, data && data.code, (data && (data.detail || data.error)) || res.statusText);
      if (res.status === 401 && CONFIG.auth === 'on' && !options.login) signedOut(err);
      throw err;
    }
    return options.raw ? text : data;
  }

  // ---- session -----------------------------------------------------------------------

  function signedIn(session) {
    csrf = session.csrf_token || null;
    byId('nav').hidden = false;
    byId('logout').hidden = CONFIG.auth !== 'on';
    byId('auth-off').hidden = CONFIG.auth === 'on';
    if (!location.hash || location.hash === '#/login') location.hash = '#/runs';
    route();
  }

  /** Back to the login form: the session ended (logout, expiry, revocation). */
  function signedOut(reason) {
    csrf = null;
    if (current) current.leave();
    current = null;
    byId('nav').hidden = true;
    byId('logout').hidden = true;
    show('login');
    const why = reason && reason.code === 'SESSION_EXPIRED' ? 'Your session expired; sign in again.'
      : reason && reason.code === 'SESSION_REVOKED' ? 'That session was ended; sign in again.'
        : reason && reason.message ? reason.message : '';
    notice(why, !!why);
    byId('secret').focus();
  }

  byId('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = byId('secret');
    const secret = input.value;
    // The secret leaves the page with this request and is not kept anywhere.
    input.value = '';
    byId('login-error').textContent = '';
    if (!secret.trim()) {
      byId('login-error').textContent = 'Enter the API secret.';
      input.focus();
      return;
    }
    byId('login-button').disabled = true;
    try {
      const session = await api('/session', { method: 'POST', body: { secret }, login: true });
      notice('');
      signedIn(session);
    } catch (e) {
      byId('login-error').textContent = e.code === 'INVALID_SECRET' ? 'That is not the API secret.' : e.message;
      input.focus();
    } finally {
      byId('login-button').disabled = false;
    }
  });

  byId('logout').addEventListener('click', async () => {
    if (current) current.leave();
    current = null;
    try {
      await api('/session', { method: 'DELETE' });
    } catch (e) {
      // The cookie is cleared either way; say what happened.
      notice(`Logout: ${e.message}`, true);
    }
    csrf = null;
    signedOut(null);
    notice('Signed out.');
    location.hash = '#/login';
  });

  // ---- views -------------------------------------------------------------------------

  const VIEWS = ['login', 'runs', 'run', 'start', 'health'];

  function show(name) {
    for (const v of VIEWS) byId(`view-${v}`).hidden = v !== name;
    for (const a of document.querySelectorAll('#nav a')) {
      const here = a.dataset.view === name || (name === 'run' && a.dataset.view === 'runs');
      if (here) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
  }

  function route() {
    if (byId('nav').hidden) return;
    const parts = (location.hash || '#/runs').replace(/^#\/?/, '').split('/');
    if (current) current.leave();
    current = null;
    notice('');
    let title = 'Runs';
    if (parts[0] === 'runs' && /^[0-9a-f]{32}$/.test(parts[1] || '')) { current = runView(parts[1]); title = `Run ${shortId(parts[1])}`; }
    else if (parts[0] === 'start') { current = startView(); title = 'Start work'; }
    else if (parts[0] === 'health') { current = healthView(); title = 'Health'; }
    else current = runsView();
    document.title = `${title} · job-runner console`;
    byId('main').focus({ preventScroll: true });
  }
  window.addEventListener('hashchange', route);

  // ---- runs --------------------------------------------------------------------------

  const runsFilter = { status: '', job: '', offset: 0 };

  function producers(stages) {
    const counts = {};
    for (const s of stages || []) {
      if (!s.producer) continue;
      const name = s.producer === 'offline_fallback' ? 'fallback' : s.producer;
      counts[name] = (counts[name] || 0) + 1;
    }
    const parts = Object.entries(counts).map(([k, n]) => `${k} ${n}`);
    return parts.length ? parts.join(' · ') : '—';
  }

  function stageBar(stages) {
    const label = (stages || []).map((s) => `${s.name.replace(/_/g, ' ')} ${s.status}`).join(', ');
    return el('span', { class: 'stagebar', role: 'img', 'aria-label': `Stages: ${label}` },
      (stages || []).map((s) => el('span', { class: `seg-${s.status}`, title: `${s.name}: ${s.status}` })));
  }

  function runDuration(run) {
    const start = run.running_since ? Date.parse(run.running_since) : null;
    if (!start) return run.status === 'queued' ? `waiting ${duration(Date.now() - Date.parse(run.created_at))}` : '—';
    const end = run.finished_at ? Date.parse(run.finished_at) : Date.now();
    return duration(end - start);
  }

  function runRow(run) {
    const stages = run.stages || [];
    const done = stages.filter((s) => s.status === 'completed').length;
    const job = run.job || {};
    const cost = run.cost_usd !== null && run.cost_usd !== undefined ? run.cost_usd : run.cost_so_far_usd;
    // One element per cell, so the phone layout's label column stays aligned.
    const cell = (label, attrs, ...content) => el('td', { 'data-label': label, ...attrs }, el('div', {}, ...content));
    return [
      cell('Run', {}, el('a', { href: `#/runs/${run.run_id}`, class: 'id', 'aria-label': `Run ${run.run_id}` }, shortId(run.run_id))),
      cell('Status', {}, badge(run.status)),
      cell('Job', { class: 'job' },
        el('span', {}, job.company ? `${job.company} — ${job.title || ''}` : run.job_id),
        el('button', { type: 'button', class: 'linklike id', 'data-job': run.job_id, 'aria-label': `Show only the runs of job ${run.job_id}` }, run.job_id)),
      cell('Operation', {}, `${run.operation || 'batch-pipeline'} · ${run.processing_tier || 'default'}`),
      cell('Stages', {}, `${done}/${stages.length}`, stageBar(stages)),
      cell('Producer', {}, producers(stages)),
      cell('Duration', { class: 'num' }, runDuration(run)),
      cell('Cost', { class: 'num' }, money(cost)),
    ];
  }

  function runsView() {
    show('runs');
    byId('filter-status').value = runsFilter.status;
    byId('filter-job').value = runsFilter.job;
    const body = byId('runs-body');
    const rows = new Map(); // run id -> { tr, signature }
    const refresh = async () => {
      const q = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(runsFilter.offset), include: 'stages' });
      if (runsFilter.status) q.set('status', runsFilter.status);
      if (runsFilter.job) q.set('job_id', runsFilter.job);
      const page = await api(`/runs?${q}`);
      const seen = new Set();
      let previous = null;
      for (const run of page.runs) {
        seen.add(run.run_id);
        const signature = JSON.stringify([run.status, run.stages, run.cost_usd, run.cost_so_far_usd, run.job, run.finished_at,
          run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled' ? '' : Math.floor(Date.now() / 1000)]);
        let entry = rows.get(run.run_id);
        if (!entry) {
          entry = { tr: el('tr', { 'data-run': run.run_id }), signature: '' };
          rows.set(run.run_id, entry);
        }
        // Only a changed row is rebuilt: focus on an unchanged one stays put.
        if (entry.signature !== signature) {
          entry.tr.replaceChildren(...runRow(run));
          entry.signature = signature;
        }
        const want = previous ? previous.nextSibling : body.firstChild;
        if (want !== entry.tr) body.insertBefore(entry.tr, want);
        previous = entry.tr;
      }
      for (const [id, entry] of rows) {
        if (!seen.has(id)) { entry.tr.remove(); rows.delete(id); }
      }
      const from = page.total ? runsFilter.offset + 1 : 0;
      const to = runsFilter.offset + page.runs.length;
      byId('runs-summary').textContent = page.total
        ? `Runs ${from}–${to} of ${page.total}, newest first; refreshed ${new Date().toLocaleTimeString()}.`
        : 'No runs match. Start work from “Start work”.';
      byId('runs-newer').disabled = runsFilter.offset === 0;
      byId('runs-older').disabled = to >= page.total;
    };
    let poll = poller(refresh, POLL_RUNS_MS);
    const restart = () => { poll.stop(); body.replaceChildren(); rows.clear(); poll = poller(refresh, POLL_RUNS_MS); };
    const onFilter = (event) => {
      event.preventDefault();
      const job = byId('filter-job').value.trim().toLowerCase();
      if (job && !/^[0-9a-f]{24}$/.test(job)) {
        byId('filter-job-error').textContent = 'A job id is 24 hexadecimal characters.';
        byId('filter-job').focus();
        return;
      }
      byId('filter-job-error').textContent = '';
      Object.assign(runsFilter, { status: byId('filter-status').value, job, offset: 0 });
      restart();
    };
    const onClear = () => {
      Object.assign(runsFilter, { status: '', job: '', offset: 0 });
      byId('filter-status').value = '';
      byId('filter-job').value = '';
      byId('filter-job-error').textContent = '';
      restart();
    };
    const onStatus = (event) => onFilter(event);
    // A job id in the list filters the list to that job.
    const onJob = (event) => {
      const button = event.target.closest('button[data-job]');
      if (!button) return;
      byId('filter-job').value = button.dataset.job;
      onFilter(event);
    };
    body.addEventListener('click', onJob);
    const onNewer = () => { runsFilter.offset = Math.max(0, runsFilter.offset - PAGE_SIZE); restart(); };
    const onOlder = () => { runsFilter.offset += PAGE_SIZE; restart(); };
    const form = byId('runs-filter');
    form.addEventListener('submit', onFilter);
    byId('filter-status').addEventListener('change', onStatus);
    byId('filter-clear').addEventListener('click', onClear);
    byId('runs-newer').addEventListener('click', onNewer);
    byId('runs-older').addEventListener('click', onOlder);
    return {
      leave() {
        poll.stop();
        form.removeEventListener('submit', onFilter);
        body.removeEventListener('click', onJob);
        byId('filter-status').removeEventListener('change', onStatus);
        byId('filter-clear').removeEventListener('click', onClear);
        byId('runs-newer').removeEventListener('click', onNewer);
        byId('runs-older').removeEventListener('click', onOlder);
        body.replaceChildren();
      },
    };
  }

  // ---- one run -----------------------------------------------------------------------

  const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
  const PREVIEWS = { 'CV.md': 'markdown', 'cv_review.md': 'markdown', 'cover_letter.txt': 'text', 'dossier.txt': 'text' };

  /** The live log over EventSource: resumes after the last line seen, reconnects with backoff. */
  function logStream(runId, box, stateBadge) {
    let last = 0;
    let source = null;
    let closed = false;
    let retry = 1000;
    let timer = null;
    const setState = (s) => { stateBadge.textContent = s; stateBadge.className = `badge st-${s}`; };
    const follow = () => byId('log-follow').checked;
    const append = (text, id) => {
      const m = /^\d\d:\d\d:\d\d (\w+) /.exec(text);
      box.append(el('div', { class: `line lvl-${m ? m[1] : 'INFO'}`, 'data-seq': id }, text));
      while (box.childElementCount > MAX_LOG_LINES) box.firstElementChild.remove();
      if (follow()) box.scrollTop = box.scrollHeight;
    };
    const open = () => {
      if (closed) return;
      setState(last ? 'reconnecting' : 'connecting');
      const url = `/jobs/${runId}/logs${last ? `?last_event_id=${last}` : ''}`;
      source = new EventSource(url);
      source.onopen = () => { setState('live'); retry = 1000; };
      source.onmessage = (e) => {
        const seq = Number(e.lastEventId);
        if (seq && seq <= last) return; // already shown
        if (seq) last = seq;
        append(e.data, e.lastEventId);
      };
      source.addEventListener('end', () => {
        setState('ended');
        closed = true;
        source.close();
      });
      source.onerror = () => {
        if (closed) return;
        if (source.readyState === EventSource.CLOSED) {
          // The browser gave up (an error answer): reopen after a pause, resuming.
          setState('reconnecting');
          timer = setTimeout(open, retry);
          retry = Math.min(retry * 2, 15000);
        } else {
          setState('reconnecting');
        }
      };
    };
    open();
    return { close() { closed = true; clearTimeout(timer); if (source) source.close(); } };
  }

  function stageTimeline(progress) {
    const stages = progress.stages || [];
    const starts = stages.map((s) => s.started_at && Date.parse(s.started_at)).filter(Boolean);
    const t0 = starts.length ? Math.min(...starts) : null;
    const ends = stages.map((s) => (s.finished_at ? Date.parse(s.finished_at) : s.started_at ? Date.now() : null)).filter(Boolean);
    const t1 = ends.length ? Math.max(...ends) : null;
    const span = t0 && t1 && t1 > t0 ? t1 - t0 : null;
    return stages.map((s) => {
      const producer = s.producer ? (s.producer === 'offline_fallback' ? 'offline (fallback)' : s.producer) : null;
      const bits = [s.status];
      if (producer) bits.push(producer);
      if (s.model) bits.push(s.model);
      if (s.duration_ms !== null && s.duration_ms !== undefined) bits.push(duration(s.duration_ms));
      if (s.cost && s.cost.cost_usd) bits.push(money(s.cost.cost_usd));
      if (s.source_run) bits.push(`reused from ${shortId(s.source_run)}`);
      if (s.error) bits.push(s.error);
      const seg = el('span', { class: `seg-${s.status}` });
      if (span && s.started_at) {
        const a = Date.parse(s.started_at) - t0;
        const b = (s.finished_at ? Date.parse(s.finished_at) : Date.now()) - t0;
        seg.style.left = `${(100 * a) / span}%`;
        seg.style.width = `${Math.max(0.5, (100 * (b - a)) / span)}%`;
      } else {
        seg.style.left = '0';
        seg.style.width = '0';
      }
      return el('li', { 'data-stage': s.name, 'data-status': s.status },
        el('span', { class: 'name' }, s.name.replace(/_/g, ' ')),
        el('span', {}, badge(s.status)),
        el('span', { class: 'meta' }, bits.slice(1).join(' · ') || 'not started'),
        el('span', { class: 'track', 'aria-hidden': 'true' }, seg));
    });
  }

  function runView(runId) {
    show('run');
    byId('run-title').textContent = `Run ${shortId(runId)}`;
    byId('run-summary').textContent = '';
    byId('run-stages').replaceChildren();
    byId('run-files').replaceChildren();
    byId('run-log').replaceChildren();
    byId('preview-panel').hidden = true;
    byId('preview').replaceChildren();
    const cancelButton = byId('run-cancel');
    const retryButton = byId('run-retry');
    cancelButton.disabled = true;
    retryButton.disabled = true;
    const stream = logStream(runId, byId('run-log'), byId('log-state'));
    let status = null;
    let filesShown = '';
    let poll = null;
    let jobShown = false;

    const showFiles = (artifacts) => {
      const entries = Object.entries(artifacts || {}).sort((a, b) => a[1].localeCompare(b[1]));
      const key = JSON.stringify(entries);
      if (key === filesShown) return;
      filesShown = key;
      byId('run-files-empty').hidden = entries.length > 0;
      byId('run-files').replaceChildren(...entries.map(([, url]) => {
        const name = decodeURIComponent(url.split('/').pop());
        const kind = PREVIEWS[name];
        return el('li', {},
          el('a', { href: url, download: name }, name),
          kind ? el('button', { type: 'button', class: 'quiet', 'data-preview': name, onclick: () => preview(url, name, kind) }, `Preview ${name}`) : null);
      }));
    };

    const refresh = async () => {
      const [st, progress] = await Promise.all([api(`/jobs/${runId}/status`), api(`/jobs/${runId}/progress`)]);
      status = st.status;
      if (!jobShown) {
        jobShown = true;
        api(`/runs?job_id=${st.job_id}&limit=1&include=stages`).then((page) => {
          const job = page.runs[0] && page.runs[0].job;
          if (job && job.company) byId('run-title').textContent = `${job.company} — ${job.title || ''}`;
        }).catch(() => {});
      }
      byId('run-summary').replaceChildren(
        badge(st.status), ' ',
        `${st.operation || 'batch-pipeline'} · tier ${st.processing_tier || 'default'} · job `,
        el('span', { class: 'id' }, st.job_id),
        ` · ${progress.stages_completed}/${progress.stages_total} stages · ${duration(progress.elapsed_ms)}`,
        progress.cost && progress.cost.calls ? ` · ${money(progress.cost.cost_usd)} (${progress.cost.calls} model calls)` : '',
        st.error ? ` · ${st.error}` : '');
      byId('run-stages').replaceChildren(...stageTimeline(progress));
      showFiles(st.artifacts);
      cancelButton.disabled = TERMINAL.has(st.status);
      retryButton.disabled = !(st.status === 'failed' || st.status === 'cancelled');
      if (TERMINAL.has(st.status) && poll) poll.stop();
    };
    poll = poller(refresh, POLL_RUN_MS);

    const onCancel = async () => {
      cancelButton.disabled = true;
      try {
        await api(`/jobs/${runId}/cancel`, { method: 'POST' });
        notice('Cancellation requested.');
        poll.stop();
        poll = poller(refresh, POLL_RUN_MS);
      } catch (e) {
        notice(`Cancel failed: ${e.message}`, true);
        cancelButton.disabled = status !== null && TERMINAL.has(status);
      }
    };
    const onRetry = async () => {
      retryButton.disabled = true;
      try {
        const answer = await api(`/runs/${runId}/retry`, { method: 'POST' });
        const next = answer && answer.item && answer.item.run_id;
        notice('Run queued again.');
        if (next && next !== runId) location.hash = `#/runs/${next}`;
        else { poll.stop(); poll = poller(refresh, POLL_RUN_MS); }
      } catch (e) {
        notice(`Retry failed: ${e.message}`, true);
      }
    };
    cancelButton.addEventListener('click', onCancel);
    retryButton.addEventListener('click', onRetry);
    return {
      leave() {
        poll.stop();
        stream.close();
        cancelButton.removeEventListener('click', onCancel);
        retryButton.removeEventListener('click', onRetry);
      },
    };
  }

  async function preview(url, name, kind) {
    const panel = byId('preview-panel');
    const box = byId('preview');
    try {
      const text = await api(url, { raw: true });
      byId('preview-title').textContent = `Preview: ${name}`;
      box.replaceChildren(...(kind === 'markdown' ? markdown(text) : [el('pre', {}, text)]));
      panel.hidden = false;
      box.focus();
    } catch (e) {
      notice(`Could not open ${name}: ${e.message}`, true);
    }
  }

  // ---- Markdown, rendered as DOM nodes (never as HTML) -----------------------------

  /** Inline Markdown: **strong**, *em* / _em_, `code`, [text](http…). */
  function inline(text) {
    const out = [];
    const re = /(\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\))/g;
    let at = 0;
    let m;
    while ((m = re.exec(text)) !== null) {
      if (m.index > at) out.push(text.slice(at, m.index));
      if (m[2] || m[3]) out.push(el('strong', {}, inline(m[2] || m[3])));
      else if (m[4] || m[5]) out.push(el('em', {}, inline(m[4] || m[5])));
      else if (m[6]) out.push(el('code', {}, m[6]));
      else if (m[7]) {
        const href = /^(https?:|mailto:)/i.test(m[8]) ? m[8] : null;
        out.push(href ? el('a', { href, rel: 'noopener noreferrer', target: '_blank' }, inline(m[7])) : m[7]);
      }
      at = m.index + m[0].length;
    }
    if (at < text.length) out.push(text.slice(at));
    return out;
  }

  /** Block Markdown: headings, paragraphs, lists, quotes, rules. */
  function markdown(src) {
    const blocks = [];
    let para = [];
    let list = null;
    // A paragraph keeps its line breaks: a CV's contact line and headline stay two lines.
    const flushPara = () => {
      if (para.length) blocks.push(el('p', {}, para.flatMap((line, i) => (i ? [el('br'), ...inline(line)] : inline(line)))));
      para = [];
    };
    const flushList = () => { if (list) blocks.push(list); list = null; };
    for (const raw of src.replace(/\r\n?/g, '\n').split('\n')) {
      const line = raw.trimEnd();
      let m;
      if (!line.trim()) { flushPara(); flushList(); continue; }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        flushPara(); flushList();
        const level = Math.min(6, m[1].length + 1); // the page has its own h1
        blocks.push(el(`h${level}`, {}, inline(m[2].replace(/\s#+$/, ''))));
      } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
        flushPara(); flushList();
        blocks.push(el('hr'));
      } else if ((m = /^\s*[-*+]\s+(.*)$/.exec(line))) {
        flushPara();
        if (!list || list.tagName !== 'UL') { flushList(); list = el('ul'); }
        list.append(el('li', {}, inline(m[1])));
      } else if ((m = /^\s*\d+[.)]\s+(.*)$/.exec(line))) {
        flushPara();
        if (!list || list.tagName !== 'OL') { flushList(); list = el('ol'); }
        list.append(el('li', {}, inline(m[1])));
      } else if ((m = /^>\s?(.*)$/.exec(line))) {
        flushPara(); flushList();
        blocks.push(el('blockquote', {}, inline(m[1])));
      } else if (list && /^\s{2,}\S/.test(raw) && list.lastElementChild) {
        list.lastElementChild.append(' ', ...inline(line.trim()));
      } else {
        flushList();
        para.push(line.trim());
      }
    }
    flushPara();
    flushList();
    return blocks;
  }

  // ---- start work --------------------------------------------------------------------

  function startView() {
    show('start');
    const operation = byId('start-operation');
    if (!operation.options.length) {
      for (const op of CONFIG.operations) {
        operation.append(el('option', { value: op.name, selected: op.full }, op.full ? `${op.name} (full run)` : op.name));
      }
      for (const tier of CONFIG.tiers) byId('start-tier').append(el('option', { value: tier }, tier));
    }
    const results = byId('job-results');
    const selected = new Set();
    let seq = 0;
    let debounce = null;
    const search = async () => {
      const mine = ++seq;
      const q = byId('job-search').value.trim();
      try {
        const answer = await api(`/jobs?${new URLSearchParams({ q, limit: '50' })}`);
        if (mine !== seq) return; // a newer search is on its way
        byId('job-count').textContent = answer.jobs.length
          ? `(${answer.jobs.length} shown${answer.jobs.length === 50 ? '; refine the search for more' : ''})`
          : '';
        results.replaceChildren(...(answer.jobs.length ? answer.jobs.map((job) => {
          const box = el('input', { type: 'checkbox', value: job.job_id, checked: selected.has(job.job_id) });
          box.addEventListener('change', () => { if (box.checked) selected.add(job.job_id); else selected.delete(job.job_id); });
          return el('li', {}, el('label', {}, box, el('span', {},
            `${job.company || 'Unknown company'} — ${job.title || 'Untitled'}`,
            el('small', {}, [job.location, job.status, job.job_id].filter(Boolean).join(' · ')))));
        }) : [el('li', { class: 'muted' }, q ? `No job matches “${q}”.` : 'No jobs are stored yet (job-runner import <file>).')]));
      } catch (e) {
        if (mine === seq) byId('start-error').textContent = e.message;
      }
    };
    const onInput = () => { clearTimeout(debounce); debounce = setTimeout(search, 250); };
    const setAll = (on) => {
      for (const box of results.querySelectorAll('input[type=checkbox]')) {
        box.checked = on;
        if (on) selected.add(box.value); else selected.delete(box.value);
      }
    };
    const onAll = () => setAll(true);
    const onNone = () => setAll(false);
    const onSubmit = async (event) => {
      event.preventDefault();
      const error = byId('start-error');
      error.textContent = '';
      const ids = [...selected];
      if (!ids.length) { error.textContent = 'Select at least one job.'; byId('job-search').focus(); return; }
      if (ids.length > CONFIG.max_bulk) { error.textContent = `Select at most ${CONFIG.max_bulk} jobs (MAX_QUEUE).`; return; }
      const op = operation.value;
      const tier = byId('start-tier').value || undefined;
      const button = byId('start-button');
      button.disabled = true;
      try {
        const answer = ids.length === 1
          ? { runs: [await api(`/api/jobs/${ids[0]}/operations/${encodeURIComponent(op)}/queue`, { method: 'POST', body: { tier } })] }
          : await api(`/api/jobs/${encodeURIComponent(op)}/batch`, { method: 'POST', body: { job_ids: ids, tier } });
        byId('started-panel').hidden = false;
        byId('started').replaceChildren(...answer.runs.map((r) => el('li', {},
          el('a', { href: `#/runs/${r.run_id}` }, `Run ${shortId(r.run_id)}`),
          ` — ${r.operation || op}, job `, el('span', { class: 'id' }, r.job_id), ' ', badge(r.status))));
        notice(`${answer.runs.length} run${answer.runs.length === 1 ? '' : 's'} queued.`);
        selected.clear();
        setAll(false);
      } catch (e) {
        error.textContent = e.message;
      } finally {
        button.disabled = false;
      }
    };
    byId('job-search').addEventListener('input', onInput);
    byId('jobs-all').addEventListener('click', onAll);
    byId('jobs-none').addEventListener('click', onNone);
    byId('start-form').addEventListener('submit', onSubmit);
    search();
    return {
      leave() {
        clearTimeout(debounce);
        seq++;
        byId('job-search').removeEventListener('input', onInput);
        byId('jobs-all').removeEventListener('click', onAll);
        byId('jobs-none').removeEventListener('click', onNone);
        byId('start-form').removeEventListener('submit', onSubmit);
      },
    };
  }

  // ---- health ------------------------------------------------------------------------

  function costChart(buckets) {
    const figure = byId('cost-chart');
    const data = (Array.isArray(buckets) ? buckets : []).map((b) => ({ day: b.period, cost_usd: b.cost_usd || 0, calls: b.calls || 0 }));
    if (!data.some((d) => d.calls > 0)) {
      figure.replaceChildren(el('figcaption', {}, `No model calls in the last ${data.length || 30} days (every stage ran offline).`));
      return;
    }
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    const W = 600;
    const H = 180;
    const pad = 24;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.setAttribute('role', 'img');
    const max = Math.max(...data.map((d) => d.cost_usd || 0), 0.0001);
    const total = data.reduce((sum, d) => sum + (d.cost_usd || 0), 0);
    svg.setAttribute('aria-label', `Model spend per day over ${data.length} days, ${money(total)} in all; highest ${money(max)}.`);
    const bw = (W - pad * 2) / data.length;
    const axis = document.createElementNS(NS, 'line');
    for (const [k, v] of Object.entries({ x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: 'axis' })) axis.setAttribute(k, v);
    svg.append(axis);
    data.forEach((d, i) => {
      const h = ((d.cost_usd || 0) / max) * (H - pad * 2);
      const r = document.createElementNS(NS, 'rect');
      for (const [k, v] of Object.entries({ x: pad + i * bw + 1, y: H - pad - h, width: Math.max(1, bw - 2), height: h, class: 'bar-fill' })) r.setAttribute(k, v);
      const t = document.createElementNS(NS, 'title');
      t.textContent = `${d.day}: ${money(d.cost_usd)} (${d.calls} calls)`;
      r.append(t);
      svg.append(r);
    });
    const first = document.createElementNS(NS, 'text');
    first.setAttribute('x', pad); first.setAttribute('y', H - 6); first.textContent = data[0].day;
    const last = document.createElementNS(NS, 'text');
    last.setAttribute('x', W - pad); last.setAttribute('y', H - 6); last.setAttribute('text-anchor', 'end');
    last.textContent = data[data.length - 1].day;
    const top = document.createElementNS(NS, 'text');
    top.setAttribute('x', pad); top.setAttribute('y', pad - 8); top.textContent = `max ${money(max)}`;
    svg.append(first, last, top);
    figure.replaceChildren(svg, el('figcaption', {}, `${money(total)} over the last ${data.length} days.`));
  }

  /** What a check measured, in its own words, with the limit when it has a numeric one. */
  function checkValue(c) {
    const limit = typeof c.threshold === 'number' ? ` (limit ${c.threshold})` : '';
    if (c.message) return `${c.message}${limit}`;
    if (c.value === null || c.value === undefined) return '—';
    return `${typeof c.value === 'number' ? Math.round(c.value * 10) / 10 : c.value}${limit}`;
  }

  function spendLine(label, spend) {
    const s = spend || {};
    return [el('dt', {}, label), el('dd', {}, `${money(s.cost_usd || 0)} · ${s.calls || 0} calls`)];
  }

  function healthView() {
    show('health');
    const refresh = async () => {
      const [deep, budget, history, alerts, queue] = await Promise.all([
        api('/health/deep'), api('/api/metrics/budget'), api('/api/metrics/cost-history?period=daily&count=30'),
        api('/api/metrics/alerts?limit=20'), api('/queue/state'),
      ]);
      const s = byId('health-status');
      s.textContent = deep.status;
      s.className = `badge st-${deep.status}`;
      byId('health-summary').textContent = `Checked ${when(deep.checked_at)} · ${deep.rounds} rounds · runners live: ${deep.runners_live === null ? 'unknown' : deep.runners_live}`;
      byId('health-checks').replaceChildren(...(deep.checks || []).map((c) => el('tr', {},
        el('th', { scope: 'row' }, c.name),
        el('td', {}, badge(c.status)),
        el('td', {}, checkValue(c)),
        el('td', {}, when(c.last_change)))));
      const stats = queue.stats || {};
      const pairs = [['Waiting', stats.total_pending], ['Running', stats.total_running], ['Failed', stats.total_failed],
        ['Completed today', stats.total_completed_today]].filter(([, v]) => v !== undefined);
      byId('health-queue').replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, String(v))]),
        ...spendLine('Model spend today', budget.today), ...spendLine('Last 7 days', budget.last_7_days),
        ...spendLine('Last 30 days', budget.last_30_days),
        el('dt', {}, 'Cost cap per run'), el('dd', {}, money(budget.max_cost_per_run_usd)));
      const trackers = Object.values(budget.by_tracker || {});
      byId('health-budgets').replaceChildren(...(trackers.length ? trackers.map((t) => el('li', {},
        el('strong', {}, t.name), ' ', badge(t.status), ` ${money(t.used_usd)} of ${money(t.budget_usd)} (${Math.round(t.used_percent)}%)`,
        el('meter', { min: 0, max: t.budget_usd || 1, value: Math.min(t.used_usd, t.budget_usd || 1), low: (t.budget_usd || 1) * 0.7,
          high: (t.budget_usd || 1) * 0.9, optimum: 0, 'aria-label': `${t.name}: ${Math.round(t.used_percent)}% of its budget used` })))
        : [el('li', { class: 'muted' }, 'No budget tracker is set (LLM budget settings); the per-run cap above still applies.')]));
      costChart(history.costs);
      const items = alerts.alerts || [];
      byId('health-alerts').replaceChildren(...(items.length ? items.map((a) => el('li', {},
        el('time', { datetime: a.timestamp }, when(a.timestamp)),
        badge(a.level), ' ', el('strong', {}, a.source), ' ', a.message)) : [el('li', { class: 'muted' }, 'No alerts.')]));
    };
    const poll = poller(refresh, POLL_HEALTH_MS);
    return { leave() { poll.stop(); } };
  }

  // ---- start -------------------------------------------------------------------------

  byId('version').textContent = CONFIG.version ? `v${CONFIG.version}` : '';
  (async () => {
    try {
      const session = await api('/session', { login: true });
      if (session.authenticated) signedIn(session);
      else signedOut(session.reason ? { code: session.reason, message: session.detail } : null);
    } catch (e) {
      signedOut(e);
    }
  })();
})();
