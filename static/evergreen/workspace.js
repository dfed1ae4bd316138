/* The workspace page follows its pending displays over one event stream, no timers.
 * - Cards the server renders with [data-waiting] wait for their display. The page opens
 *   ONE EventSource (#deliverables[data-stream-url]?ids=<the waiting cards>) and closes it
 *   on `end` (nothing is pending any more) or when no card waits.
 * - On a `display` event for a waiting card (any state but pending) that card is
 *   fetched once from #deliverables[data-cards-url]?ids=... (cards landing together come in
 *   one request) and swapped in place; the stats line's pending, failed and ready
 *   counts follow. A card the server no longer renders is removed.
 * - If the stream drops, the browser reconnects with the same ids; the server starts
 *   by reporting every one of them that is no longer pending, so nothing is missed.
 * The server counts none of these requests as cache hits. Card HTML comes rendered
 * and cleaned by the server.
 */
(function () {
  "use strict";
  var GATHER_MS = 150;  // displays landing together are fetched in one request
  var RETRY_MS = 2000;
  var MAX_FAILURES = 3;  // then the cards are left as they are (a reload shows them)

  var root = null;
  var source = null;
  var wanted = {};  // id -> the state the stream reported
  var timer = null;
  var busy = false;
  var failures = 0;
  var counts = { failed: 0, ready: 0 };

  function waitingCards() { return root.querySelectorAll("[data-waiting]"); }

  function card(id) { return document.getElementById("deliverable-" + id); }

  function open() {
    var ids = Array.prototype.map.call(waitingCards(), function (c) { return c.dataset.deliverable; });
    if (!ids.length || !window.EventSource) { return; }
    source = new EventSource(root.dataset.streamUrl + "?ids=" + ids.join(","));
    source.addEventListener("display", function (event) {
      var data = JSON.parse(event.data);
      if (data.state !== "pending") { want(String(data.id), data.state); }
    });
    source.addEventListener("end", close);
    source.addEventListener("error", function () {
      // The browser reconnects by itself unless nothing is left to wait for.
      if (!waitingCards().length) { close(); }
    });
  }

  function close() {
    if (source) { source.close(); source = null; }
  }

  function want(id, state) {
    var waiting = card(id);
    if (!waiting || !waiting.hasAttribute("data-waiting")) { return; }
    wanted[id] = state;
    schedule(GATHER_MS);
  }

  function schedule(ms) {
    if (!timer && !busy && Object.keys(wanted).length) { timer = window.setTimeout(fetchWanted, ms); }
  }

  function fetchWanted() {
    timer = null;
    var batch = wanted;
    var ids = Object.keys(batch);
    wanted = {};
    busy = true;
    fetch(root.dataset.cardsUrl + "?ids=" + ids.join(","), {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (!response.ok) { throw new Error("cards: " + response.status); }
      return response.text();
    }).then(function (html) {
      failures = 0;
      var doc = new DOMParser().parseFromString(html, "text/html");
      ids.forEach(function (id) { swap(id, doc.getElementById("deliverable-" + id), batch[id]); });
      showCounts();
      if (!waitingCards().length) { close(); }
      busy = false;
      schedule(GATHER_MS);
    }).catch(function () {
      busy = false;
      failures += 1;
      if (failures >= MAX_FAILURES) { return; }
      ids.forEach(function (id) { if (!(id in wanted)) { wanted[id] = batch[id]; } });
      schedule(RETRY_MS);
    });
  }

  function swap(id, fresh, state) {
    var old = card(id);
    if (!old) { return; }
    if (!fresh) { old.remove(); return; }
    var node = document.importNode(fresh, true);
    old.replaceWith(node);
    if (node.hasAttribute("data-waiting")) { return; }
    if (node.dataset.state === "current") {
      counts.ready += 1;
    } else if (state === "failed") {
      counts.failed += 1;
    }
  }

  function showCount(name, value) {
    var stats = document.getElementById("cache-stats");
    var number = stats && stats.querySelector('[data-stat="' + name + '"]');
    if (!number) { return; }
    number.textContent = String(value);
    var part = stats.querySelector('[data-stat-part="' + name + '"]');
    if (part) { part.hidden = value === 0; }
  }

  function showCounts() {
    showCount("pending", waitingCards().length);
    showCount("failed", counts.failed);
    showCount("ready", counts.ready);
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("deliverables");
    if (!root || !root.dataset.streamUrl) { return; }
    var failed = document.querySelector('#cache-stats [data-stat="failed"]');
    counts.failed = failed ? parseInt(failed.textContent, 10) || 0 : 0;
    open();
  });
})();
