// comicsrv's web reader: one ES module, no framework.
//
// Pages come from /api/v1/books/<id>/pages/<n> at the width the screen
// needs in device pixels (the original once zoomed in), and the next pages
// (and the previous one) are fetched and decoded ahead, so a page turn only
// swaps an already decoded image into place. The position is saved through
// /api/v1/books/<id>/progress, the same progress every API surface reads.

const root = document.getElementById("reader");
const cfg = JSON.parse(document.getElementById("reader-config").textContent);
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const stage = document.getElementById("stage");
const spreadEl = document.getElementById("spread");
const vertical = document.getElementById("vertical");
const slider = document.getElementById("slider");
const preview = document.getElementById("preview");
const counter = document.getElementById("page-count");
const announce = document.getElementById("announce");
const endcard = document.getElementById("endcard");

const N = cfg.pageCount;
const WIDTH_STEP = 160;        // requested widths are rounded up to this, so caches are shared
const PREFETCH_AHEAD = 2;      // spreads
const CACHE_LIMIT = 16;        // decoded pages kept
const SAVE_DELAY = 700;        // ms between the last turn and the progress save
const STORAGE_KEY = "comicsrv.reader";

const state = {
  page: cfg.start,
  settings: { ...loadLocalSettings(), ...cfg.settings },
  zoom: 1,
  sizes: cfg.sizes.map(([w, h]) => (w && h ? { w, h } : null)),
  spreads: [],
  token: 0,
  target: null,
  savedPage: cfg.completed ? null : cfg.start,
  openedAt: performance.now(),
};

// Measurements the benchmark reads: keypress -> next image painted, in ms.
window.comicsrvReader = { turns: [], bytes: [], state };

// --- page URLs and sizes ----------------------------------------------------------

function pageUrl(n, width) {
  const url = `${cfg.pagesUrl}${n}?v=${cfg.version}`;
  return width ? `${url}&width=${width}` : url;
}

function isWide(n) {
  const size = state.sizes[n - 1];
  return !!size && size.w > size.h;
}

function aspect(n) {
  const size = state.sizes[n - 1];
  return size ? size.w / size.h : 0.65;
}

/** Width in device pixels that page ``n`` is drawn at, rounded up to a step;
 *  null for the original (zoomed in, or fit "original"). */
function neededWidth(n) {
  if (state.zoom > 1 || state.settings.fit === "original") return null;
  const dpr = window.devicePixelRatio || 1;
  const layout = state.settings.layout;
  let css;
  if (layout === "vertical") {
    css = Math.min(vertical.clientWidth || window.innerWidth, 900);
  } else {
    const columns = layout === "double" && !isWide(n) ? 2 : 1;
    const boxW = (stage.clientWidth || window.innerWidth) / columns;
    const boxH = stage.clientHeight || window.innerHeight;
    const fit = state.settings.fit;
    if (fit === "width") css = boxW;
    else if (fit === "height") css = boxH * aspect(n);
    else css = Math.min(boxW, boxH * aspect(n));
  }
  const px = Math.ceil((css * dpr) / WIDTH_STEP) * WIDTH_STEP;
  return Math.max(WIDTH_STEP, px);
}

// --- the decoded-page cache ---------------------------------------------------------

const cache = new Map(); // url -> {n, img, ready}

function load(n) {
  const url = pageUrl(n, neededWidth(n));
  let entry = cache.get(url);
  if (!entry) {
    const img = new Image();
    img.decoding = "async";
    img.alt = `Page ${n}`;
    img.draggable = false;
    img.src = url;
    const ready = img.decode().then(
      () => { learnSize(n, img); return img; },
      () => img, // a broken page still shows (as the browser's broken image)
    );
    entry = { n, img, ready };
    cache.set(url, entry);
    trimCache();
  } else {
    cache.delete(url); // most recently used last
    cache.set(url, entry);
  }
  return entry;
}

function trimCache() {
  while (cache.size > CACHE_LIMIT) {
    const [oldest, entry] = cache.entries().next().value;
    if (entry.img.isConnected) { cache.delete(oldest); cache.set(oldest, entry); break; }
    cache.delete(oldest);
  }
}

