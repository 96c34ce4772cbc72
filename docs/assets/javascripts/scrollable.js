// Scrollable regions can be scrolled from the keyboard: each one that overflows gets tabindex="0"
// (axe-core's scrollable-region-focusable). Material wraps tables and tab labels in scrolling
// containers at run time, so this runs after Material's own components, on every page Material shows.
(function () {
  "use strict";
  const SELECTOR = "article pre, article pre > code, article .md-typeset__scrollwrap, article .tabbed-labels, " +
    "article .math, article .diagram-frame, article .highlight-ipynb, article .jp-OutputArea-output";
  function mark() {
    for (const el of document.querySelectorAll(SELECTOR)) {
      const style = getComputedStyle(el);
      const scrolls = /(auto|scroll)/.test(style.overflowX + style.overflowY) &&
        (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1);
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-scroll-focusable", "");
      }
    }
  }
  // Material's document$ emits each (instant-loaded) page once its components are mounted.
  if (window.document$) window.document$.subscribe(() => requestAnimationFrame(mark));
  else document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", () => requestAnimationFrame(mark));
})();
