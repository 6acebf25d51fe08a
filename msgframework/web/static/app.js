// The live notification page: an EventSource on /events, filters in the URL,
// and resume-after-reload through the last event id kept in localStorage.
// Payloads are shown with textContent only: notifications are data, never markup.
(function () {
  "use strict";

  // Every filter query parameter of msgframework/web/query.py (FILTER_PARAMS).
  var FILTERS = ["event_type", "publisher", "priority", "recipient", "after", "before",
                 "hide_expired"];
  var STORE_KEY = "msgframework:lastEventId:" + location.host + location.pathname;
  var list = document.getElementById("events");
  var statusEl = document.getElementById("status");
  var notice = document.getElementById("notice");
  var form = document.getElementById("filters");
  var source = null;
  var resumed = false;    // this connection started from a stored position
  var replaying = false;  // before the server's "ready" event

  function setStatus(state, text) {
    statusEl.dataset.state = state;
    statusEl.textContent = text || state;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = false;
  }

  function currentFilters() {
    var params = new URLSearchParams(location.search);
    var out = new URLSearchParams();
    FILTERS.forEach(function (name) {
      params.getAll(name).forEach(function (v) { if (v) { out.append(name, v); } });
    });
    return out;
  }

  function fillForm(params) {
    FILTERS.forEach(function (name) {
      var field = form.elements[name];
      if (!field) { return; }
      if (field.type === "checkbox") {
        field.checked = ["1", "true", "yes", "on"].indexOf(params.get(name) || "") >= 0;
      } else {
        field.value = params.getAll(name).join(",");
      }
    });
  }

  function interpolate(message, args) {
    if (typeof message !== "string") { return null; }
    return message.replace(/%\(([^)]+)\)s/g, function (all, key) {
      return args && Object.prototype.hasOwnProperty.call(args, key) ? String(args[key]) : all;
    });
  }

  function render(event, replayed) {
    var li = document.createElement("li");
    li.dataset.seq = event.seq;
    li.dataset.messageId = event.message_id;
    li.dataset.eventType = event.event_type;
    li.dataset.priority = event.priority || "";
    if (replayed) { li.className = "replayed"; }

    var meta = document.createElement("div");
    meta.className = "meta";
    var type = document.createElement("span");
    type.className = "type";
    type.textContent = event.event_type;
    meta.appendChild(type);
    meta.appendChild(document.createTextNode(
      " \u00b7 " + (event.priority || "") + " \u00b7 " + (event.publisher_id || "?") +
      " \u00b7 " + (event.timestamp || "") + (replayed ? " \u00b7 replayed" : "")));
    li.appendChild(meta);

    var payload = event.payload;
    var text = payload && interpolate(payload.message, payload.arguments);
    if (text) {
      var p = document.createElement("div");
      p.className = "message";
      p.textContent = text;
      li.appendChild(p);
    }
    var pre = document.createElement("pre");
    pre.textContent = JSON.stringify(payload, null, 2);
    li.appendChild(pre);
    list.insertBefore(li, list.firstChild);
  }

  function connect() {
    if (source) { source.close(); }
    var params = currentFilters();
    var stored = localStorage.getItem(STORE_KEY);
    resumed = !!stored;
    replaying = true;
    if (stored) { params.set("last_event_id", stored); }
    setStatus("connecting");
    source = new EventSource("/events?" + params.toString());

    source.addEventListener("notification", function (msg) {
      var event;
      try { event = JSON.parse(msg.data); } catch (e) { return; }
      render(event, replaying && resumed);
      if (msg.lastEventId) { localStorage.setItem(STORE_KEY, msg.lastEventId); }
    });
    source.addEventListener("ready", function (msg) {
      var info = JSON.parse(msg.data);
      replaying = false;
      // "<epoch>-<seq>": after a server restart on a recreated buffer, the
      // server can tell that this position is not one of its own.
      if (info.last_event_id) { localStorage.setItem(STORE_KEY, info.last_event_id); }
      if (resumed && info.replayed) {
        showNotice("Replayed " + info.replayed + " notification(s) you missed.");
      }
      setStatus("live");
    });
    source.addEventListener("gap", function (msg) {
      var info = JSON.parse(msg.data);
      if (info.reset) {
        showNotice("The server's replay buffer was reset: notifications sent while you " +
                   "were away may be missing.");
      } else {
        showNotice(info.missed + " older notification(s) were no longer kept and cannot be shown.");
      }
    });
    source.onopen = function () { setStatus(replaying ? "replaying" : "live"); };
    source.onerror = function () {
      // EventSource reconnects by itself and sends Last-Event-ID; the server
      // replays after it, so nothing is lost while we are away.
      replaying = true;
      resumed = true;
      setStatus(source.readyState === EventSource.CLOSED ? "error" : "reconnecting");
    };
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var field = form.elements[name];
      if (field.type === "checkbox") {
        if (field.checked) { params.set(name, "1"); }
      } else if (field.value.trim()) {
        params.set(name, field.value.trim());
      }
    });
    history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    list.textContent = "";
    localStorage.removeItem(STORE_KEY);  // a new view starts from the recent backlog
    connect();
  });
  document.getElementById("clear").addEventListener("click", function () {
    form.reset();
    form.requestSubmit();
  });

  fetch("/healthz").then(function (r) { return r.json(); }).then(function (info) {
    document.getElementById("hub").textContent = info.hub;
  }).catch(function () {});

  fillForm(new URLSearchParams(location.search));
  connect();
})();
