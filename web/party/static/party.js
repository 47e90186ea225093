// Live party page: Server-Sent Events say when the contract moved; the page then fetches
// itself and swaps the live part in place. Without EventSource (or when the stream keeps
// failing) it polls the event counter instead. A provider sees a "paid" banner when the
// amount paid to date grows.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) return;
  var failures = 0, polling = false, source = null;

  function refresh() {
    fetch(window.location.pathname + window.location.search.replace(/([?&])done=1&?/, "$1"),
          { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("live");
        if (!fresh) return;
        var before = Number(live.dataset.paid), after = Number(fresh.dataset.paid);
        var focused = document.activeElement && document.activeElement.closest("#live form");
        if (focused) return;  // never wipe what the party is typing; the next change redraws
        live.replaceWith(fresh);
        live = fresh;
        if (after > before && live.dataset.role === "provider") {
          var banner = document.getElementById("paid");
          var paid = live.querySelector("[data-figure=paid_to_date]");
          banner.textContent = "Paid: you have now been paid " + (paid ? paid.textContent : "") + " to date.";
          banner.hidden = false;
        }
        window.dispatchEvent(new CustomEvent("party:updated", { detail: live.dataset.seq }));
      });
  }

  function changed(seq) {
    if (String(seq) !== live.dataset.seq) refresh();
  }

  function poll() {
    if (polling) return;
    polling = true;
    window.setInterval(function () {
      fetch(live.dataset.poll, { cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (body) { changed(body.seq); });
    }, 2000);
  }

  function listen() {
    if (!window.EventSource) { poll(); return; }
    source = new EventSource(live.dataset.stream + "?seq=" + encodeURIComponent(live.dataset.seq));
    source.onopen = function () { failures = 0; };
    source.addEventListener("change", function (e) { changed(e.data); });
    source.onerror = function () {
      failures += 1;
      if (failures > 3) { source.close(); poll(); }
    };
  }
  listen();
})();
