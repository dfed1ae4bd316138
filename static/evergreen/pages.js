/* Evergreen pages: a little progressive enhancement, no framework.
 * - <form data-inplace="id1 id2">: posted with fetch; the regions with those ids are
 *   replaced by the same regions of the page the server redirects to. Without
 *   JavaScript the form posts and the server redirects back: the same result.
 * - [data-events="url"]: follows a generation over Server-Sent Events; each chunk is
 *   appended as text (never as HTML) to its [data-stream] child; on done or failed
 *   the region [data-refresh] is fetched again from the server (cleaned there).
 * - [data-poll]: a region that is waiting for work done elsewhere; it is fetched
 *   again every few seconds until the server renders it without data-poll.
 * - the navigation's company picker opens the chosen company on change.
 * Model text only ever reaches the page as server-cleaned HTML or as textContent.
 */
(function () {
  "use strict";
  var POLL_MS = 1500;

  function fetchPage(url, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = { "X-Requested-With": "fetch" };
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
    return fetchPage(window.location.href).then(function (page) {
      replaceRegions(page.doc, ids);
    });
  }

  function follow(region) {
    if (region.dataset.following === "1") { return; }
    region.dataset.following = "1";
    var target = region.querySelector("[data-stream]") || region;
    var started = false;
    var source = new EventSource(region.dataset.events);
    source.addEventListener("chunk", function (event) {
      var data = JSON.parse(event.data);
      if (!started) { target.textContent = ""; started = true; }
      target.textContent += data.text;
      var bar = region.querySelector("progress");
      if (bar && typeof data.progress === "number") { bar.value = data.progress; }
    });
    source.addEventListener("reset", function () { target.textContent = ""; });
    function finish() {
      source.close();
      var ids = (region.dataset.refresh || region.id).split(" ").filter(Boolean);
      refresh(ids);
    }
    source.addEventListener("done", finish);
    source.addEventListener("failed", finish);
  }

  function poll(region) {
    if (region.dataset.polling === "1") { return; }
    region.dataset.polling = "1";
    window.setTimeout(function () {
      if (!document.body.contains(region)) { return; }
      refresh([region.id]).catch(function () {
        region.dataset.polling = "";
        poll(region);
      });
    }, POLL_MS);
  }

  function enhance(root) {
    var scope = root.querySelectorAll ? root : document;
    if (scope.matches && scope.matches("[data-events]")) { follow(scope); }
    if (scope.matches && scope.matches("[data-poll]")) { poll(scope); }
    scope.querySelectorAll("[data-events]").forEach(follow);
    scope.querySelectorAll("[data-poll]").forEach(poll);
  }

  window.Evergreen = { refresh: refresh };

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-inplace]")) { return; }
    event.preventDefault();
    var button = event.submitter;
    var body = new FormData(form);
    if (button && button.name) { body.append(button.name, button.value); }
    form.setAttribute("aria-busy", "true");
    fetchPage(form.action, { method: "POST", body: body }).then(function (page) {
      replaceRegions(page.doc, form.dataset.inplace.split(" ").filter(Boolean));
      var message = page.doc.getElementById("messages");
      var here = document.getElementById("messages");
      if (message && here) { here.replaceWith(document.importNode(message, true)); }
    }).catch(function () {
      form.removeAttribute("aria-busy");
      form.submit();
    });
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "nav-company") { event.target.form.submit(); }
  });

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
})();
