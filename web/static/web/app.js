// Small enhancements for every page (each works without it, as plain forms):
// the theme switch applies at once, and the folder picker of the "add a
// library" form browses the server's folders through /api/v1/filesystem.

document.documentElement.classList.add("js");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

// --- theme --------------------------------------------------------------------------
for (const form of document.querySelectorAll(".theme-form")) {
  form.addEventListener("change", (event) => {
    if (event.target.name !== "theme") return;
    document.documentElement.dataset.theme = event.target.value;
    fetch(form.action, {
      method: "POST", credentials: "same-origin", body: new FormData(form),
      headers: { "HX-Request": "true", "X-CSRF-Token": csrf },
    });
  });
}

// Close the account menu when focus or a click leaves it (Escape too).
for (const menu of document.querySelectorAll("details.usermenu")) {
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}

// The series grid's filters start open where there is room for them.
if (matchMedia("(min-width: 641px)").matches) {
  for (const details of document.querySelectorAll("details.more-filters")) details.open = true;
}

// --- folder picker ------------------------------------------------------------------
for (const field of document.querySelectorAll("[data-folder-picker]")) {
  const input = field.querySelector("input[name=path]");
  const openButton = field.querySelector("[data-picker-open]");
  const box = field.querySelector(".picker");
  const list = field.querySelector("[data-picker-list]");
  const here = field.querySelector("[data-picker-here]");
  const browseUrl = field.dataset.browseUrl;

  async function open(path) {
    const url = new URL(browseUrl, location.href);
    url.searchParams.set("page_size", "200");
    if (path) url.searchParams.set("path", path);
    let body;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      body = await response.json();
      if (!response.ok) throw new Error(body.message || response.statusText);
    } catch (error) {
      here.textContent = `Cannot list this folder: ${error.message}`;
      return;
    }
    const rows = [];
    if (body.path) {
      input.value = body.path;
      here.textContent = body.path;
      rows.push(entry(body.parent ? "↑ Up" : "↑ All places", body.parent || ""));
    } else {
      here.textContent = "Places the server may show";
    }
    for (const item of body.items) {
      if (item.type === "directory") rows.push(entry(`📁 ${item.name}`, item.path));
    }
    if (body.path && rows.length === 1) {
      const li = document.createElement("li");
      li.className = "here";
      li.textContent = "No sub-folders.";
      rows.push(li);
    }
    list.replaceChildren(...rows);
    list.querySelector("button")?.focus();
  }

  function entry(label, path) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", () => open(path));
    li.append(button);
    return li;
  }

  openButton.addEventListener("click", () => {
    const opening = box.hidden;
    box.hidden = !opening;
    openButton.setAttribute("aria-expanded", String(opening));
    if (opening) open(input.value.trim());
  });
}

// --- the *arr pages ------------------------------------------------------------------
// Live news for admins: toasts for grabbed / imported / failed and the number
// of active downloads on "Activity", from /live/events (JSON, shown as text).
const liveUrl = document.querySelector('meta[name="live-events"]')?.content;
const toasts = document.getElementById("toasts");
const TOAST_MS = 8000;

function showToast({ kind, title, text }) {
  const box = document.createElement("div");
  box.className = `toast toast-${kind}`;
  box.setAttribute("role", kind === "failed" ? "alert" : "status");
  const heading = document.createElement("strong");
  heading.textContent = title;
  const body = document.createElement("span");
  body.textContent = text || "";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "small";
  close.textContent = "Dismiss";
  close.addEventListener("click", () => box.remove());
  box.append(heading, body, close);
  toasts.append(box);
  setTimeout(() => box.remove(), kind === "failed" ? TOAST_MS * 2 : TOAST_MS);
}

function showBadge(active) {
  for (const badge of document.querySelectorAll("[data-live-badge]")) {
    badge.hidden = !active;
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` (${active} active download${active === 1 ? "" : "s"})`;
    const number = document.createElement("span");
    number.setAttribute("aria-hidden", "true");
    number.textContent = String(active);
    badge.replaceChildren(number, hidden);
    badge.dataset.active = String(active);
  }
}

if (liveUrl && toasts && "EventSource" in window) {
  const source = new EventSource(liveUrl);
  source.addEventListener("toast", (event) => showToast(JSON.parse(event.data)));
  source.addEventListener("badge", (event) => showBadge(JSON.parse(event.data).active));
  addEventListener("pagehide", () => source.close());
}

// Forms that ask before they act (delete, remove and blocklist ...).
document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !confirm(question)) event.preventDefault();
}, true);

// "Select all" boxes of the lists with bulk actions.
for (const all of document.querySelectorAll("[data-select-all]")) {
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll(`input[name="${all.dataset.selectAll}"]`)) {
      box.checked = all.checked;
    }
  });
}

// A table wider than the screen scrolls inside its wrapper: only then is the
// wrapper a tab stop (a named region), so keyboard users can scroll it too.
function scrollableTables(root = document) {
  for (const wrap of root.querySelectorAll(".tablewrap")) {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      const caption = wrap.querySelector("caption")?.textContent.trim();
      wrap.tabIndex = 0;
      wrap.setAttribute("role", "region");
      wrap.setAttribute("aria-label", caption || "Table, scrolls sideways");
    } else if (wrap.getAttribute("role") === "region") {
      wrap.removeAttribute("tabindex");
      wrap.removeAttribute("role");
      wrap.removeAttribute("aria-label");
    }
  }
}
scrollableTables();
addEventListener("resize", () => scrollableTables());
document.body.addEventListener("htmx:afterSettle", () => scrollableTables());
