/*
 * ecogprom tablet service worker: the questionnaire keeps working offline.
 *
 * Served at /tablet/sw.js (scope /tablet/) by surveys.tablet.views.service_worker,
 * which puts `self.ECOGPROM_TABLET_VERSION` in front of this file. See
 * docs/tablet.md for the design; in short:
 *
 * - Pages: network first. The server says on every tablet page which kiosk
 *   session it belongs to and in what state (X-Kiosk-Session, X-Kiosk-State)
 *   and whether it may be kept (X-Kiosk-Offline: cache). Kept pages live in
 *   one cache per kiosk session ("ecogprom-tablet-session-<id>"), so one
 *   patient's pages are never shown in another's session; the cache is
 *   dropped when the server says the session ended, was submitted or there
 *   is no patient on this browser, and when the page script says so.
 * - Offline, a navigation gets this session's copy of the page, while the
 *   tablet is neither locked nor left alone longer than the idle time;
 *   otherwise (and for pages never kept: the review, the lock screen) the
 *   offline page, never the browser's error page.
 * - The page script asks for the form's pages to be fetched ahead
 *   (X-Kiosk-Prefetch: 1, which the server does not count as a visit).
 * - Static files: network first, the kept copy offline.
 * - Answers and pings are never kept nor answered from a copy: the worker passes them
 *   to the network as they are.
 *
 * The HTTP cache still gets Cache-Control: no-store for every tablet page;
 * the Cache API used here is separate from it and ignores those headers.
 */
"use strict";

var VERSION = self.ECOGPROM_TABLET_VERSION || "dev";
var SHELL = "ecogprom-tablet-shell-" + VERSION;
var SHELL_PREFIX = "ecogprom-tablet-shell-";
var SESSION_PREFIX = "ecogprom-tablet-session-";
var META = "ecogprom-tablet-meta";
var META_URL = "/tablet/__service-worker-state__";
var SCOPE = "/tablet/";
var OFFLINE_URL = "/tablet/offline/";
var NAVIGATION_TIMEOUT_MS = 10000;
var MATCH = { ignoreVary: true };

/* When every kept copy fails: still not the browser's error page. */
var LAST_RESORT =
  '<!doctype html><html><head><meta charset="utf-8">' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">' +
  "<title>No network · Sin red</title></head>" +
  "<body>" +
  "<h1>No network connection</h1><p>This page will open when the connection is back. " +
  "Please ask the clinic staff if it does not.</p>" +
  '<h1 lang="es">Sin conexión a la red</h1><p lang="es">Esta página se abrirá cuando vuelva ' +
  "la conexión. Si no, por favor avise al personal de la clínica.</p>" +
  '<p><a href="">Try again · Intentar de nuevo</a></p></body></html>';

// ------------------------------------------------------------------ state
function defaultState() {
  return { session: null, locked: false, active: 0, idleMs: 300000, lastPage: null };
}

function getState() {
  return caches
    .open(META)
    .then(function (cache) {
      return cache.match(META_URL);
    })
    .then(function (response) {
      return response ? response.json() : defaultState();
    })
    .then(
      function (state) {
        return Object.assign(defaultState(), state || {});
      },
      function () {
        return defaultState();
      }
    );
}

function setState(state) {
  return caches.open(META).then(function (cache) {
    return cache.put(
      META_URL,
      new Response(JSON.stringify(state), { headers: { "Content-Type": "application/json" } })
    );
  });
}

function sessionCache(session) {
  return caches.open(SESSION_PREFIX + session);
}

/* Drop the kept pages of one session, or of every session but `keep` when `session` is null. */
function dropSessions(session, keep) {
  return caches.keys().then(function (names) {
    return Promise.all(
      names
        .filter(function (name) {
          if (name.indexOf(SESSION_PREFIX) !== 0) return false;
          var id = name.slice(SESSION_PREFIX.length);
          return session === null ? id !== keep : id === String(session);
        })
        .map(function (name) {
          return caches.delete(name);
        })
    );
  });
}

function keyOf(url) {
  var parsed = new URL(url, self.location.origin);
  return parsed.pathname + parsed.search;
}