function learnSize(n, img) {
  if (state.sizes[n - 1] || !img.naturalWidth) return;
  // The image may be scaled; only its proportions matter here.
  state.sizes[n - 1] = { w: img.naturalWidth, h: img.naturalHeight };
  if (state.settings.layout === "double" && img.naturalWidth > img.naturalHeight) {
    computeSpreads();
  }
}

// --- spreads: which pages show together -----------------------------------------

/** Single pages, or pairs in double-page mode: the cover alone, then pairs,
 *  a wide page (a spread scanned as one image) always alone. */
function computeSpreads() {
  const spreads = [];
  if (state.settings.layout !== "double") {
    for (let n = 1; n <= N; n++) spreads.push([n]);
  } else {
    let n = 1;
    while (n <= N) {
      if (n === 1 || n === N || isWide(n) || isWide(n + 1)) { spreads.push([n]); n += 1; }
      else { spreads.push([n, n + 1]); n += 2; }
    }
  }
  state.spreads = spreads;
}

function spreadIndexOf(page) {
  const i = state.spreads.findIndex((s) => s.includes(page));
  return i < 0 ? 0 : i;
}

// --- showing pages -----------------------------------------------------------------

async function show(page, turnStartedAt) {
  if (state.settings.layout === "vertical") { scrollToPage(page); return; }
  const token = ++state.token;
  page = Math.max(1, Math.min(N, page));
  // Turns pressed faster than pages decode count from where they lead.
  state.target = state.spreads[spreadIndexOf(page)][0];
  let spread;
  let entries;
  // A page's size is known once it is decoded (unless the scan read it from
  // ComicInfo): a page found to be wide re-pairs the spreads, so settle on
  // the spread that holds ``page`` once its pages are decoded.
  for (let attempt = 0; attempt < 3; attempt++) {
    spread = state.spreads[spreadIndexOf(page)];
    entries = spread.map(load);
    await Promise.all(entries.map((e) => e.ready));
    if (token !== state.token) return; // a later turn won
    if (state.spreads[spreadIndexOf(page)].join() === spread.join()) break;
  }
  const imgs = entries.map((e) => e.img);
  for (const img of imgs) img.classList.toggle("half", spread.length === 2);
  if (state.settings.direction === "rtl") imgs.reverse();
  spreadEl.replaceChildren(...imgs);
  stage.scrollTo(state.settings.direction === "rtl" ? stage.scrollWidth : 0, 0);
  state.page = spread[0];
  spreadEl.dataset.pages = spread.join(",");
  updateIndicators(spread);
  if (turnStartedAt !== undefined) {
    requestAnimationFrame(() => requestAnimationFrame(() => {
      window.comicsrvReader.turns.push(performance.now() - turnStartedAt);
    }));
  }
  scheduleSave(spread[spread.length - 1]);
  prefetchAround(spreadIndexOf(spread[0]));
}

function prefetchAround(index) {
  const wanted = [];
  for (let i = 1; i <= PREFETCH_AHEAD; i++) wanted.push(...(state.spreads[index + i] || []));
  wanted.push(...(state.spreads[index - 1] || []));
  // Let the current page paint first.
  const run = () => wanted.forEach(load);
  if ("requestIdleCallback" in window) requestIdleCallback(run, { timeout: 120 });
  else setTimeout(run, 0);
}

function updateIndicators(spread) {
  const label = spread.length === 2 ? `${spread[0]}–${spread[1]}` : `${spread[0]}`;
  counter.textContent = `${label} / ${N}`;
  slider.value = String(spread[0]);
  slider.setAttribute("aria-valuetext", `Page ${label} of ${N}`);
  announce.textContent = `Page ${label} of ${N}`;
}

