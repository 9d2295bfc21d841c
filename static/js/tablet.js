/*
 * ecogprom patient tablet: save every tap, keep answers through a dropped
 * network, lock the screen when the tablet is left alone.
 *
 * The pages work without this script (each page posts its answers). With it:
 * - every tap is queued in localStorage (one entry per question, the latest
 *   tap wins) with an idempotency key, and sent to /tablet/answer/ one at a
 *   time; a failed send is retried with back-off and when the browser says
 *   the network is back, so nothing is lost and nothing is stored twice;
 * - moving to another page waits until the queue is empty and the server
 *   answers, so a page is never left while answers are only on the tablet;
 * - after the idle time the answers are hidden, sent, and the server locks.
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

  var root = document.querySelector("[data-kiosk]");
  if (!root) return;

  var assessment = parseInt(root.getAttribute("data-assessment"), 10);
  var answerUrl = root.getAttribute("data-answer-url");
  var pingUrl = root.getAttribute("data-ping-url");
  var idleSeconds = parseInt(root.getAttribute("data-idle-seconds"), 10) || 300;
  var statusEl = document.querySelector("[data-save-status]");
  var statusText = statusEl ? statusEl.querySelector("[data-save-text]") : null;
  var form = document.querySelector("form[data-answers]");
  var submitForm = document.querySelector("form[data-submit-form]");
  var lockForm = document.querySelector("form[data-lock-form]");
  var overlay = document.querySelector("[data-lock-overlay]");
  var csrfInput = document.querySelector("input[name=csrfmiddlewaretoken]");
  var csrf = csrfInput ? csrfInput.value : "";
  var QUEUE_KEY = "ecogprom.tablet.queue." + assessment;

  // ------------------------------------------------------------------ queue storage
  var storageOk = (function () {
    try {
      window.localStorage.setItem("ecogprom.tablet.probe", "1");
      window.localStorage.removeItem("ecogprom.tablet.probe");
      return true;
    } catch (e) {
      return false;
    }
  })();
  var memoryQueue = [];

  function loadQueue() {
    if (!storageOk) return memoryQueue.slice();
    try {
      var raw = window.localStorage.getItem(QUEUE_KEY);
      var parsed = raw ? JSON.parse(raw) : [];
      return Array.isArray(parsed) ? parsed : [];
    } catch (e) {
      return memoryQueue.slice();
    }
  }

  function storeQueue(queue) {
    memoryQueue = queue.slice();
    if (!storageOk) return;
    try {
      if (queue.length) window.localStorage.setItem(QUEUE_KEY, JSON.stringify(queue));
      else window.localStorage.removeItem(QUEUE_KEY);
    } catch (e) {
      storageOk = false;
    }
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
  var state = "";
  var hadError = false;
  var pendingGo = null; // what to do once every answer is on the server (change page, lock)

  function message(name) {
    return statusEl ? statusEl.getAttribute("data-msg-" + name) || "" : "";
  }

  var savingTimer = null;

  function setState(next, text) {
    state = next;
    if (!statusEl) return;
    if (savingTimer) {
      window.clearTimeout(savingTimer);
      savingTimer = null;
    }
    // While a page change waits for the network, say so rather than the general offline note.
    var words = text || (next === "offline" && pendingGo ? message("wait-nav") : message(next));
    function show() {
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

  function drop(entry) {
    storeQueue(
      loadQueue().filter(function (e) {
        return e.key !== entry.key;
      })
    );
  }

  function retryLater() {
    if (retryTimer) return;
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      pump();
    }, backoff);
    backoff = Math.min(backoff * 2, 10000);
  }

  function sessionOver() {
    storeQueue([]);
    setState("ended");
    window.setTimeout(function () {
      window.location.reload();
    }, 1200);
  }

  function pump() {
    if (sending) return;
    var queue = loadQueue();
    if (!queue.length) {
      // Nothing answered yet is not "All answers saved".
      setState(hadError ? "error" : answeredCount() > 0 ? "saved" : "none");
      settled();
      return;
    }
    sending = true;
    if (state !== "offline") setState("saving");
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
          "X-CSRFToken": csrf,
        },
        body: JSON.stringify({
          assessment: assessment,
          item: entry.item,
          value: entry.value,
          declined: entry.declined,
          key: entry.key,
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
          var code = String(result.body.code || "");
          if (result.status === 200) {
            drop(entry);
            backoff = 1000;
            pump();
          } else if (result.status === 409 || (result.status === 403 && code.indexOf("kiosk_") === 0)) {
            sessionOver();
          } else if (result.status === 400) {
            drop(entry); // the server can never take this one; keep the others going
            hadError = true;
            pump();
          } else {
            retryLater();
          }
        },
        function () {
          if (timer) window.clearTimeout(timer);
          sending = false;
          setState("offline");
          retryLater();
        }
      );
  }

  window.addEventListener("online", function () {
    backoff = 1000;
    if (retryTimer) {
      window.clearTimeout(retryTimer);
      retryTimer = null;
    }
    pump();
  });
  window.addEventListener("offline", function () {
    setState("offline");
  });

  function enqueue(item, value, declined) {
    var queue = loadQueue().filter(function (e) {
      return e.item !== item;
    });
    queue.push({ item: item, value: value, declined: declined, key: newKey(), at: Date.now() });
    storeQueue(queue);
    pump();
  }

  // ------------------------------------------------------------------ leaving a page

  /* Run `go` once every answer is on the server and the server answers.
     While waiting, a newer request replaces the older one (the idle lock wins). */
  function whenReady(go) {
    var waiting = pendingGo !== null;
    pendingGo = go;
    if (!waiting) attempt();
  }

  function attempt() {
    if (loadQueue().length) {
      whenSettled(attempt);
      if (state === "offline") setState("offline", message("wait-nav"));
      pump();
      return;
    }
    window
      .fetch(pingUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 204) {
          var go = pendingGo;
          pendingGo = null;
          if (go) go();
        } else if (response.status === 403) {
          window.location.reload();
        } else {
          waitForNetwork();
        }
      }, waitForNetwork);
  }

  function waitForNetwork() {
    setState("offline", message("wait-nav"));
    window.setTimeout(attempt, 2000);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.origin !== window.location.origin) return;
    if (link.pathname.indexOf("/tablet/") !== 0 || link.pathname === window.location.pathname) return;
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) return;
    event.preventDefault();
    whenReady(function () {
      window.location.href = link.href;
    });
  });

  function guardSubmit(target, beforeSubmit) {
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
      var submitter = event.submitter || lastClicked;
      whenReady(function () {
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
      });
    });
  }

  // ------------------------------------------------------------------ the answers on this page
  function answeredIn(fieldset) {
    return !!fieldset.querySelector("input.opt-input:checked, input.decline-input:checked");
  }

  /* Questions answered on the whole form: the page's own taps plus the other pages'. */
  function answeredCount() {
    if (!form) return parseInt(root.getAttribute("data-answered"), 10) || 0;
    var elsewhere = parseInt(root.getAttribute("data-answered-elsewhere"), 10) || 0;
    return (
      elsewhere +
      Array.prototype.filter.call(form.querySelectorAll("fieldset[data-item]"), answeredIn).length
    );
  }

  function updateProgress() {
    if (!form) return;
    var total = parseInt(root.getAttribute("data-total"), 10);
    if (!total) return;
    var answered = answeredCount();
    var bar = document.querySelector("[data-progress-bar]");
    if (bar) bar.value = answered;
    var text = document.querySelector("[data-answered-text]");
    var template = message("answered");
    if (text && template) {
      text.textContent = template.replace("{answered}", answered).replace("{total}", total);
    }
  }

  function show(fieldset, value, declined) {
    Array.prototype.forEach.call(fieldset.querySelectorAll("input.opt-input"), function (radio) {
      radio.checked = !declined && parseInt(radio.value, 10) === value;
    });
    var box = fieldset.querySelector("input.decline-input");
    if (box) box.checked = !!declined;
    fieldset.classList.toggle("is-answered", answeredIn(fieldset));
  }

  if (form) {
    // Taps not yet on the server (from before a reload) are what the patient last chose.
    loadQueue().forEach(function (entry) {
      var fieldset = form.querySelector('fieldset[data-item="' + entry.item + '"]');
      if (fieldset) show(fieldset, entry.value, entry.declined);
    });
    form.addEventListener("change", function (event) {
      var input = event.target;
      var fieldset = input.closest ? input.closest("fieldset[data-item]") : null;
      if (!fieldset) return;
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
    updateProgress();
  }

  guardSubmit(form);
  guardSubmit(submitForm, function (button) {
    var target = button || (submitForm && submitForm.querySelector("[data-submit-button]"));
    if (target) {
      window.setTimeout(function () {
        target.disabled = true;
        target.textContent = target.getAttribute("data-busy-text") || target.textContent;
      }, 0);
    }
  });

  // ------------------------------------------------------------------ idle lock
  var idleTimer = null;
  function poke() {
    if (idleTimer) window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(goIdle, idleSeconds * 1000);
  }
  function goIdle() {
    if (overlay) overlay.hidden = false;
    whenReady(function () {
      if (lockForm) HTMLFormElement.prototype.submit.call(lockForm);
    });
  }
  ["pointerdown", "keydown", "touchstart", "input", "scroll"].forEach(function (name) {
    document.addEventListener(name, poke, { passive: true, capture: true });
  });
  poke();

  // A page restored from the browser's memory may show old answers: fetch it again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  pump();
})();
