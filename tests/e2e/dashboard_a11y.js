// Accessibility checks run inside the dashboard page by tests/e2e/test_dashboard.py.
// Returns a list of problems (empty when all is well): unlabelled controls, charts without a
// <title>/<desc>, text below 4.5:1 contrast against what is behind it.
() => {
  const problems = [];
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== "hidden" && s.display !== "none";
  };

  // 1. Every control has a name a screen reader can say.
  for (const el of document.querySelectorAll("input, select, textarea, button")) {
    const named =
      (el.labels && el.labels.length > 0) ||
      el.getAttribute("aria-label") ||
      el.getAttribute("aria-labelledby") ||
      (el.tagName === "BUTTON" && el.textContent.trim());
    if (!named) problems.push(`unlabelled control: ${el.outerHTML.slice(0, 80)}`);
  }

  // 2. Every chart is an image with a title and a description.
  for (const chart of document.querySelectorAll("main svg")) {
    const title = chart.querySelector(":scope > title");
    const desc = chart.querySelector(":scope > desc");
    if (chart.getAttribute("role") !== "img") problems.push("svg without role=img");
    if (!title || !title.textContent.trim()) problems.push("svg without a <title>");
    if (!desc || !desc.textContent.trim()) problems.push(`svg without a <desc>: ${title && title.textContent}`);
    const ids = (chart.getAttribute("aria-labelledby") || "").split(/\s+/);
    if (!title || !desc || !ids.includes(title.id) || !ids.includes(desc.id)) {
      problems.push(`svg not labelled by its title and desc: ${title && title.textContent}`);
    }
  }

  // 3. Contrast of every visible piece of text (HTML and SVG) against its background.
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      if (node instanceof SVGElement && node.tagName !== "svg") continue;
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const el = t.parentElement;
    if (!el || seen.has(el) || !t.textContent.trim()) continue;
    seen.add(el);
    if (["TITLE", "DESC", "SCRIPT", "STYLE", "OPTION"].includes(el.tagName.toUpperCase())) continue;
    if (el.closest("[hidden], .visually-hidden, title, desc") || !visible(el)) continue;
    const style = getComputedStyle(el);
    const fg = parse(el instanceof SVGElement ? style.fill : style.color);
    if (!fg) continue;
    // Text on a coloured bar segment: its background is the bar it sits on.
    let bg = background(el);
    if (el instanceof SVGElement && el.classList.contains("segment-label")) {
      const bar = el.previousElementSibling;
      bg = parse(getComputedStyle(bar).fill) || bg;
    }
    const r = ratio(fg, bg);
    if (r < 4.5) problems.push(`contrast ${r.toFixed(2)}:1 for "${t.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
}