function turn(step, startedAt = performance.now()) {
  if (state.settings.layout === "vertical") {
    vertical.scrollBy({ top: step * vertical.clientHeight * 0.9, behavior: "instant" });
    return;
  }
  const index = spreadIndexOf(state.target ?? state.page) + step;
  if (index >= state.spreads.length) { showEnd(); return; }
  if (index < 0) return;
  show(state.spreads[index][0], startedAt);
}

function goTo(page) {
  show(Math.max(1, Math.min(N, page)), performance.now());
}

// --- vertical (webtoon) mode ------------------------------------------------------

let observer = null;

function buildVertical() {
  const width = neededWidth(1);
  const imgs = [];
  for (let n = 1; n <= N; n++) {
    const img = document.createElement("img");
    img.loading = Math.abs(n - state.page) <= 2 ? "eager" : "lazy";
    img.decoding = "async";
    img.alt = `Page ${n}`;
    img.dataset.page = String(n);
    const size = state.sizes[n - 1];
    img.width = size ? size.w : 1000;
    img.height = size ? size.h : 1500;
    img.src = pageUrl(n, width);
    imgs.push(img);
  }
  vertical.replaceChildren(...imgs);
  observer?.disconnect();
  observer = new IntersectionObserver((items) => {
    const visible = items.filter((i) => i.isIntersecting)
      .map((i) => Number(i.target.dataset.page));
    if (!visible.length) return;
    const page = Math.min(...visible);
    state.page = page;
    updateIndicators([page]);
    scheduleSave(page === N - 1 && atBottom() ? N : page);
  }, { root: vertical, threshold: 0.5 });
  imgs.forEach((img) => observer.observe(img));
  vertical.addEventListener("scroll", () => {
    if (atBottom()) { scheduleSave(N); }
  }, { passive: true });
}

function atBottom() {
  return vertical.scrollTop + vertical.clientHeight >= vertical.scrollHeight - 4;
}

function scrollToPage(page) {
  const img = vertical.querySelector(`img[data-page="${page}"]`);
  if (img) img.scrollIntoView({ block: "start" });
}

// --- progress -----------------------------------------------------------------------

let saveTimer = null;
let pendingPage = null;

function scheduleSave(page) {
  pendingPage = page;
  clearTimeout(saveTimer);
  saveTimer = setTimeout(saveNow, SAVE_DELAY);
}

function saveNow(keepalive = false) {
  clearTimeout(saveTimer);
  if (pendingPage === null || pendingPage === state.savedPage) return Promise.resolve();
  const page = pendingPage;
  const seconds = Math.round((performance.now() - state.openedAt) / 1000);
  state.openedAt = performance.now();
  state.savedPage = page;
  return putProgress({ current_page: page, time_spent: Math.min(seconds, 86400) }, keepalive);
}

function putProgress(body, keepalive = false) {
  return fetch(cfg.progressUrl, {
    method: "PUT", keepalive, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(body),
  }).then((r) => {
    if (!r.ok) state.savedPage = null; // try again on the next turn
    return r;
  }, () => { state.savedPage = null; });
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") saveNow(true);
});
window.addEventListener("pagehide", () => saveNow(true));

// --- the end of the book ------------------------------------------------------------

function showEnd() {
  scheduleSave(N);
  saveNow();
  endcard.hidden = false;
  (document.getElementById("next-book") || document.getElementById("mark-read")).focus();
}

function hideEnd() {
  endcard.hidden = true;
  focusPages();
}

document.getElementById("mark-read").addEventListener("click", async () => {
  const status = document.getElementById("end-status");
  await saveNow();
  const response = await putProgress({ current_page: N, is_completed: true });
  status.textContent = response && response.ok ? "Marked as read." : "Could not save: try again.";
  if (response && response.ok) state.savedPage = N;
});
document.getElementById("end-close").addEventListener("click", hideEnd);

// --- settings: layout, direction, fit -----------------------------------------------

function loadLocalSettings() {
  try { return JSON.parse(localStorage.getItem(STORAGE_KEY) || "{}"); } catch { return {}; }
}

