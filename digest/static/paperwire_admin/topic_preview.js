// The topic change page: "Preview the query as typed" shows what the query in the
// form (not yet saved) finds on the latest day, or the parser's message.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("pw-topic-preview-button");
  const panel = document.getElementById("pw-topic-preview");
  const input = document.getElementById("id_query");
  if (!button || !panel || !input) return;
  async function refresh() {
    const url = new URL(panel.dataset.url, window.location.href);
    url.searchParams.set("query", input.value);
    button.disabled = true;
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      panel.innerHTML = response.ok ? await response.text() : `<p class="errornote">Preview failed (${response.status}).</p>`;
    } finally {
      button.disabled = false;
    }
  }
  button.addEventListener("click", refresh);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); refresh(); }
  });
});
