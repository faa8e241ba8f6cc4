(() => {
  "use strict";
  let lit = [];
  const clear = () => { lit.forEach(el => el.classList.remove("hl")); lit = []; };
  const light = els => { els.forEach(el => { el.classList.add("hl"); lit.push(el); }); };
  const q = (root, sel) => Array.from(root.querySelectorAll(sel));
  const attr = (name, value, op = "=") => `[${name}${op}"${CSS.escape(value)}"]`;
  function related(el) {
    const root = el.closest("section.article");
    if (!root) return [];
    if (el.matches("mark")) {
      const refs = el.dataset.refs.split(" "), owners = el.dataset.owners.split(" ");
      return [el, ...refs.flatMap(r => q(root, "a" + attr("data-ref", r))),
              ...owners.flatMap(o => q(root, attr("data-owner", o)))];
    }
    if (el.matches("a[data-ref]")) {
      return [el, ...q(root, "mark" + attr("data-refs", el.dataset.ref, "~="))];
    }
    return [el, ...q(root, "mark" + attr("data-owners", el.dataset.owner, "~="))];
  }
  document.addEventListener("mouseover", ev => {
    const el = ev.target.closest("mark[data-refs], a[data-ref], [data-owner]");
    clear();
    if (el) light(related(el));
  });
  const info = document.getElementById("info");
  document.addEventListener("click", ev => {
    const el = ev.target.closest("mark[data-refs]");
    if (!el) { if (!ev.target.closest("#info")) info.hidden = true; return; }
    info.replaceChildren();
    const head = document.createElement("b");
    head.textContent = "This passage supports:";
    info.append(head);
    const list = document.createElement("ul");
    el.title.split(" · ").forEach(label => {
      const li = document.createElement("li");
      li.textContent = label;
      list.append(li);
    });
    info.append(list);
    el.dataset.owners.split(" ").forEach(owner => {
      const row = document.getElementById(owner + "-row") || document.querySelector(attr("data-owner", owner));
      if (!row) return;
      const go = document.createElement("a");
      go.href = "#" + (row.id || owner);
      go.textContent = "→ " + (row.dataset.label || owner.split("-").slice(1).join("-")) + " ";
      go.addEventListener("click", e => { e.preventDefault(); row.scrollIntoView({block: "center"}); clear(); light([row]); });
      info.append(go);
    });
    info.hidden = false;
  });
  const box = document.getElementById("filter");
  if (box) {
    const sections = q(document, "section.article");
    const rows = new Map(q(document, "#articles tr[data-article]").map(r => [r.dataset.article, r]));
    const shown = document.getElementById("shown");
    const facets = q(document, "#index li[data-key]");
    const apply = () => {
      const terms = box.value.toLowerCase().split(/\s+/).filter(Boolean);
      const tally = new Map();
      let n = 0;
      for (const s of sections) {
        const ok = terms.every(t => s.dataset.search.includes(t));
        s.hidden = !ok;
        rows.get(s.id).hidden = !ok;
        n += ok;
        if (ok) s.dataset.keys.split(" ").filter(Boolean).forEach(k => tally.set(k, (tally.get(k) || 0) + 1));
      }
      for (const li of facets) {
        const count = tally.get(li.dataset.key) || 0;
        li.querySelector(".n").textContent = count;
        li.classList.toggle("zero", count === 0);
      }
      shown.textContent = `${n} of ${sections.length} articles`;
    };
    box.addEventListener("input", apply);
    q(document, "button.term").forEach(b => b.addEventListener("click", () => {
      box.value = (box.value + " " + b.dataset.term).trim();
      apply();
    }));
    apply();
  }
})();
