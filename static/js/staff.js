/*
 * ecogprom staff pages: warn before the idle sign-out, and sign out when it comes.
 *
 * The server signs a staff member out after STAFF_IDLE_TIMEOUT_SECONDS without a
 * request (the <body> carries the times). Shortly before, a dialog offers "Stay
 * signed in" (a POST that counts as activity). The script asks the server how
 * much time is left before it warns, so activity in another tab counts.
 */
(function () {
  "use strict";
  var body = document.body;
  var timeout = parseInt(body.getAttribute("data-idle-timeout"), 10);
  var warning = parseInt(body.getAttribute("data-idle-warning"), 10);
  var sessionUrl = body.getAttribute("data-session-url");
  var loginUrl = body.getAttribute("data-login-url");
  var dialog = document.querySelector("[data-idle-dialog]");
  if (!timeout || !warning || !sessionUrl || !dialog) return;
  var left = dialog.querySelector("[data-idle-left]");
  var stay = dialog.querySelector("[data-idle-stay]");
  var csrf = (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  var deadline = Date.now() + timeout * 1000;
  var timer = null;
  var lastAsk = 0;

  function later(ms) {
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(check, Math.max(1000, ms));
  }

  function signedOut() {
    window.location.href = loginUrl + "?next=" + encodeURIComponent(window.location.pathname);
  }

  function ask(method) {
    lastAsk = Date.now();
    var options = { method: method, credentials: "same-origin", cache: "no-store" };
    if (method === "POST") options.headers = { "X-CSRFToken": decodeURIComponent(csrf) };
    return window.fetch(sessionUrl, options).then(function (response) {
      return response.json().then(function (data) {
        if (!data.signed_in) throw new Error("signed out");
        deadline = Date.now() + data.remaining * 1000;
        return data.remaining;
      });
    });
  }

  function showLeft(seconds) {
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    left.textContent = minutes ? minutes + " min " + rest + " s" : rest + " s";
  }

  function check() {
    var remaining = Math.round((deadline - Date.now()) / 1000);
    if (remaining > warning) {
      later((remaining - warning) * 1000);
      return;
    }
    if (!dialog.hidden && remaining > 0 && Date.now() - lastAsk < 10000) {
      showLeft(remaining); // count down here; ask the server every 10 s
      later(1000);
      return;
    }
    ask("GET").then(function (fresh) {
      if (fresh > warning) {
        dialog.hidden = true;
        later((fresh - warning) * 1000);
      } else if (fresh <= 0) {
        signedOut();
      } else {
        dialog.hidden = false;
        showLeft(fresh);
        later(1000);
      }
    }, signedOut);
  }

  stay.addEventListener("click", function () {
    ask("POST").then(function (fresh) {
      dialog.hidden = true;
      later((fresh - warning) * 1000);
    }, signedOut);
  });

  later((timeout - warning) * 1000);
})();
