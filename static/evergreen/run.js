/* The review run page, live (loaded only while the run is running).
 * One EventSource follows the run's events from the last one the server rendered:
 * - the proposal's text pieces are laid out again as readable text on each piece:
 *   window.Evergreen.completeJson turns the text so far into a value, shown in the
 *   schema's field order with the labels generation/readable.py gives them, as DOM
 *   nodes and textContent only (model text is never parsed as HTML);
 * - reviewer progress ("2 of 5 reviews") and the timeline are updated in place;
 * - the stored proposal, the reviews and, at the end, the outcome are fetched again
 *   as the server renders them (window.Evergreen.refresh).
 * The page is complete without it, as of its load.
 */
(function () {
  "use strict";
  var config = document.getElementById("run-live");
  if (!config || !window.EventSource) { return; }
  var live = JSON.parse(config.textContent);
  var raw = live.text;
  var stored = live.stored;
  var last = live.last_event;
  var done = live.done;  // persona key -> "written" or "failed"
  var started = Date.parse(live.started);
  var previous = Date.parse(live.previous);

  function node(tag, className, text) {
    var n = document.createElement(tag);
    if (className) { n.className = className; }
    if (text !== undefined) { n.textContent = text; }
    return n;
  }

  function scalar(value) {
    return typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
  }

  /* One field as templates/generation/_readable.html renders a block. */
  function block(label, value) {
    var div = node("div", "readable-block");
    div.appendChild(node("p", "readable-label", label));
    var items = Array.isArray(value) ? value.filter(function (v) { return v === null || typeof v !== "object"; }) : null;
    if (items && items.length) {
      var ul = node("ul");
      items.forEach(function (item) { ul.appendChild(node("li", "", scalar(item))); });
      div.appendChild(ul);
    } else {
      div.appendChild(node("p", "", items || typeof value === "object" ? "" : scalar(value)));
    }
    return div;
  }

  function showProposal() {
    var target = document.getElementById("proposal-text");
    if (!target || stored) { return; }
    var text = raw.replace(/^\s+/, "");
    var value = text ? window.Evergreen.completeJson(text) : null;
    var fragment = document.createDocumentFragment();
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      live.fields.forEach(function (field) {
        var item = value[field[0]];
        if (item !== undefined && item !== null) { fragment.appendChild(block(field[1], item)); }
      });
    }
    if (!fragment.childNodes.length) { fragment.appendChild(node("p", "muted", "Being written…")); }
    target.replaceChildren(fragment);
  }

  function showProgress() {
    var written = 0, failed = 0;
    Object.keys(done).forEach(function (key) { if (done[key] === "written") { written++; } else { failed++; } });
    var total = Math.max(live.total, written + failed);
    document.getElementById("progress").textContent =
      written + " of " + total + " reviews" + (failed ? ", " + failed + " failed" : "");
  }

  function addToTimeline(type, payload) {
    var body = document.querySelector("#timeline tbody");
    var row = body.lastElementChild;
    var label = live.labels[type] || type;
    if (type === "proposal_text" && row && row.dataset.type === type) {
      var pieces = Number(row.dataset.pieces) + 1;
      row.dataset.pieces = String(pieces);
      row.firstElementChild.textContent = label + " (" + pieces + " pieces)";
      return;
    }
    var at = Date.parse(payload.at);
    row = node("tr");
    row.dataset.type = type;
    row.dataset.pieces = "1";
    [label, live.personas[payload.persona] || payload.persona || "",
      Math.round(at - started) + " ms", Math.round(at - previous) + " ms"].forEach(function (text) {
      row.appendChild(node("td", "", text));
    });
    body.appendChild(row);
    previous = at;
    document.getElementById("timeline-count").textContent = String(body.children.length);
  }

  /* One refresh at a time, in the order asked: a slow answer rendered before a newer
   * event must not replace what a later answer showed. */
  var refreshing = Promise.resolve();
  function refresh(ids) {
    refreshing = refreshing.then(function () { return window.Evergreen.refresh(ids); })
      .catch(function () {});
    return refreshing;
  }

  var source = new EventSource(live.events + "?last_event_id=" + last);

  var handlers = {
    proposal_text: function (data) { raw += data.text; showProposal(); },
    proposal_reset: function () { raw = ""; showProposal(); },
    proposal_stored: function () { stored = true; refresh(["proposal"]); },
    review_stored: function (data) {
      done[data.persona] = "written";
      showProgress();
      refresh(["reviews-section"]);
    },
    review_failed: function (data) {
      if (done[data.persona] !== "written") { done[data.persona] = "failed"; }
      showProgress();
    },
    run_completed: end,
    run_failed: end,
  };

  function end() {
    source.close();
    // The finished run as the server renders it: the outcome at the top, in words.
    refresh(["status", "outcome", "proposal", "reviews-section"]);
  }

  Object.keys(live.labels).forEach(function (type) {
    source.addEventListener(type, function (event) {
      var id = Number(event.lastEventId);
      if (id && id <= last) { return; }  // on the page already
      if (id) { last = id; }
      var data = JSON.parse(event.data);
      addToTimeline(type, data);
      if (handlers[type]) { handlers[type](data); }
    });
  });
})();
