// Ruling form: a live check that the two amounts sum exactly to the escrow.
// Amounts are handled as integer minor units, never floats.
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
    var submit = form.querySelector("button[type=submit]");
    function check() {
      var p = toMinor(provider.value, exponent), b = toMinor(buyer.value, exponent);
      var ok = false;
      if (provider.value === "" && buyer.value === "") {
        out.textContent = "Enter how the " + format(escrow, exponent, currency) + " in escrow is divided.";
        out.className = "sum-check";
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
      button.addEventListener("click", function () {
        var p = Math.floor((escrow * parseInt(button.dataset.share, 10)) / 100);
        provider.value = plain(p, exponent); buyer.value = plain(escrow - p, exponent);
        check();
      });
    });
    check();
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.ruling-form").forEach(wire);
  });
})();
