// Progress of a knowledge-base re-import: polls the status while one runs, so staff see it finish.
(function () {
  "use strict";
  var panel = document.getElementById("reindex");
  if (!panel) { return; }
  var bar = document.getElementById("reindex-progress");
  var summary = document.getElementById("reindex-summary");
  var failures = document.getElementById("reindex-failures");
  var polls = 0;

  function show(state) {
    bar.value = state.percent;
    bar.textContent = state.percent + "%";
    if (state.running) {
      summary.textContent = state.total ? "正在导入……已嵌入 " + state.done + " / " + state.total + " 块" : "正在导入……";
    } else if (state.error) {
      summary.textContent = "导入出错：" + state.error;
    } else if (state.summary) {
      summary.textContent = "导入完成：" + state.summary;
    }
    failures.textContent = "";
    state.failures.forEach(function (line) {
      var item = document.createElement("li");
      item.textContent = line;
      failures.appendChild(item);
    });
  }

  function poll() {
    fetch("/knowledge/reindex/status", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        show(state);
        polls += 1;
        // Uploads start the import just after the redirect: keep polling briefly even if it has not begun yet.
        if (state.running || polls < 3) { window.setTimeout(poll, 700); }
        else { panel.dataset.running = "false"; }
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }

  poll();
})();

// The compose form of a notice: how many groups the chosen targets reach, counted as staff tick boxes.
(function () {
  "use strict";
  var form = document.getElementById("notice-form");
  if (!form) { return; }
  var count = document.querySelector("#target-count strong");

  function ticked(kind) {
    var values = [];
    form.querySelectorAll('input[data-target="' + kind + '"]:checked').forEach(function (box) { values.push(box.value); });
    return values;
  }

  function recount() {
    var everyone = ticked("everyone").length > 0;
    var communities = ticked("community");
    var tags = ticked("tag");
    var reached = 0;
    form.querySelectorAll('input[data-target="group"]').forEach(function (box) {
      var groupTags = box.dataset.tags ? box.dataset.tags.split("|") : [];
      if (everyone || box.checked || communities.indexOf(box.dataset.community) >= 0 ||
          groupTags.some(function (tag) { return tags.indexOf(tag) >= 0; })) {
        reached += 1;
      }
    });
    count.textContent = String(reached);
  }

  form.addEventListener("change", recount);
  recount();
})();