function applySettings() {
  const s = state.settings;
  root.dataset.layout = s.layout;
  root.dataset.direction = s.direction;
  root.dataset.fit = s.fit;
  slider.dir = s.direction === "rtl" ? "rtl" : "ltr";
  for (const select of document.querySelectorAll("[data-setting]")) {
    select.value = s[select.dataset.setting];
  }
  document.getElementById("set-direction").disabled = s.layout === "vertical";
  const [left, right] = [document.getElementById("turn-left"), document.getElementById("turn-right")];
  left.setAttribute("aria-label", s.direction === "rtl" ? "Next page" : "Previous page");
  right.setAttribute("aria-label", s.direction === "rtl" ? "Previous page" : "Next page");
  computeSpreads();
  if (s.layout === "vertical") {
    stage.hidden = true;
    vertical.hidden = false;
    buildVertical();
    scrollToPage(state.page);
  } else {
    observer?.disconnect();
    vertical.hidden = true;
    vertical.replaceChildren();
    stage.hidden = false;
    show(state.page);
  }
}

function saveSettings(changed) {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(state.settings));
  if (!cfg.settingsUrl) return;
  fetch(cfg.settingsUrl, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(changed),
  });
}

for (const select of document.querySelectorAll("[data-setting]")) {
  select.addEventListener("change", () => {
    const name = select.dataset.setting;
    state.settings[name] = select.value;
    applySettings();
    saveSettings({ [name]: select.value });
    focusPages();
  });
}

// --- zoom ---------------------------------------------------------------------------

function setZoom(zoom, originX = 0.5, originY = 0.5) {
  const before = state.zoom;
  state.zoom = Math.max(1, Math.min(4, zoom));
  root.classList.toggle("zoomed", state.zoom > 1);
  root.style.setProperty("--zoom", String(state.zoom));
  if (before === state.zoom) return;
  stage.scrollLeft = (stage.scrollWidth - stage.clientWidth) * originX;
  stage.scrollTop = (stage.scrollHeight - stage.clientHeight) * originY;
  if ((before > 1) !== (state.zoom > 1)) show(state.page); // the original, or back to the fitted size
}

stage.addEventListener("wheel", (event) => {
  if (!event.ctrlKey) return; // a trackpad pinch arrives as ctrl+wheel
  event.preventDefault();
  const rect = stage.getBoundingClientRect();
  setZoom(state.zoom * Math.exp(-event.deltaY / 200),
    (event.clientX - rect.left) / rect.width, (event.clientY - rect.top) / rect.height);
}, { passive: false });

stage.addEventListener("dblclick", (event) => {
  const rect = stage.getBoundingClientRect();
  setZoom(state.zoom > 1 ? 1 : 2, (event.clientX - rect.left) / rect.width,
    (event.clientY - rect.top) / rect.height);
});

// --- pointer: tap zones, swipe, pinch, drag to pan -------------------------------

const pointers = new Map();
let gesture = null;

stage.addEventListener("pointerdown", (event) => {
  pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
  if (pointers.size === 2) {
    const [a, b] = [...pointers.values()];
    gesture = { pinch: Math.hypot(a.x - b.x, a.y - b.y), zoom: state.zoom };
  } else {
    gesture = { x: event.clientX, y: event.clientY, left: stage.scrollLeft, top: stage.scrollTop,
      moved: false, at: performance.now() };
  }
});

stage.addEventListener("pointermove", (event) => {
  if (!pointers.has(event.pointerId) || !gesture) return;
  pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
  if (gesture.pinch && pointers.size === 2) {
    const [a, b] = [...pointers.values()];
    setZoom(gesture.zoom * Math.hypot(a.x - b.x, a.y - b.y) / gesture.pinch);
    return;
  }
  const dx = event.clientX - gesture.x;
  const dy = event.clientY - gesture.y;
  if (Math.abs(dx) > 8 || Math.abs(dy) > 8) gesture.moved = true;
  if (state.zoom > 1 && event.pointerType === "mouse" && event.buttons === 1) {
    stage.scrollLeft = gesture.left - dx;
    stage.scrollTop = gesture.top - dy;
  }
});

