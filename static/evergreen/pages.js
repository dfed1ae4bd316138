/* Evergreen pages: a little progressive enhancement, no framework.
 * - <form data-inplace="id1 id2">: posted with fetch. The server answers at once with
 *   a confirmation, shown next to the control; the button is disabled and marked busy
 *   meanwhile. Then the regions with those ids are fetched again and replaced. Without
 *   JavaScript the form posts and the server redirects back: the same result.
 * - [data-events="url"]: follows a generation over Server-Sent Events. Its text so far
 *   is shown in its [data-stream] child: structured output ([data-readable]) laid out
 *   as readable text (fields as paragraphs, lists as bullets), never as JSON; plain text
 *   as text. On done or failed the regions [data-refresh] are fetched again.
 * - the navigation's company picker opens the chosen company on change.
 * - on a phone the navigation scrolls sideways in its bar: the current page's link
 *   is scrolled into sight.
 * - a box that scrolls sideways (a wide table on a phone) is made reachable by
 *   keyboard: it takes focus, so arrow keys scroll it.
 * A page's own re-reads carry X-Evergreen-Refresh: they are not counted as reads.
 * Model text only ever reaches the page as server-cleaned HTML or as textContent.
 */
(function () {
  "use strict";

  function fetchPage(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "X-Requested-With": "fetch" }, options.headers || {});
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        return { response: response, doc: new DOMParser().parseFromString(text, "text/html") };
      });
    });
  }

  function replaceRegions(doc, ids) {
    ids.forEach(function (id) {
      var old = document.getElementById(id);
      var fresh = doc.getElementById(id);
      if (old && fresh) {
        var node = document.importNode(fresh, true);
        old.replaceWith(node);
        enhance(node);
      } else if (old) {
        old.remove();  // the server no longer renders it (a finished generation)
      }
    });
  }

  function refresh(ids) {
    return fetchPage(window.location.href, { headers: { "X-Evergreen-Refresh": "1" } })
      .then(function (page) { replaceRegions(page.doc, ids); });
  }

  /* The value JSON text would have if it ended here: open strings and brackets
   * closed, a dangling comma, colon or key dropped (generation/readable.py). */
  function completeJson(text) {
    var stack = [], inString = false, escaped = false;
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (inString) {
        if (escaped) { escaped = false; }
        else if (c === "\\") { escaped = true; }
        else if (c === '"') { inString = false; }
      } else if (c === '"') { inString = true; }
      else if (c === "{" || c === "[") { stack.push(c === "{" ? "}" : "]"); }
      else if ((c === "}" || c === "]") && stack.length) { stack.pop(); }
    }
    var candidate = text;
    if (inString) { candidate = (escaped ? candidate.slice(0, -1) : candidate) + '"'; }
    for (var tries = 0; tries < 4 && candidate; tries++) {
      try { return JSON.parse(candidate + stack.slice().reverse().join("")); }
      catch (e) { candidate = dropDangling(candidate); }
    }
    return null;
  }

  function dropDangling(text) {
    text = text.replace(/\s+$/, "");
    var last = text[text.length - 1];
    if (last === "," || last === ":") { return text.slice(0, -1); }
    var cut;
    if (last === '"') {
      cut = Math.max(text.lastIndexOf(","), text.lastIndexOf("{"));
      return text[cut] === "{" ? text.slice(0, cut + 1) : text.slice(0, cut);
    }
    cut = Math.max(text.lastIndexOf(","), text.lastIndexOf(":"));
    return cut > 0 ? text.slice(0, cut) : "";
  }

  function humanize(key) {
    var words = key.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function scalar(value) {
    return typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
  }

  function blocks(value, label, out) {
    if (Array.isArray(value)) {
      var flat = value.every(function (v) { return v === null || typeof v !== "object"; });
      if (flat) { out.push({ label: label, items: value.map(scalar) }); }
      else { value.forEach(function (v) { blocks(v, label, out); }); }
    } else if (value !== null && typeof value === "object") {
      Object.keys(value).forEach(function (key) { blocks(value[key], humanize(key), out); });
    } else if (value !== null && value !== undefined) {
      out.push({ label: label, text: scalar(value) });
    }
    return out;
  }

  /* Lays text so far out in `target` as readable text, with DOM nodes and
   * textContent only (model text is never parsed as HTML). */
  function renderReadable(target, raw) {
    var trimmed = raw.replace(/^\s+/, "");
    var value = trimmed[0] === "{" || trimmed[0] === "[" ? completeJson(trimmed) : null;
    var list = value === null ? [{ label: "", text: raw }] : blocks(value, "", []);
    var fragment = document.createDocumentFragment();
    list.forEach(function (block) {
      var div = document.createElement("div");
      div.className = "readable-block";
      if (block.label) {
        var label = document.createElement("p");
        label.className = "readable-label";
        label.textContent = block.label;
        div.appendChild(label);
      }
      if (block.items) {
        var ul = document.createElement("ul");
        block.items.forEach(function (item) {
          var li = document.createElement("li");
          li.textContent = item;
          ul.appendChild(li);
        });
        div.appendChild(ul);
      } else {
        var p = document.createElement("p");
        p.textContent = block.text;
        div.appendChild(p);
      }
      fragment.appendChild(div);
    });
    target.replaceChildren(fragment);
  }

  function follow(region) {
    if (region.dataset.following === "1") { return; }
    region.dataset.following = "1";
    var target = region.querySelector("[data-stream]") || region;
    var readable = target.hasAttribute("data-readable");
    var raw = "";
    var source = new EventSource(region.dataset.events);
    function show() {
      if (readable) { renderReadable(target, raw); } else { target.textContent = raw; }
    }
    source.addEventListener("chunk", function (event) {
      var data = JSON.parse(event.data);
      raw += data.text;
      show();
      var bar = region.querySelector("progress");
      if (bar && typeof data.progress === "number") { bar.value = data.progress; }
    });
    source.addEventListener("reset", function () { raw = ""; show(); });
    function finish() {
      source.close();
      var ids = (region.dataset.refresh || region.id).split(" ").filter(Boolean);
      refresh(ids);
    }
    source.addEventListener("done", finish);
    source.addEventListener("failed", finish);
  }

  function enhance(root) {
    var scope = root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-events]")) { follow(scope); }
    scope.querySelectorAll("[data-events]").forEach(follow);
  }

  /* The confirmation next to a control: a polite live region in the nearest element
   * with an id around the form (the step, the recommendation), so it survives the
   * refresh of the region around it. */
  function anchorOf(form) {
    var el = form.parentElement;
    while (el && !el.id) { el = el.parentElement; }
    return el;
  }

  function confirm(anchor, text, failed) {
    if (!anchor) { return; }
    var note = anchor.querySelector(":scope > .confirm");
    if (!note) {
      note = document.createElement("p");
      note.className = "confirm";
      note.setAttribute("role", "status");
      anchor.appendChild(note);
    }
    note.classList.toggle("failed", !!failed);
    note.textContent = text;
  }

  window.Evergreen = { refresh: refresh, completeJson: completeJson };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-inplace]")) { return; }
    event.preventDefault();
    var button = event.submitter || form.querySelector("button");
    var body = new FormData(form);
    if (button && button.name) { body.append(button.name, button.value); }
    var anchor = anchorOf(form);
    var anchorId = anchor && anchor.id;
    form.setAttribute("aria-busy", "true");
    if (button) { button.disabled = true; button.classList.add("busy"); }
    confirm(anchor, "Saving…");
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch", "Accept": "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) {
        return { ok: response.ok, status: response.status, data: data };
      });
    }).then(function (answer) {
      form.removeAttribute("aria-busy");
      if (button) { button.disabled = false; button.classList.remove("busy"); }
      var text = answer.data.message || (answer.ok ? "Saved." : "Not saved.");
      confirm(anchor, text, !answer.ok);
      // Refused or invalid: nothing changed, and the form keeps what was typed.
      if (answer.status === 400 || answer.status === 403) { return null; }
      // What the action caused (new content, another state) comes in afterwards.
      return refresh(form.dataset.inplace.split(" ").filter(Boolean)).then(function () {
        confirm(document.getElementById(anchorId), text, !answer.ok);
      });
    }).catch(function () {
      form.removeAttribute("aria-busy");
      form.submit();
    });
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "nav-company") { event.target.form.submit(); }
  });

  /* Only boxes that do scroll take a Tab stop; a table keeps its own role. */
  function scrollBoxes() {
    document.querySelectorAll(".scroll, main table").forEach(function (box) {
      if (box.hasAttribute("tabindex") || box.scrollWidth <= box.clientWidth + 1) { return; }
      box.setAttribute("tabindex", "0");
      if (box.tagName !== "TABLE" && !box.hasAttribute("role")) {
        var heading = box.closest("section, figure, details");
        heading = heading && heading.querySelector("h2, h3, figcaption strong, summary");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", (heading ? heading.textContent.trim() + ": " : "") + "table");
      }
    });
  }

  function showCurrentNav() {
    var current = document.querySelector(".site nav [aria-current]");
    var strip = current && current.closest("ul");
    if (!strip || strip.scrollWidth <= strip.clientWidth) { return; }
    var item = current.closest("li");
    strip.scrollLeft = Math.max(0, item.offsetLeft + item.offsetWidth - strip.clientWidth + 24);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    scrollBoxes();
    showCurrentNav();
  });
  window.addEventListener("resize", scrollBoxes);
})();
