// Ruling form: a live check that the two amounts sum exactly to the escrow, and quick splits.
// Amounts are handled as integer minor units, never floats. Everything here is a convenience:
// the form works without JavaScript (the server fills a blank side and the quick splits).
// Keys: j/k move through the case rows, / jumps to search.
(function () {
  "use strict";
  function toMinor(text, exponent) {
    var m = /^\s*(\d+)(?:\.(\d*))?\s*$/.exec(text || "");
    if (!m) return null;
    var frac = m[2] || "";
    if (frac.length > exponent) return null;
    while (frac.length < exponent) frac += "0";
    return parseInt(m[1], 10) * Math.pow(10, exponent) + (frac ? parseInt(frac, 10) : 0);
  }
  function format(minor, exponent, currency) {
    var neg = minor < 0; minor = Math.abs(minor);
    var scale = Math.pow(10, exponent);
    var whole = Math.floor(minor / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var frac = exponent ? "." + String(minor % scale).padStart(exponent, "0") : "";
    return (neg ? "-" : "") + whole + frac + " " + currency;
  }
  function plain(minor, exponent) {
    var scale = Math.pow(10, exponent);
    return exponent ? Math.floor(minor / scale) + "." + String(minor % scale).padStart(exponent, "0")
                    : String(minor);
  }
  function wire(form) {
    var escrow = parseInt(form.dataset.escrow, 10);
    var exponent = parseInt(form.dataset.exponent, 10);
    var currency = form.dataset.currency;
    var provider = form.querySelector("[name=to_provider]");
    var buyer = form.querySelector("[name=to_buyer]");
    var out = form.querySelector(".sum-check");
    var submit = form.querySelector("button[name=review]");
    function check() {
      var p = toMinor(provider.value, exponent), b = toMinor(buyer.value, exponent);
      var ok = false;
      if (provider.value === "" || buyer.value === "") {
        out.textContent = "Enter how the " + format(escrow, exponent, currency) +
          " in escrow is divided; a blank side gets the rest.";
        out.className = "sum-check";
        ok = true;
      } else if (p === null || b === null) {
        out.textContent = "Amounts are decimals with at most " + exponent + " decimals.";
        out.className = "sum-check bad";
      } else if (p + b === escrow) {
        var pct = escrow ? Math.round((p * 1000) / escrow) / 10 : 0;
        out.textContent = "✓ Sums to the escrow of " + format(escrow, exponent, currency) +
          " (" + pct + "% to the provider).";
        out.className = "sum-check good";
        ok = true;
      } else {
        var diff = p + b - escrow;
        out.textContent = (diff > 0 ? "Over" : "Short") + " by " + format(Math.abs(diff), exponent, currency) +
          ": the amounts must sum to " + format(escrow, exponent, currency) + ".";
        out.className = "sum-check bad";
      }
      submit.disabled = !ok;
    }
    function fill(from, to) {
      var v = toMinor(from.value, exponent);
      if (v !== null && v <= escrow && to.dataset.touched !== "yes") to.value = plain(escrow - v, exponent);
    }
    provider.addEventListener("input", function () { provider.dataset.touched = "yes"; fill(provider, buyer); check(); });
    buyer.addEventListener("input", function () { buyer.dataset.touched = "yes"; fill(buyer, provider); check(); });
    form.querySelectorAll("[data-share]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var p = Math.floor((escrow * parseInt(button.dataset.share, 10)) / 100);
        provider.value = plain(p, exponent); buyer.value = plain(escrow - p, exponent);
        check();
      });
    });
    check();
  }
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function keys() {
    var rows = Array.prototype.slice.call(document.querySelectorAll("tr.case-row"));
    var current = -1;
    function select(index) {
      if (!rows.length) return;
      current = Math.max(0, Math.min(rows.length - 1, index));
      rows.forEach(function (row, i) { row.classList.toggle("current", i === current); });
      var link = rows[current].querySelector("a.case-link");
      if (link) link.focus();
    }
    document.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
      if (event.key === "/") {
        var search = document.getElementById("search");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
      } else if (event.key === "j") {
        select(current + 1);
      } else if (event.key === "k") {
        select(current - 1);
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.ruling-form").forEach(wire);
    keys();
  });
})();