function keepable(response, session) {
  return (
    response &&
    response.status === 200 &&
    !response.redirected &&
    response.type === "basic" &&
    response.headers.get("X-Kiosk-Offline") === "cache" &&
    response.headers.get("X-Kiosk-State") === "live" &&
    response.headers.get("X-Kiosk-Session") === String(session)
  );
}

/* What a page from the network says about this browser's kiosk session. */
function observe(request, response) {
  var kioskState = response.headers.get("X-Kiosk-State");
  var session = response.headers.get("X-Kiosk-Session");
  if (!kioskState) return Promise.resolve();
  return getState().then(function (state) {
    var work = [];
    if (kioskState === "none") {
      work.push(dropSessions(null, null));
      state = defaultState();
    } else if (
      kioskState === "ended" ||
      kioskState === "submitted" ||
      kioskState === "closed"
    ) {
      work.push(dropSessions(session));
      if (state.session === session) state = defaultState();
    } else if (session && (kioskState === "live" || kioskState === "locked")) {
      if (state.session !== session) {
        work.push(dropSessions(null, session)); // another patient's pages go
        state = Object.assign(defaultState(), { idleMs: state.idleMs });
        state.session = session;
      }
      state.locked = kioskState === "locked";
      state.active = Date.now();
      if (keepable(response, session)) {
        var path = keyOf(request.url);
        if (path !== SCOPE) state.lastPage = path;
        var copy = response.clone();
        work.push(
          sessionCache(session).then(function (cache) {
            return cache.put(path, copy);
          })
        );
      }
    }
    work.push(setState(state));
    return Promise.all(work);
  });
}

