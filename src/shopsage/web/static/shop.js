// ShopSage storefront: the click beacon and the search box's suggestions. Pages work without it.
(function () {
  "use strict";
  // A click on a listed item: where it was shown (the answer's query_id / recomm_id and the position).
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-click]");
    if (!a) return;
    var card = a.closest("[data-item-id]");
    if (!card) return;
    var body = { item: card.getAttribute("data-item-id"), page: a.getAttribute("data-page") || null };
    var pos = parseInt(card.getAttribute("data-position"), 10);
    if (!isNaN(pos)) body.position = pos;
    ["query", "query-id", "recomm-id"].forEach(function (k) {
      var v = a.getAttribute("data-" + k);
      if (v) body[k.replace("-", "_")] = v;
    });
    var blob = new Blob([JSON.stringify(body)], { type: "application/json" });
    if (!(navigator.sendBeacon && navigator.sendBeacon("/shop/click", blob))) {
      fetch("/shop/click", { method: "POST", body: blob, keepalive: true, headers: { "Content-Type": "application/json" } });
    }
  });
  // Suggestions while typing (a native datalist: keyboard and screen readers handle it).
  var input = document.querySelector("input[type=search][data-suggest]");
  if (!input) return;
  var list = document.getElementById(input.getAttribute("list"));
  var timer = null, last = "";
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q === last || q.length < 1) return;
      last = q;
      fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(q))
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (d) {
          list.textContent = "";
          (d.suggestions || []).forEach(function (s) {
            var o = document.createElement("option");
            o.value = s;
            list.appendChild(o);
          });
        }).catch(function () {});
    }, 120);
  });
})();
