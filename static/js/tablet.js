/*
 * ecogprom patient tablet: save every tap, keep answers through a dropped
 * network or a replaced tablet, go on answering offline, lock the screen when
 * the tablet is left alone. docs/tablet.md describes the whole design.
 *
 * The pages work without this script (each page posts its answers). With it:
 * - every tap is queued in localStorage, in order, with an idempotency key and
 *   the time it was tapped, and sent to
 *   /tablet/answer/ one at a time; an entry leaves the queue only when the
 *   server has acknowledged it (stored, or kept for the coordinator because
 *   the questionnaire had closed), never otherwise;
 * - a service worker (/tablet/sw.js) keeps this session's pages, so a reload
 *   while offline shows the form with her queued answers and Next/Back keep
 *   working; only checking and sending the answers waits for the network;
 * - a tablet whose session ended (the questionnaire was handed over on
 *   another tablet) stops showing questions but still delivers its queue;
 * - the status line says what is true: saved, waiting for the network (kept
 *   on this tablet), kept for the clinic staff, or not saved;
 * - after the idle time the answers are hidden, sent, and the server locks.
 *
 * No inline script anywhere: everything the script needs is in data-
 * attributes of the page.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // ------------------------------------------------------------------ text size
  /* The text-size buttons post to the server (the choice is kept for this hand-off);
     with the script the size changes at once, without leaving the page. */
  var sizeForm = document.querySelector("form[data-text-size]");
  if (sizeForm && window.fetch) {
    sizeForm.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[name=size]") : null;
      if (!button) return;
      event.preventDefault();
      var size = button.value;
      var html = document.documentElement;
      ["normal", "large", "x-large"].forEach(function (name) {
        html.classList.toggle("text-" + name, name === size);
      });
      Array.prototype.forEach.call(sizeForm.querySelectorAll("button[name=size]"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      var body = new URLSearchParams();
      body.append("size", size);
      var token = sizeForm.querySelector("input[name=csrfmiddlewaretoken]");
      window
        .fetch(sizeForm.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" },
          body: body,
        })
        .catch(function () {
          /* offline: the size still applies on this page */
        });
    });
  }

  var PREFIX = "ecogprom.tablet.";
  var main = document.querySelector("main[data-page]") || document.querySelector("main");
  var pageKind = main ? main.getAttribute("data-page") || "" : "";
  var root = document.querySelector("[data-kiosk]");

  // ------------------------------------------------------------------ storage
  var storageOk = (function () {
    try {
      window.localStorage.setItem(PREFIX + "probe", "1");
      window.localStorage.removeItem(PREFIX + "probe");
      return true;
    } catch (e) {
      return false;
    }
  })();
  var memory = {};

  function readJSON(key, fallback) {
    var raw = null;
    if (storageOk) {
      try {
        raw = window.localStorage.getItem(key);
      } catch (e) {
        raw = null;
      }
    } else if (Object.prototype.hasOwnProperty.call(memory, key)) {
      raw = memory[key];
    }
    if (raw === null || raw === undefined) return fallback;
    try {
      var parsed = JSON.parse(raw);
      return parsed === null ? fallback : parsed;
    } catch (e) {
      return fallback;
    }
  }

  function writeJSON(key, value) {
    var raw = JSON.stringify(value);
    memory[key] = raw;
    if (!storageOk) return;
    try {
      window.localStorage.setItem(key, raw);
    } catch (e) {
      storageOk = false;
    }
  }

  function remove(key) {
    delete memory[key];
    if (!storageOk) return;
    try {
      window.localStorage.removeItem(key);
    } catch (e) {
      /* nothing to do */
    }
  }

  function storedKeys(start) {
    var keys = [];
    if (!storageOk) return keys;
    try {
      for (var i = 0; i < window.localStorage.length; i++) {
        var key = window.localStorage.key(i);
        if (key && key.indexOf(start) === 0) keys.push(key);
      }
    } catch (e) {
      /* storage went away */
    }
    return keys;
  }

  // ------------------------------------------------------------------ service worker
  function worker() {
    return "serviceWorker" in navigator ? navigator.serviceWorker : null;
  }

  /* Send a message to the active service worker; resolves with its reply (or null). */
  function tellWorker(message) {
    var sw = worker();
    if (!sw) return Promise.resolve(null);
    var target = sw.controller;
    var ready = target ? Promise.resolve(target) : sw.getRegistration("/tablet/").then(
      function (registration) {
        return registration && registration.active;
      }
    );
    return ready.then(function (active) {
      if (!active) return null;
      return new Promise(function (resolve) {
        var channel = new MessageChannel();
        var timer = window.setTimeout(function () {
          resolve(null);
        }, 30000);
        channel.port1.onmessage = function (event) {
          window.clearTimeout(timer);
          resolve(event.data);
        };
        active.postMessage(message, [channel.port2]);
      });
    }, function () {
      return null;
    });
  }

  /* The session ended on this tablet: forget its kept pages and its bookkeeping. The
     queue goes only when empty: an answer not on the server is never thrown away. */
  function forgetSession(assessmentId, sessionId) {
    if (assessmentId) {
      var queueKey = PREFIX + "queue." + assessmentId;
      var queue = readJSON(queueKey, []);
      if (!Array.isArray(queue) || !queue.length) remove(queueKey);
      remove(PREFIX + "known." + assessmentId);
    }
    if (sessionId) {
      remove(PREFIX + "idle." + sessionId);
      remove(PREFIX + "ended." + sessionId);
      var last = readJSON(PREFIX + "lastpage", null);
      if (last && String(last.session) === String(sessionId)) remove(PREFIX + "lastpage");
    }
    return tellWorker({ type: "end", session: sessionId ? String(sessionId) : null });
  }

  // ------------------------------------------------------------------ pages without a kiosk session
  if (!root) {
    var sessionOf = main ? main.getAttribute("data-kiosk-session") : null;
    if (pageKind === "locked" && sessionOf) {
      // The server has locked the tablet: the lock the page asked for is done.
      remove(PREFIX + "idle." + sessionOf);
      tellWorker({ type: "idle", session: sessionOf });
    } else if (pageKind === "done" && sessionOf) {
      forgetSession(main.getAttribute("data-assessment"), sessionOf);
    }
    if (pageKind === "offline" && main.getAttribute("data-ping-url")) {
      // No patient here: open the page asked for as soon as the server answers again.
      var probe = function () {
        window.fetch(main.getAttribute("data-ping-url"), { cache: "no-store" }).then(
          function () {
            window.location.reload();
          },
          function () {
            window.setTimeout(probe, 3000);
          }
        );
      };
      window.setTimeout(probe, 3000);
    }
    var notice = document.querySelector("[data-leftover-notice]");
    if (notice) {
      var waiting = storedKeys(PREFIX + "queue.").some(function (key) {
        var queue = readJSON(key, []);
        return Array.isArray(queue) && queue.length > 0;
      });
      notice.hidden = !waiting;
    }
    return;
  }

  // ------------------------------------------------------------------ this kiosk page
  var assessment = parseInt(root.getAttribute("data-assessment"), 10);
  var session = root.getAttribute("data-kiosk-session") || "";
  var kioskState = root.getAttribute("data-kiosk-state") || "live";
  var answerUrl = root.getAttribute("data-answer-url");
  var pingUrl = root.getAttribute("data-ping-url");
  var swUrl = root.getAttribute("data-sw-url");
  var idleSeconds = parseInt(root.getAttribute("data-idle-seconds"), 10) || 300;
  var offlineUrls = (root.getAttribute("data-offline-urls") || "").split(" ").filter(Boolean);
  var isLivePage = kioskState === "live";
  var statusEl = document.querySelector("[data-save-status]");
  var statusText = statusEl ? statusEl.querySelector("[data-save-text]") : null;
  var form = document.querySelector("form[data-answers]");
  var submitForm = document.querySelector("form[data-submit-form]");
  var lockForm = document.querySelector("form[data-lock-form]");
  var overlay = document.querySelector("[data-lock-overlay]");
  var QUEUE_KEY = PREFIX + "queue." + assessment;
  var KNOWN_KEY = PREFIX + "known." + assessment;
  var FAILED_KEY = PREFIX + "failed." + assessment;
  var IDLE_KEY = PREFIX + "idle." + session;
  var ENDED_KEY = PREFIX + "ended." + session;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    if (match) return decodeURIComponent(match[1]);
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function loadQueue() {
    var queue = readJSON(QUEUE_KEY, []);
    return Array.isArray(queue) ? queue : [];
  }

  function storeQueue(queue) {
    if (queue.length) writeJSON(QUEUE_KEY, queue);
    else remove(QUEUE_KEY);
  }

  function loadKnown() {
    var known = readJSON(KNOWN_KEY, {});
    return known && typeof known === "object" ? known : {};
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map
      .call(bytes, function (b) {
        return ("0" + b.toString(16)).slice(-2);
      })
      .join("");
  }

  // ------------------------------------------------------------------ status line
  var notes = { kept: false, error: readJSON(FAILED_KEY, []).length > 0 };
  var offline = navigator.onLine === false;
  var ended = kioskState === "ended" || readJSON(ENDED_KEY, false) === true;
  var closed = kioskState === "closed";
  var waitingNav = false;
  var blocked = false; // the server refuses this tablet's queue (no session here any more)
  var shownState = "";
  var savingTimer = null;

  function message(name) {
    return statusEl ? statusEl.getAttribute("data-msg-" + name) || "" : "";
  }

  function currentState() {
    var pending = loadQueue().length;
    if (notes.error || blocked) return "error";
    if (notes.kept) return "kept";
    if (ended || closed) {
      if (!pending) return storageOk && !notes.kept ? "ended-saved" : "ended";
      return offline ? "ended-offline" : "ended-sending";
    }
    if (waitingNav && (offline || pending)) return offline ? "wait-nav" : "saving";
    if (pending) {
      if (offline) return storageOk ? "offline" : "offline-volatile";
      return "saving";
    }
    // Nothing answered yet is not "All answers saved".
    return answeredCount() === 0 ? "none" : "saved";
  }

  function render() {
    var next = currentState();
    if (!statusEl || next === shownState) return;
    var words = message(next);
    if (savingTimer) {
      window.clearTimeout(savingTimer);
      savingTimer = null;
    }
    function show() {
      shownState = next;
      statusEl.setAttribute("data-state", next);
      if (statusText && statusText.textContent !== words) statusText.textContent = words;
    }
    // A quick save is not announced (the status is a live region): "Saving…" only if it lasts.
    if (next === "saving" && statusText && statusText.textContent) {
      savingTimer = window.setTimeout(show, 800);
    } else {
      show();
    }
  }

  // ------------------------------------------------------------------ the answers on this page
  function answeredIn(fieldset) {
    return !!fieldset.querySelector("input.opt-input:checked, input.decline-input:checked");
  }

  function show(fieldset, value, declined) {
    Array.prototype.forEach.call(fieldset.querySelectorAll("input.opt-input"), function (radio) {
      radio.checked = !declined && value !== null && parseInt(radio.value, 10) === value;
    });
    var box = fieldset.querySelector("input.decline-input");
    if (box) box.checked = !!declined;
    fieldset.classList.toggle("is-answered", answeredIn(fieldset));
  }

  function fieldsetFor(item) {
    return form ? form.querySelector('fieldset[data-item="' + item + '"]') : null;
  }

  /* Which items have an answer: the server's (when the page was made), what the server
     acknowledged since, what waits in the queue, and what is ticked on this page. */
  /* Questions answered on the whole form (null on a page that does not list them): the
     server's when the page was made, what the server acknowledged since, what waits in
     the queue, and what is ticked on this page. */
  function answeredCount() {
    if (!root || !root.hasAttribute("data-answered-items")) return null;
    var answered = {};
    (root.getAttribute("data-answered-items") || "").split(" ").forEach(function (code) {
      if (code) answered[code] = true;
    });
    var known = loadKnown();
    Object.keys(known).forEach(function (code) {
      if (known[code] && known[code].answered) answered[code] = true;
    });
    loadQueue().forEach(function (entry) {
      answered[entry.item] = true;
    });
    if (form) {
      Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-item]"), function (fs) {
        if (answeredIn(fs)) answered[fs.getAttribute("data-item")] = true;
      });
    }
    return Object.keys(answered).length;
  }

  function updateProgress() {
    var total = parseInt(root.getAttribute("data-total"), 10);
    var count = answeredCount();
    if (!total || count === null) return;
    var bar = document.querySelector("[data-progress-bar]");
    if (bar) {
      bar.max = total;
      bar.value = count;
    }
    var text = document.querySelector("[data-answered-text]");
    var template = message("answered");
    if (text && template) {
      text.textContent = template.replace("{answered}", count).replace("{total}", total);
    }
  }

  /* On load: the page may be a copy the service worker kept; her later taps win. */
  function fillIn() {
    if (!form) return;
    var known = loadKnown();
    var queued = {};
    loadQueue().forEach(function (entry) {
      queued[entry.item] = entry;
    });
    Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-item]"), function (fs) {
      var item = fs.getAttribute("data-item");
      if (queued[item]) {
        show(fs, queued[item].value, queued[item].declined);
        return;
      }
      var here = parseInt(fs.getAttribute("data-tapped-at"), 10) || 0;
      var seen = known[item];
      if (seen && seen.answered && (seen.at || 0) > here) show(fs, seen.value, seen.declined);
    });
  }

  function stopAnswering() {
    if (!form) return;
    Array.prototype.forEach.call(form.querySelectorAll("fieldset[data-item]"), function (fs) {
      fs.disabled = true;
    });
  }

  // ------------------------------------------------------------------ sending
  var sending = false;
  var retryTimer = null;
  var backoff = 1000;
  var settledWaiters = [];

  function whenSettled(callback) {
    settledWaiters.push(callback);
  }

  function settled() {
    var waiters = settledWaiters;
    settledWaiters = [];
    waiters.forEach(function (callback) {
      callback();
    });
  }

  function retryLater() {
    if (retryTimer) return;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      pump();
    }, backoff);
    backoff = Math.min(backoff * 2, 10000);
  }

  function withoutEntry(key) {
    storeQueue(
      loadQueue().filter(function (e) {
        return e.key !== key;
      })
    );
  }

  /* The server has this answer (stored, not applied because a later tap is stored, or
     kept for the coordinator): only now does it leave the queue. */
  function acknowledged(entry, body) {
    withoutEntry(entry.key);
    var known = loadKnown();
    known[entry.item] = {
      value: body.value === undefined ? null : body.value,
      declined: !!body.declined,
      answered: !!body.answered,
      at: body.tapped_at || 0,
    };
    writeJSON(KNOWN_KEY, known);
    var stillQueued = loadQueue().some(function (e) {
      return e.item === entry.item;
    });
    var fs = fieldsetFor(entry.item);
    if (fs && !stillQueued && body.answered) show(fs, body.value, body.declined);
    if (body.session === "ended" && !ended) sessionEnded();
  }

  function failed(entry) {
    withoutEntry(entry.key);
    var list = readJSON(FAILED_KEY, []);
    list.push(entry);
    writeJSON(FAILED_KEY, list); // kept on this tablet for the clinic staff, never resent
    notes.error = true;
  }

  /* The questionnaire went on elsewhere (or closed): no more questions on this tablet. */
  function sessionEnded() {
    ended = true;
    writeJSON(ENDED_KEY, true);
    stopAnswering();
    tellWorker({ type: "end", session: session });
    render();
    whenSettled(leaveWhenDelivered);
  }

  function leaveWhenDelivered() {
    if (loadQueue().length) {
      whenSettled(leaveWhenDelivered);
      return;
    }
    if (isLivePage && !blocked) {
      // Show the server's page for this ended session (it says what became of the answers).
      window.setTimeout(function () {
        window.location.reload();
      }, 2500);
    }
  }

  function pump() {
    if (sending || blocked) return;
    var queue = loadQueue();
    if (!queue.length) {
      render();
      settled();
      return;
    }
    sending = true;
    render();
    var entry = queue[0];
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller
      ? window.setTimeout(function () {
          controller.abort();
        }, 15000)
      : null;
    window
      .fetch(answerUrl, {
        method: "POST",
        credentials: "same-origin",
        cache: "no-store",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify({
          assessment: assessment,
          item: entry.item,
          value: entry.value,
          declined: entry.declined,
          key: entry.key,
          tapped_at: entry.at,
          sent_at: Date.now(),
        }),
        signal: controller ? controller.signal : undefined,
      })
      .then(function (response) {
        return response.json().then(
          function (body) {
            return { status: response.status, body: body || {} };
          },
          function () {
            return { status: response.status, body: {} };
          }
        );
      })
      .then(
        function (result) {
          if (timer) window.clearTimeout(timer);
          sending = false;
          offline = false;
          var body = result.body;
          var code = String(body.code || "");
          if (result.status === 200 && body.ok) {
            backoff = 1000;
            acknowledged(entry, body);
            pump();
          } else if (result.status === 409 && body.preserved) {
            acknowledged(entry, body);
            notes.kept = true;
            if (!closed && !ended) {
              closed = true;
              stopAnswering();
              whenSettled(leaveWhenDelivered);
            }
            pump();
          } else if (result.status === 409 && code === "key_conflict") {
            // The key named another answer on the server: this tap is new, give it a new key.
            var queue = loadQueue();
            queue.forEach(function (e) {
              if (e.key === entry.key) {
                e.key = newKey();
                e.rekeyed = (e.rekeyed || 0) + 1;
                if (e.rekeyed > 3) failed(e);
              }
            });
            storeQueue(
              queue.filter(function (e) {
                return !e.rekeyed || e.rekeyed <= 3;
              })
            );
            pump();
          } else if (result.status === 400 && code !== "malformed") {
            failed(entry); // the server can never take this one; keep the others going
            pump();
          } else if (result.status === 403 && code.indexOf("kiosk_") === 0) {
            // This browser no longer holds a session for this questionnaire: the answers
            // stay on this tablet (a new hand-off of the same questionnaire sends them).
            blocked = true;
            render();
          } else {
            retryLater();
            render();
          }
        },
        function () {
          if (timer) window.clearTimeout(timer);
          sending = false;
          offline = true;
          render();
          retryLater();
        }
      );
  }

  window.addEventListener("online", function () {
    offline = false;
    backoff = 1000;
    if (retryTimer) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
    }
    pump();
  });
  window.addEventListener("offline", function () {
    offline = true;
    render();
  });

  /* Every tap joins the queue, in order, even one that changes an answer still queued:
     each is her answer at that moment, and the server keeps the latest by tap time. */
  function enqueue(item, value, declined) {
    var queue = loadQueue();
    queue.push({
      item: item,
      value: value,
      declined: declined,
      key: newKey(),
      at: Date.now(),
      session: session,
    });
    storeQueue(queue);
    pump();
  }

  // ------------------------------------------------------------------ leaving a page

  /* Run `go` once every answer is on the server (and, with `ping`, the server answers).
     While waiting, a newer request replaces the older one (the idle lock wins). */
  var pendingGo = null;

  function whenReady(go, ping) {
    var waiting = pendingGo !== null;
    pendingGo = { go: go, ping: ping };
    waitingNav = true;
    render();
    if (!waiting) attempt();
  }

  function fire() {
    var next = pendingGo;
    pendingGo = null;
    waitingNav = false;
    if (next) next.go();
  }

  function attempt() {
    if (!pendingGo) return;
    if (loadQueue().length) {
      whenSettled(attempt);
      pump();
      return;
    }
    if (!pendingGo.ping) {
      // No server check for this step, but never post into a known-dead network.
      if (navigator.onLine === false) waitForNetwork();
      else fire();
      return;
    }
    window
      .fetch(pingUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 204) {
          offline = false;
          fire();
        } else if (response.status === 403) {
          window.location.reload();
        } else {
          waitForNetwork();
        }
      }, waitForNetwork);
  }

  function waitForNetwork() {
    offline = true;
    render();
    window.setTimeout(attempt, 2000);
  }

  function go(url) {
    window.location.assign(url);
  }

  /* Pages kept for offline use open at once (the queue follows her); anything else
     (the review, sending) first needs every answer on the server. */
  function openable(pathname) {
    return offlineUrls.indexOf(pathname) !== -1;
  }

  function offlineReady() {
    return root.getAttribute("data-offline-ready") === "true";
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.origin !== window.location.origin) return;
    if (link.hasAttribute("data-offline-retry") || link.hasAttribute("data-offline-back")) return;
    if (link.pathname.indexOf("/tablet/") !== 0) return;
    if (link.pathname === window.location.pathname && link.hash) return;
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    if (!isLivePage) return;
    // With the worker's copies, kept pages open at once and the rest get our offline page;
    // before it has kept them, any page waits for the network rather than fail to load.
    if (offlineReady() && (openable(link.pathname) || link.pathname === "/tablet/exit/")) return;
    event.preventDefault();
    whenReady(function () {
      go(link.href);
    }, true);
  });

  function submitterOf(target, event, lastClicked) {
    return event.submitter || lastClicked;
  }

  /* Send the form once the queue is on the server; with `patienceMs`, send it anyway after
     that long (the answers not yet sent stay queued on this tablet). */
  function guardSubmit(target, ping, beforeSubmit, patienceMs) {
    if (!target) return;
    var lastClicked = null;
    var released = false;
    target.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest("button[type=submit]")) {
        lastClicked = event.target.closest("button[type=submit]");
      }
    });
    target.addEventListener("submit", function (event) {
      if (released) return;
      event.preventDefault();
      var submitter = submitterOf(target, event, lastClicked);
      function release() {
        if (released) return;
        released = true;
        if (submitter && submitter.name) {
          var hidden = document.createElement("input");
          hidden.type = "hidden";
          hidden.name = submitter.name;
          hidden.value = submitter.value;
          target.appendChild(hidden);
        }
        if (beforeSubmit) beforeSubmit(submitter);
        HTMLFormElement.prototype.submit.call(target);
      }
      whenReady(release, ping);
      if (patienceMs) {
        window.setTimeout(function () {
          if (!released && pendingGo && pendingGo.go === release) fire();
        }, patienceMs);
      }
    });
  }

  // The section's Next and Back: every tap is already queued, so the next page opens at
  // once, from the network or, offline, from the pages the service worker kept.
  if (form && isLivePage) {
    var lastNav = null;
    form.addEventListener("click", function (event) {
      var button = event.target.closest ? event.target.closest("button[name=nav]") : null;
      if (button) lastNav = button;
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (ended || closed) return;
      var button = event.submitter || lastNav;
      var nav = button ? button.value : "next";
      var url = root.getAttribute(nav === "back" ? "data-back-url" : "data-next-url");
      if (!url) return;
      if (!offlineReady() || (nav !== "back" && root.hasAttribute("data-next-needs-network"))) {
        // The review needs the network; so does any page before the worker has kept them.
        whenReady(function () {
          go(url);
        }, true);
      } else {
        go(url);
      }
    });
  }

  guardSubmit(submitForm, true, function (button) {
    var target = button || (submitForm && submitForm.querySelector("[data-submit-button]"));
    if (target) {
      window.setTimeout(function () {
        target.disabled = true;
        target.textContent = target.getAttribute("data-busy-text") || target.textContent;
      }, 0);
    }
  });

  // The staff's forms on the exit page: send the queue first (but never keep the staff
  // waiting more than 20 s: what is not sent stays queued on this tablet, and the "no
  // questionnaire" page says so); this session's kept pages go when the tablet is taken back.
  if (pageKind === "exit") {
    Array.prototype.forEach.call(document.querySelectorAll("main form"), function (staffForm) {
      guardSubmit(
        staffForm,
        false,
        function () {
          forgetSession(assessment, session);
        },
        20000
      );
    });
  }

  // ------------------------------------------------------------------ taps
  if (form) {
    fillIn();
    form.addEventListener("change", function (event) {
      var input = event.target;
      var fieldset = input.closest ? input.closest("fieldset[data-item]") : null;
      if (!fieldset || ended || closed) return;
      var item = fieldset.getAttribute("data-item");
      if (input.classList.contains("opt-input") && input.checked) {
        show(fieldset, parseInt(input.value, 10), false);
        enqueue(item, parseInt(input.value, 10), false);
      } else if (input.classList.contains("decline-input") && input.checked) {
        show(fieldset, null, true);
        enqueue(item, null, true);
      }
      fieldset.classList.toggle("is-answered", answeredIn(fieldset));
      updateProgress();
    });
  }
  updateProgress();
  if (ended || closed) {
    stopAnswering();
    whenSettled(leaveWhenDelivered);
  }

  // ------------------------------------------------------------------ offline page
  if (pageKind === "offline") {
    // Open the page she asked for once the network is back and her answers are sent.
    whenReady(function () {
      window.location.reload();
    }, true);
    var queueNote = document.querySelector("[data-offline-queue]");
    if (queueNote) queueNote.hidden = !(storageOk && loadQueue().length);
    var back = document.querySelector("[data-offline-back]");
    var last = readJSON(PREFIX + "lastpage", null);
    if (back && last && last.path && String(last.session) === session) {
      back.setAttribute("href", last.path);
      back.hidden = false;
    }
  }

  // ------------------------------------------------------------------ idle lock
  var idleTimer = null;
  var lastActiveSent = 0;
  function poke() {
    if (idleTimer) window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(goIdle, idleSeconds * 1000);
    var now = Date.now();
    if (now - lastActiveSent > 15000) {
      lastActiveSent = now;
      tellWorker({ type: "active", session: session });
    }
  }
  function goIdle() {
    if (overlay) overlay.hidden = false;
    writeJSON(IDLE_KEY, true); // a reload, even offline, comes back to the lock
    tellWorker({ type: "idle", session: session });
    whenReady(function () {
      if (lockForm) HTMLFormElement.prototype.submit.call(lockForm);
    }, true);
  }
  if (isLivePage || pageKind === "offline") {
    if (readJSON(IDLE_KEY, false) === true && lockForm) {
      goIdle();
    } else if (isLivePage) {
      ["pointerdown", "keydown", "touchstart", "input", "scroll"].forEach(function (name) {
        document.addEventListener(name, poke, { passive: true, capture: true });
      });
      poke();
    }
  }

  // A page restored from the browser's memory may show old answers: fetch it again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  // ------------------------------------------------------------------ offline copies
  if (isLivePage && openable(window.location.pathname) && !ended) {
    writeJSON(PREFIX + "lastpage", { session: session, path: window.location.pathname });
  }
  if (isLivePage && swUrl && worker() && !ended) {
    worker()
      .register(swUrl, { scope: "/tablet/" })
      .then(function () {
        return worker().ready;
      })
      .then(function () {
        var assets = [];
        Array.prototype.forEach.call(
          document.querySelectorAll("link[rel=stylesheet][href], script[src]"),
          function (el) {
            assets.push(el.getAttribute("href") || el.getAttribute("src"));
          }
        );
        return tellWorker({
          type: "prefetch",
          session: session,
          urls: offlineUrls,
          assets: assets,
          page: openable(window.location.pathname) ? window.location.pathname : null,
          idleSeconds: idleSeconds,
        });
      })
      .then(
        function (reply) {
          if (reply && reply.ok) root.setAttribute("data-offline-ready", "true");
        },
        function () {
          /* no service worker (private mode, an old browser): the form works online */
        }
      );
  }

  render();
  pump();
})();