// ------------------------------------------------------------------ lifecycle
self.addEventListener("install", function (event) {
  event.waitUntil(
    caches
      .open(SHELL)
      .then(function (cache) {
        // Without the session cookie: the generic page, tied to no patient and no session.
        return fetch(OFFLINE_URL, { credentials: "omit" }).then(function (response) {
          if (response.ok) return cache.put(OFFLINE_URL, response);
          return undefined;
        });
      })
      .catch(function () {
        /* installed without the offline page: the last resort stands in */
      })
      .then(function () {
        return self.skipWaiting();
      })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (names) {
        return Promise.all(
          names
            .filter(function (name) {
              return name.indexOf(SHELL_PREFIX) === 0 && name !== SHELL;
            })
            .map(function (name) {
              return caches.delete(name);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

// ------------------------------------------------------------------ fetching
function fetchWithTimeout(request, ms) {
  return new Promise(function (resolve, reject) {
    var timer = setTimeout(function () {
      reject(new Error("timeout"));
    }, ms);
    fetch(request).then(
      function (response) {
        clearTimeout(timer);
        resolve(response);
      },
      function (error) {
        clearTimeout(timer);
        reject(error);
      }
    );
  });
}

function offlinePage(state) {
  var own = state.session
    ? sessionCache(state.session).then(function (cache) {
        return cache.match(OFFLINE_URL, MATCH);
      })
    : Promise.resolve(undefined);
  return own
    .then(function (hit) {
      return (
        hit ||
        caches.open(SHELL).then(function (cache) {
          return cache.match(OFFLINE_URL, MATCH);
        })
      );
    })
    .then(function (hit) {
      return (
        hit ||
        new Response(LAST_RESORT, {
          status: 503,
          headers: { "Content-Type": "text/html; charset=utf-8" },
        })
      );
    });
}

/* A page the network could not give: this session's copy, or the offline page. */
function fromKept(request) {
  return getState().then(function (state) {
    var fresh = Date.now() - state.active < state.idleMs;
    if (!state.session || state.locked || !fresh) return offlinePage(state);
    var path = keyOf(request.url);
    if (path === SCOPE && state.lastPage) path = state.lastPage; // /tablet/: where she was
    return sessionCache(state.session)
      .then(function (cache) {
        return cache.match(path, MATCH);
      })
      .then(function (hit) {
        if (!hit) return offlinePage(state);
        state.active = Date.now(); // going from page to page offline is using the tablet
        return setState(state).then(function () {
          return hit;
        });
      });
  });
}

function navigate(event) {
  var request = event.request;
  if (request.method !== "GET") {
    return fetch(request).then(
      function (response) {
        if (response.type !== "opaqueredirect") {
          event.waitUntil(observe(request, response.clone()));
        }
        return response;
      },
      function () {
        return getState().then(offlinePage);
      }
    );
  }
  return fetchWithTimeout(request, NAVIGATION_TIMEOUT_MS).then(
    function (response) {
      if (response.type === "opaqueredirect") return response;
      return observe(request, response.clone()).then(
        function () {
          return response;
        },
        function () {
          return response;
        }
      );
    },
    function () {
      return fromKept(request);
    }
  );
}

function asset(request) {
  return fetch(request).then(
    function (response) {
      if (response.ok && response.type === "basic") {
        var copy = response.clone();
        caches.open(SHELL).then(function (cache) {
          return cache.put(request, copy);
        });
      }
      return response;
    },
    function () {
      return caches.open(SHELL).then(function (cache) {
        return cache.match(request, { ignoreVary: true, ignoreSearch: true }).then(function (hit) {
          return hit || Response.error();
        });
      });
    }
  );
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname.indexOf(SCOPE) === 0) {
    event.respondWith(navigate(event));
    return;
  }
  if (request.method === "GET" && url.pathname.indexOf("/static/") === 0) {
    event.respondWith(asset(request));
    return;
  }
  // Anything else (answers, pings) goes to the network as it is, fetched here rather than
  // left to the browser's fallback so that every request of the page takes one path.
  event.respondWith(fetch(request));
});

// ------------------------------------------------------------------ messages from the page
function prefetch(data) {
  var session = String(data.session || "");
  if (!session) return Promise.resolve({ cached: 0 });
  return getState()
    .then(function (state) {
      var work = [];
      if (state.session !== session) {
        work.push(dropSessions(null, session));
        state = defaultState();
        state.session = session;
      }
      state.idleMs = Math.max(1, Number(data.idleSeconds) || 300) * 1000;
      state.active = Date.now();
      state.locked = false;
      if (data.page) state.lastPage = String(data.page);
      work.push(setState(state));
      return Promise.all(work);
    })
    .then(function () {
      return sessionCache(session);
    })
    .then(function (cache) {
      var cached = 0;
      var chain = Promise.resolve();
      (data.urls || []).forEach(function (url) {
        chain = chain.then(function () {
          return cache.match(url, MATCH).then(function (hit) {
            if (hit) {
              cached += 1;
              return undefined;
            }
            return fetch(url, {
              credentials: "same-origin",
              headers: { "X-Kiosk-Prefetch": "1" },
            }).then(
              function (response) {
                if (!keepable(response, session)) return undefined;
                cached += 1;
                return cache.put(keyOf(url), response);
              },
              function () {
                return undefined;
              }
            );
          });
        });
      });
      return chain.then(function () {
        return caches.open(SHELL).then(function (shell) {
          return Promise.all(
            (data.assets || []).map(function (asset) {
              return shell.match(asset).then(function (hit) {
                if (hit) return undefined;
                return fetch(asset, { credentials: "same-origin" }).then(
                  function (response) {
                    return response.ok ? shell.put(asset, response) : undefined;
                  },
                  function () {
                    return undefined;
                  }
                );
              });
            })
          ).then(function () {
            return { cached: cached };
          });
        });
      });
    });
}

function touch(data, locked) {
  return getState().then(function (state) {
    if (state.session !== String(data.session || "")) return {};
    state.active = Date.now();
    if (locked !== undefined) state.locked = locked;
    return setState(state).then(function () {
      return {};
    });
  });
}

function endSession(data) {
  var session = data.session ? String(data.session) : null;
  return getState().then(function (state) {
    var work = [dropSessions(session, null)];
    if (session === null || state.session === session) work.push(setState(defaultState()));
    return Promise.all(work).then(function () {
      return {};
    });
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  var reply = event.ports && event.ports[0];
  var work;
  if (data.type === "prefetch") work = prefetch(data);
  else if (data.type === "active") work = touch(data);
  else if (data.type === "idle") work = touch(data, true);
  else if (data.type === "end") work = endSession(data);
  else work = Promise.resolve({});
  event.waitUntil(
    work.then(
      function (result) {
        if (reply) reply.postMessage(Object.assign({ ok: true }, result || {}));
      },
      function (error) {
        if (reply) reply.postMessage({ ok: false, error: String(error) });
      }
    )
  );
});
