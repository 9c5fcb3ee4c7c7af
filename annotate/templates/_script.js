(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("claim-data").textContent);
  var claims = data.claims;
  var panel = document.getElementById("panel");
  var body = panel.querySelector(".panel-body");
  var empty = panel.querySelector(".panel-empty");
  var pinned = null;
  var current = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function setChip(id, cls, text) {
    var e = document.getElementById(id);
    e.className = cls;
    e.textContent = text || "";
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function claimLink(id, label) {
    var a = el("a", null, label);
    a.href = "#c-" + id;
    a.addEventListener("click", function (ev) { ev.preventDefault(); goTo(id); });
    return a;
  }
  function scores(id, map, chosen) {
    var box = document.getElementById(id);
    clear(box);
    if (!map) { box.appendChild(el("div", "muted", "none (rule labeler: no scores)")); return; }
    Object.keys(map).forEach(function (k) {
      var v = Number(map[k]);
      var row = el("div", "srow" + (k === chosen ? " top" : ""));
      row.appendChild(el("span", null, k));
      var track = el("div", "track");
      var fill = el("div", "fill");
      fill.style.width = Math.max(0, Math.min(100, v * 100)).toFixed(1) + "%";
      track.appendChild(fill);
      row.appendChild(track);
      row.appendChild(el("span", "muted", v.toFixed(2)));
      box.appendChild(row);
    });
  }
  function highlightSpans(id, on) {
    document.querySelectorAll(".src, .cue").forEach(function (s) {
      var of = ((s.getAttribute("data-src-of") || "") + " " + (s.getAttribute("data-cue-of") || "")).split(" ");
      if (of.indexOf(id) >= 0) { s.classList.toggle("hl", on); }
    });
  }

  function show(id) {
    var c = claims[id];
    if (!c) { return; }
    if (current && current !== id) {
      var prev = document.getElementById("c-" + current);
      if (prev) { prev.classList.remove("active"); }
      highlightSpans(current, false);
    }
    current = id;
    var node = document.getElementById("c-" + id);
    if (node) { node.classList.add("active"); }
    highlightSpans(id, true);
    empty.hidden = true;
    body.hidden = false;
    setChip("p-type", "chip t-" + c.type, c.type);
    setChip("p-stance", "chip s-" + (c.stance || "none"), c.stance || "no stance");
    setChip("p-ver", "badge v-" + (c.verification || "none"), c.verification || "");
    document.getElementById("p-pin").textContent = pinned === id ? "pinned (click again to release)" : "";
    document.getElementById("p-text").textContent = c.text;
    var src = document.getElementById("p-source");
    clear(src);
    if (c.source) {
      src.appendChild(el("strong", null, c.source.canonical || c.source.text));
      src.appendChild(document.createTextNode(" "));
      src.appendChild(el("span", "chip k-" + c.source.kind, c.source.kind));
      if (c.source.canonical && c.source.canonical !== c.source.text) {
        src.appendChild(el("div", "muted", "as written: \u201c" + c.source.text + "\u201d"));
      }
    } else {
      src.appendChild(el("span", "muted", c.type === "attributed" ? "unresolved" : "the author"));
    }
    document.getElementById("p-cue").textContent = c.cue ? "\u201c" + c.cue.text + "\u201d" : "\u2014";
    var tgt = document.getElementById("p-target");
    clear(tgt);
    if (c.target && claims[c.target]) {
      tgt.appendChild(claimLink(c.target, "\u201c" + claims[c.target].text.slice(0, 90) + (claims[c.target].text.length > 90 ? "\u2026\u201d" : "\u201d")));
    } else { tgt.textContent = c.target || "\u2014"; }
    var cluster = data.clusters[c.cluster_id] || { size: 1, appearances: [] };
    var others = cluster.appearances.filter(function (o) { return o.claim_id !== c.claim_id; });
    var more = cluster.size - 1 - others.length;
    var n = cluster.size - 1;
    document.getElementById("p-cluster").textContent = c.cluster_id
      ? c.cluster_id + (n ? " \u00b7 " + (n + 1) + " appearances" : " \u00b7 only here") : "\u2014";
    document.getElementById("p-model").textContent = c.model + (c.rules && c.rules.length ? " \u00b7 rules: " + c.rules.join(", ") : "");
    scores("p-type-scores", c.type_scores, c.type);
    scores("p-stance-scores", c.stance_scores, c.stance);
    var list = document.getElementById("p-others");
    clear(list);
    if (!others.length) { list.appendChild(el("li", "muted", "Not found elsewhere in this corpus.")); }
    others.forEach(function (o) {
      var li = el("li");
      var head = el("div");
      var label = (o.outlet || o.doc_id) + (o.source ? " \u00b7 " + o.source : " \u00b7 author");
      if (document.getElementById("c-" + o.claim_id)) { head.appendChild(claimLink(o.claim_id, label)); }
      else { head.appendChild(el("span", "mono", label)); }
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", "chip s-" + (o.stance || "none"), o.stance || "\u2014"));
      head.appendChild(document.createTextNode(" "));
      head.appendChild(el("span", "badge v-" + o.verification, o.verification));
      li.appendChild(head);
      li.appendChild(el("div", "q", o.text));
      list.appendChild(li);
    });
    if (more > 0) { list.appendChild(el("li", "muted", "and " + more + " more (see clusters.jsonl)")); }
  }

  function goTo(id) {
    var node = document.getElementById("c-" + id);
    if (!node) { return; }
    pinned = id;
    node.scrollIntoView({ block: "center" });
    show(id);
  }

  document.querySelectorAll(".claim[data-claim]").forEach(function (node) {
    var id = node.getAttribute("data-claim");
    node.addEventListener("mouseenter", function () { if (!pinned) { show(id); } });
    node.addEventListener("focus", function () { if (!pinned) { show(id); } });
    node.addEventListener("click", function () {
      pinned = pinned === id ? null : id;
      show(id);
    });
    node.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); node.click(); }
    });
  });
  document.querySelectorAll("a[data-goto]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); goTo(a.getAttribute("data-goto")); });
  });
})();
