(function () {
  "use strict";
  function value(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute("data-v");
    if (v !== null) { return v === "" ? null : parseFloat(v); }
    return cell.textContent.toLowerCase();
  }
  function setup(table) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var size = parseInt(table.getAttribute("data-pager"), 10) || 50;
    var box = document.getElementById(table.id + "-controls");
    var filter = box.querySelector("input");
    var info = box.querySelector("output");
    var prev = box.querySelector("[data-prev]");
    var next = box.querySelector("[data-next]");
    var shown = rows.slice();
    var page = 0;
    box.hidden = false;
    function draw() {
      var pages = Math.max(1, Math.ceil(shown.length / size));
      page = Math.min(page, pages - 1);
      var lo = page * size, hi = Math.min(shown.length, lo + size);
      rows.forEach(function (r) { r.hidden = true; });
      for (var i = lo; i < hi; i++) { shown[i].hidden = false; }
      info.textContent = shown.length ? (lo + 1) + "–" + hi + " of " + shown.length : "no match";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    function apply() {
      var q = filter.value.trim().toLowerCase();
      shown = rows.filter(function (r) { return !q || r.cells[0].textContent.toLowerCase().indexOf(q) >= 0; });
      page = 0;
      draw();
    }
    filter.addEventListener("input", apply);
    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var up = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        rows.sort(function (a, b) {
          var x = value(a, col), y = value(b, col);
          if (x === y) { return 0; }
          if (x === null || (typeof x === "number" && isNaN(x))) { return 1; }
          if (y === null || (typeof y === "number" && isNaN(y))) { return -1; }
          return (x < y ? -1 : 1) * (up ? 1 : -1);
        });
        var frag = document.createDocumentFragment();
        rows.forEach(function (r) { frag.appendChild(r); });
        body.appendChild(frag);
        apply();
      });
    });
    draw();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table[data-pager]"), setup);
})();