function endPointer(event) {
  const start = gesture;
  pointers.delete(event.pointerId);
  if (pointers.size > 0) return;
  gesture = null;
  if (!start || start.pinch || event.type === "pointercancel") return;
  const dx = event.clientX - start.x;
  const dy = event.clientY - start.y;
  const forward = state.settings.direction === "rtl" ? 1 : -1; // swiping left turns forward in LTR
  if (state.zoom === 1 && Math.abs(dx) > 50 && Math.abs(dx) > Math.abs(dy) * 1.5) {
    turn(dx < 0 ? -forward : forward);
    return;
  }
  if (start.moved || state.zoom > 1) return;
  const rect = stage.getBoundingClientRect();
  const x = (event.clientX - rect.left) / rect.width;
  if (x < 0.3) turnLeft();
  else if (x > 0.7) turnRight();
  else root.classList.toggle("bars-hidden");
}
stage.addEventListener("pointerup", endPointer);
stage.addEventListener("pointercancel", endPointer);

function turnLeft(at) { turn(state.settings.direction === "rtl" ? 1 : -1, at); }
function turnRight(at) { turn(state.settings.direction === "rtl" ? -1 : 1, at); }
document.getElementById("turn-left").addEventListener("click", () => turnLeft());
document.getElementById("turn-right").addEventListener("click", () => turnRight());

// --- keyboard -------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.metaKey || (event.ctrlKey && !["+", "-", "0"].includes(event.key))) return;
  const target = event.target;
  if (target instanceof HTMLSelectElement || target instanceof HTMLInputElement) return;
  if (!endcard.hidden) {
    if (event.key === "Escape") { hideEnd(); event.preventDefault(); }
    return;
  }
  if (target instanceof HTMLButtonElement || target instanceof HTMLAnchorElement) {
    if (event.key === " " || event.key === "Enter") return; // activates the control
  }
  const at = event.timeStamp || performance.now();
  const vertical = state.settings.layout === "vertical";
  let handled = true;
  switch (event.key) {
    case "ArrowRight": turnRight(at); break;
    case "ArrowLeft": turnLeft(at); break;
    case "ArrowDown": case "ArrowUp":
      if (vertical || state.zoom > 1 || state.settings.fit === "width") handled = false;
      else turn(event.key === "ArrowDown" ? 1 : -1, at);
      break;
    case " ": case "PageDown": turn(event.shiftKey ? -1 : 1, at); break;
    case "PageUp": turn(-1, at); break;
    case "Home": goTo(1); break;
    case "End": goTo(N); break;
    case "f": case "F": toggleFullscreen(); break;
    case "+": case "=": setZoom(state.zoom * 1.25); break;
    case "-": setZoom(state.zoom / 1.25); break;
    case "0": setZoom(1); break;
    case "Escape": if (state.zoom > 1) setZoom(1); else handled = false; break;
    default: handled = false;
  }
  if (handled) event.preventDefault();
});

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen();
  else root.requestFullscreen?.().catch(() => {});
}
document.getElementById("fullscreen").addEventListener("click", toggleFullscreen);

// --- the page slider with thumbnails ------------------------------------------------

slider.addEventListener("input", () => {
  const n = Number(slider.value);
  const img = preview.querySelector("img");
  img.src = pageUrl(n, 240);
  preview.querySelector("span").textContent = `${n} / ${N}`;
  const fraction = N > 1 ? (n - 1) / (N - 1) : 0;
  const position = slider.dir === "rtl" ? 1 - fraction : fraction;
  preview.style.left = `${position * 100}%`;
  preview.hidden = false;
});
slider.addEventListener("change", () => {
  preview.hidden = true;
  goTo(Number(slider.value));
  focusPages();
});
slider.addEventListener("blur", () => { preview.hidden = true; });

// --- start ----------------------------------------------------------------------------

function focusPages() {
  (state.settings.layout === "vertical" ? vertical : stage).focus({ preventScroll: true });
}

let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (state.settings.layout !== "vertical") show(state.page); }, 150);
});

applySettings();
focusPages();
