// ctihub agent console: the live parts on top of server-rendered pages.
// No framework and no build step; every page also works without this file.
(function () {
  'use strict';

  const LAST_ID = 'ctihub.lastEventId';
  const body = document.body;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || '';
  const me = Number(body.dataset.userId || 0);
  let source = null;
  let retryIn = 1000;

  // Times are rendered in UTC; show them in the agent's zone.
  function localTimes(root) {
    for (const el of (root || document).querySelectorAll('time[datetime]')) {
      const at = new Date(el.getAttribute('datetime'));
      if (!isNaN(at)) el.textContent = at.toLocaleString();
    }
  }

  function post(url, data) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf, 'X-Ctihub-Fetch': '1' },
      body: new URLSearchParams(data),
    }).then(checkSignedIn);
  }

  function get(url) {
    return fetch(url, { credentials: 'same-origin', headers: { 'X-Ctihub-Fetch': '1' } }).then(checkSignedIn);
  }

  function checkSignedIn(response) {
    if (response.status === 401) {
      location.assign('/console/login?next=' + encodeURIComponent(location.pathname + location.search));
      throw new Error('signed out');
    }
    if (!response.ok) throw new Error('HTTP ' + response.status);
    return response;
  }

  // --- live channel -------------------------------------------------------------------------

  function connect() {
    // A new EventSource cannot send Last-Event-ID, so a reloaded page says where it left off.
    const after = sessionStorage.getItem(LAST_ID) || body.dataset.lastEventId || '';
    source = new EventSource('/console/events' + (after ? '?after=' + encodeURIComponent(after) : ''));
    source.onopen = function () {
      body.dataset.live = 'open';
      retryIn = 1000;
    };
    source.onerror = function () {
      body.dataset.live = 'down';
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // The browser gave up (server away, or an HTTP error such as an expired session).
      get('/console/ping').then(
        function () { setTimeout(connect, retryIn); },
        function () { setTimeout(connect, retryIn); });
      retryIn = Math.min(retryIn * 2, 15000);
    };
    for (const [kind, handler] of Object.entries(handlers)) {
      source.addEventListener(kind, function (event) {
        if (event.lastEventId) sessionStorage.setItem(LAST_ID, event.lastEventId);
        let data = {};
        try { data = JSON.parse(event.data); } catch (e) { return; }
        handler(data);
      });
    }
  }

  const handlers = {
    incoming_call: showToast,
    screen_pop: openPop,
    journal_changed: function () { refreshJournal(); refreshBoard(); },
    presence_changed: function (change) { showPresence(change); refreshBoard(); },
    lagged: function () { refreshJournal(); refreshBoard(); },
  };

  // --- incoming-call toasts -----------------------------------------------------------------

  function showToast(call) {
    const box = document.getElementById('toasts');
    if (!box || box.querySelector('[data-call-id="' + call.call_id + '"]')) return;
    const toast = document.createElement('div');
    toast.className = 'toast';
    toast.setAttribute('role', 'alert');
    toast.dataset.callId = call.call_id;
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Dismiss');
    close.onclick = function () { toast.remove(); };
    const title = document.createElement('strong');
    title.textContent = 'Incoming call';
    const from = document.createElement('div');
    from.className = 'toast-from';
    from.textContent = call.from_pretty || call.from || 'unknown number';
    const to = document.createElement('small');
    to.textContent = [call.to_name, call.queue || call.to_pretty].filter(Boolean).join(' · ');
    const card = document.createElement('a');
    card.href = '#';
    card.textContent = 'Caller card';
    card.onclick = function (e) { e.preventDefault(); openPop({ call_id: call.call_id }); };
    toast.append(close, title, from, to, document.createElement('br'), card);
    toast.dataset.shownAt = String(Date.now());
    box.append(toast);
    setTimeout(function () { toast.remove(); }, 60000);
  }

  // --- screen pops --------------------------------------------------------------------------

  function openPop(pop) {
    const toast = document.querySelector('.toast[data-call-id="' + pop.call_id + '"]');
    if (toast) toast.remove();
    if (!pop.call_id) {
      if (pop.url && pop.url.startsWith('/console/')) location.assign(pop.url);
      return;
    }
    let url = '/console/pop?call_id=' + encodeURIComponent(pop.call_id);
    if (pop.ticket_id) url += '&ticket_id=' + encodeURIComponent(pop.ticket_id);
    get(url).then(function (r) { return r.text(); }).then(function (html) {
      const aside = document.getElementById('pop');
      const note = aside.querySelector('#notepad');
      const keep = note && aside.querySelector('[data-call-id="' + pop.call_id + '"]') ? note.value : '';
      aside.innerHTML = html; // server-rendered and escaped
      if (keep) aside.querySelector('#notepad').value = keep;
      aside.hidden = false;
      body.classList.add('pop-open');
      aside.dataset.shownAt = String(Date.now());
      aside.dataset.screen = pop.screen || '';
      localTimes(aside);
      const title = aside.querySelector('.pop-title');
      if (title) { title.tabIndex = -1; title.focus({ preventScroll: true }); }
    }).catch(function () { if (pop.url && pop.url.startsWith('/console/')) location.assign(pop.url); });
  }

  document.addEventListener('click', function (e) {
    if (e.target.closest('[data-close-pop]')) closePop();
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') closePop();
  });

  // A Freshdesk call keeps the notepad on the server until it is filed, so a call ticketed
  // without the agent (the next call's pop, a recording arriving) still gets the notes.
  let notepadTimer = null;
  document.addEventListener('input', function (e) {
    if (e.target.id !== 'notepad') return;
    const card = e.target.closest('#pop-card[data-freshdesk]');
    if (!card) return;
    clearTimeout(notepadTimer);
    const note = e.target.value;
    notepadTimer = setTimeout(function () {
      post('/console/calls/' + encodeURIComponent(card.dataset.callId) + '/notepad', { note: note })
        .catch(function () {});
    }, 300);
  });

  function closePop() {
    const aside = document.getElementById('pop');
    if (aside) aside.hidden = true;
    body.classList.remove('pop-open');
  }

  // --- journal ------------------------------------------------------------------------------

  let refreshTimer = null;
  function refreshJournal() {
    const list = document.getElementById('journal-list');
    if (!list) return;
    clearTimeout(refreshTimer);
    // Bursts (ring, answer, hangup) become one request.
    refreshTimer = setTimeout(function () {
      get(list.dataset.src).then(function (r) { return r.text(); }).then(function (html) {
        list.innerHTML = html;
        localTimes(list);
      }).catch(function () {});
    }, 100);
  }

  // --- live board ---------------------------------------------------------------------------

  let boardTimer = null;
  function refreshBoard() {
    const board = document.getElementById('board-live');
    if (!board) return;
    clearTimeout(boardTimer);
    boardTimer = setTimeout(function () {
      get(board.dataset.src).then(function (r) { return r.text(); }).then(function (html) {
        board.innerHTML = html; // server-rendered and escaped
        localTimes(board);
      }).catch(function () {});
    }, 100);
  }

  // Mark-done buttons without a page load; the journal refreshes from the event they cause.
  document.addEventListener('submit', function (e) {
    const form = e.target;
    if (!form.classList.contains('js-inline')) return;
    e.preventDefault();
    post(form.action, new FormData(form)).then(refreshJournal).catch(function () { form.submit(); });
  });

  // --- presence -----------------------------------------------------------------------------

  const select = document.getElementById('presence');
  if (select) {
    select.addEventListener('change', function () {
      post('/console/presence', { status: select.value }).catch(function () {
        select.form.submit();
      });
    });
  }

  function showPresence(change) {
    const row = document.querySelector('[data-presence-of="' + change.user_id + '"]');
    if (row) {
      row.className = 'presence-' + change.status;
      const label = row.querySelector('small');
      if (label) label.textContent = change.status;
    }
    if (select && change.user_id === me) select.value = change.status;
  }

  // --- notices ------------------------------------------------------------------------------

  function notice(text, kind) {
    const box = document.getElementById('toasts');
    if (!box || !text) return;
    const toast = document.createElement('div');
    toast.className = 'toast notice ' + (kind || 'info');
    toast.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    const close = document.createElement('button');
    close.type = 'button';
    close.textContent = '×';
    close.setAttribute('aria-label', 'Dismiss');
    close.onclick = function () { toast.remove(); };
    const message = document.createElement('span');
    message.className = 'notice-text';
    message.textContent = String(text).slice(0, 500);
    toast.append(close, message);
    toast.dataset.shownAt = String(Date.now());
    box.append(toast);
    setTimeout(function () { toast.remove(); }, 10000);
  }

  // --- softphone slot -----------------------------------------------------------------------
  // The admin's softphone page, framed under the top bar and hidden until shown. It talks to
  // the console with window.parent.postMessage: Freshdesk's CTI actions (show_softphone,
  // open_ticket, open_contact) and ours (hide_softphone, notify, resize). Only messages from
  // that frame and its origin are heard. The same actions are a script API on window.ctihub.

  const SHOWN = 'ctihub.softphoneShown';
  const slot = document.getElementById('softphone');
  const frame = document.getElementById('softphone-frame');
  const toggle = document.getElementById('softphone-toggle');

  function setShown(shown) {
    if (!slot) return;
    slot.hidden = !shown;
    if (toggle) toggle.setAttribute('aria-expanded', String(shown));
    // Pages are full loads: the slot stays open from one page to the next.
    sessionStorage.setItem(SHOWN, shown ? '1' : '');
    if (shown) slot.dataset.shownAt = String(Date.now());
  }

  function positiveId(value) {
    let id = NaN;
    if (typeof value === 'number') id = value;
    else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) id = Number(value);
    return Number.isSafeInteger(id) && id > 0 ? id : null;
  }

  function between(value, min, max) {
    const n = Number(value);
    return Number.isFinite(n) && n > 0 ? Math.round(Math.min(Math.max(n, min), max)) : null;
  }

  const softphone = Object.freeze({
    open: function () { setShown(true); },
    close: function () { setShown(false); },
    toggle: function () { setShown(Boolean(slot && slot.hidden)); },
    notify: function (text) { if (typeof text === 'string' || typeof text === 'number') notice(String(text), 'info'); },
    resize: function (width, height) {
      if (!frame) return;
      const w = between(width, 160, 1600);
      const h = between(height, 80, 1200);
      if (w) frame.style.width = w + 'px';
      if (h) frame.style.height = h + 'px';
    },
  });
  window.ctihub = Object.freeze({ softphone: softphone });

  const actions = {
    show_softphone: function () { softphone.open(); },
    hide_softphone: function () { softphone.close(); },
    open_ticket: function (m) {
      const id = positiveId(m.value);
      if (id) location.assign('/console/tickets/' + id);
    },
    open_contact: function (m) {
      const id = positiveId(m.value);
      if (id) location.assign('/console/users/' + id);
    },
    notify: function (m) { softphone.notify(m.value); },
    resize: function (m) {
      const size = m.value && typeof m.value === 'object' ? m.value : m;
      softphone.resize(size.width, size.height);
    },
  };

  window.addEventListener('message', function (e) {
    if (!slot || !frame || e.source !== frame.contentWindow || e.origin !== slot.dataset.origin) return;
    const m = e.data;
    if (!m || typeof m !== 'object' || typeof m.action !== 'string') return;
    if (Object.prototype.hasOwnProperty.call(actions, m.action)) actions[m.action](m);
  });
  if (toggle) toggle.addEventListener('click', softphone.toggle);
  if (sessionStorage.getItem(SHOWN)) setShown(true);

  // The agent's helpdesk number: saved, and passed on to the softphone.
  const numberSelect = document.getElementById('helpdesk-number');
  if (numberSelect) {
    numberSelect.addEventListener('change', function () {
      post('/console/softphone/number', { number: numberSelect.value }).then(function () {
        if (!frame) return;
        const src = new URL(frame.src);
        if (numberSelect.value) src.searchParams.set('number', numberSelect.value);
        else src.searchParams.delete('number');
        frame.src = src.toString();
      }).catch(function () { numberSelect.form.submit(); });
    });
  }

  // --- click-to-dial ------------------------------------------------------------------------
  // Phone numbers are tel: links; with click-to-dial set up, a click asks the server to call
  // the admin's dialer instead, and the outcome shows as a notice.

  document.addEventListener('click', function (e) {
    const link = e.target.closest('a.dial');
    if (!link || body.dataset.clickToDial !== 'on') return;
    e.preventDefault();
    if (link.dataset.dialing) return;
    link.dataset.dialing = '1';
    const data = {
      number: (link.getAttribute('href') || '').replace(/^tel:/, ''),
      ticket_id: link.dataset.ticketId || '',
      requester_id: link.dataset.requesterId || '',
    };
    fetch('/console/dial', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': csrf, 'X-Ctihub-Fetch': '1' },
      body: new URLSearchParams(data),
    }).then(function (response) {
      if (response.status === 401) return checkSignedIn(response);
      return response.json().then(function (outcome) { notice(outcome.message, outcome.ok ? 'ok' : 'error'); });
    }).catch(function () {
      notice('Click-to-dial failed: the server did not answer.', 'error');
    }).finally(function () { delete link.dataset.dialing; });
  });

  localTimes();
  if (me) connect();
})();
