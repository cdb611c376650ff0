/* DistillBench leaderboard: sorting and filtering in place, the view kept in the query string.
 *
 * Without this script every control is a link to a pre-rendered page of the view it leads to, so nothing here is
 * needed to use the site. With it, a click reorders and filters the rows where they are (no reload), pushes the
 * view to the URL (?track=&filters=&sort=&dir=, defaults left out) so it can be shared and the Back button works,
 * and keeps every link's href pointing at the pre-rendered page of the view it would now lead to (so opening a
 * control in a new tab gives the same view). Sort positions come from the page (data-o-<column>): the order is the
 * one the build computed for the pre-rendered pages, with the same tie-break. No network, no dependencies. */
(function () {
  "use strict";
  var main = document.querySelector("main.board-page");
  if (!main) return;

  var tracks = Array.prototype.map.call(main.querySelectorAll("[data-set-track]"), function (a) { return a.getAttribute("data-set-track"); });
  var filters = Array.prototype.map.call(main.querySelectorAll("[data-toggle]"), function (a) { return a.getAttribute("data-toggle"); });
  var natural = {};
  var labels = {};
  Array.prototype.forEach.call(main.querySelector("table.board").querySelectorAll("th[data-col]"), function (th) {
    natural[th.getAttribute("data-col")] = th.getAttribute("data-natural");
    labels[th.getAttribute("data-col")] = th.querySelector("a.sort").firstChild.textContent;
  });
  var DEFAULT = { track: "all", filters: [], sort: "rank", dir: "asc" };
  var initial = {
    track: main.getAttribute("data-track"),
    filters: main.getAttribute("data-filters") ? main.getAttribute("data-filters").split(",") : [],
    sort: main.getAttribute("data-sort"),
    dir: main.getAttribute("data-dir")
  };

  function ordered(list) { return filters.filter(function (f) { return list.indexOf(f) >= 0; }); }
  function copy(s) { return { track: s.track, filters: s.filters.slice(), sort: s.sort, dir: s.dir }; }
  function isDefault(s) { return s.track === "all" && !s.filters.length && s.sort === "rank" && s.dir === "asc"; }

  /* The query string states a whole view; a parameter left out takes its default, an unknown value is ignored. */
  function fromQuery(search) {
    var p = new URLSearchParams(search);
    var s = copy(DEFAULT);
    if (tracks.indexOf(p.get("track")) >= 0) s.track = p.get("track");
    if (p.get("filters")) s.filters = ordered(p.get("filters").split(","));
    if (Object.prototype.hasOwnProperty.call(natural, p.get("sort"))) { s.sort = p.get("sort"); s.dir = natural[s.sort]; }
    if (p.get("dir") === "asc" || p.get("dir") === "desc") s.dir = p.get("dir");
    return s;
  }
  function toQuery(s) {
    var p = [];
    if (s.track !== "all") p.push("track=" + encodeURIComponent(s.track));
    if (s.filters.length) p.push("filters=" + s.filters.join(","));
    if (s.sort !== "rank" || s.dir !== "asc") p.push("sort=" + s.sort, "dir=" + s.dir);
    return p.length ? "?" + p.join("&") : "";
  }
  /* The same names as distillbench.publish.table.View.file. */
  function viewHref(s) {
    if (isDefault(s)) return main.getAttribute("data-home");
    return main.getAttribute("data-views") + s.track + "_" + (s.filters.join("-") || "none") + "_" + s.sort + "_" + s.dir + ".html";
  }
  function withTrack(s, t) { var n = copy(s); n.track = t; return n; }
  function toggled(s, f) {
    var n = copy(s);
    n.filters = s.filters.indexOf(f) >= 0 ? s.filters.filter(function (x) { return x !== f; }) : ordered(s.filters.concat([f]));
    return n;
  }
  function sortedBy(s, col) {
    var n = copy(s);
    if (s.sort === col) n.dir = s.dir === "asc" ? "desc" : "asc"; else { n.sort = col; n.dir = natural[col]; }
    return n;
  }

  function position(row, col) {
    var v = row.getAttribute("data-o-" + col);
    return v === "" ? null : Number(v);
  }

  function apply(s) {
    var shownTotal = 0, total = 0;
    Array.prototype.forEach.call(main.querySelectorAll("section.track"), function (section) {
      section.hidden = !(s.track === "all" || s.track === section.getAttribute("data-track"));
      var tbody = section.querySelector("tbody");
      var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr[data-i]"));
      var keep = rows.filter(function (r) {
        return s.filters.every(function (f) { return r.getAttribute("data-" + f) === "1"; });
      });
      var sign = s.dir === "asc" ? 1 : -1;
      keep.sort(function (a, b) {
        var pa = position(a, s.sort), pb = position(b, s.sort);
        if (pa === null || pb === null) {
          if (pa !== pb) return pa === null ? 1 : -1;
        } else if (pa !== pb) {
          return sign * (pa - pb);
        }
        return Number(a.getAttribute("data-i")) - Number(b.getAttribute("data-i"));
      });
      var drop = rows.filter(function (r) { return keep.indexOf(r) < 0; });
      drop.sort(function (a, b) { return Number(a.getAttribute("data-i")) - Number(b.getAttribute("data-i")); });
      var empty = tbody.querySelector("tr.empty");
      keep.concat(drop).forEach(function (r) { r.hidden = drop.indexOf(r) >= 0; tbody.insertBefore(r, empty); });
      empty.hidden = keep.length > 0 || rows.length === 0;
      total += rows.length;
      if (!section.hidden) shownTotal += keep.length;
      Array.prototype.forEach.call(section.querySelectorAll("th[data-col]"), function (th) {
        var col = th.getAttribute("data-col");
        if (col === s.sort) th.setAttribute("aria-sort", s.dir === "asc" ? "ascending" : "descending");
        else th.removeAttribute("aria-sort");
        th.querySelector("a.sort").setAttribute("href", viewHref(sortedBy(s, col)));
      });
    });
    Array.prototype.forEach.call(main.querySelectorAll("[data-set-track]"), function (a) {
      var t = a.getAttribute("data-set-track");
      if (t === s.track) a.setAttribute("aria-current", "true"); else a.removeAttribute("aria-current");
      a.setAttribute("href", viewHref(withTrack(s, t)));
    });
    Array.prototype.forEach.call(main.querySelectorAll("[data-toggle]"), function (a) {
      var f = a.getAttribute("data-toggle"), on = s.filters.indexOf(f) >= 0;
      a.classList.toggle("on", on);
      a.querySelector(".state").textContent = on ? " (on)" : " (off)";
      a.setAttribute("href", viewHref(toggled(s, f)));
    });
    var status = document.getElementById("view-status");
    if (status) {
      status.textContent = "Showing " + shownTotal + " of " + total + " methods, sorted by " + labels[s.sort] +
        " (" + (s.dir === "asc" ? "ascending" : "descending") + ").";
    }
  }

  var state = location.search ? fromQuery(location.search) : copy(initial);
  apply(state);

  function go(next) {
    state = next;
    apply(state);
    try {
      history.pushState(null, "", location.pathname + toQuery(state) + location.hash);
    } catch (e) {
      /* Some browsers refuse history changes on file:// pages; the view still changes. */
    }
  }

  main.addEventListener("click", function (ev) {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    var a = ev.target.closest("a");
    if (!a || !main.contains(a)) return;
    var next = null;
    if (a.hasAttribute("data-set-track")) next = withTrack(state, a.getAttribute("data-set-track"));
    else if (a.hasAttribute("data-toggle")) next = toggled(state, a.getAttribute("data-toggle"));
    else if (a.hasAttribute("data-sort")) next = sortedBy(state, a.getAttribute("data-sort"));
    else if (a.hasAttribute("data-reset")) next = copy(DEFAULT);
    if (!next) return;
    ev.preventDefault();
    go(next);
  });
  window.addEventListener("popstate", function () {
    state = location.search ? fromQuery(location.search) : copy(initial);
    apply(state);
  });
})();
