/* The console's only script: the chart, the upload progress, confirmations.
 * Every page works without it (forms post normally); money stays integer fen here too and is
 * formatted as yuan with integer arithmetic only. */
(function () {
  "use strict";

  /* Integer fen -> "1,234.56" (exact: no division of money by 100 as a float). */
  function yuan(fen) {
    var n = Math.round(Number(fen));
    var sign = n < 0 ? "-" : "";
    var abs = Math.abs(n);
    var cents = abs % 100;
    var whole = String((abs - cents) / 100).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + whole + "." + (cents < 10 ? "0" : "") + cents;
  }

  function initChart() {
    var el = document.getElementById("subsidy-chart");
    var source = document.getElementById("chart-data");
    if (!el || !source || !window.echarts) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var selected = el.getAttribute("data-selected");
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    var series = data.series.map(function (s, i) {
      var item = {
        name: s.carrier + " " + s.name,
        type: "bar",
        stack: "subsidy",
        data: s.subsidy_fen,
        emphasis: { focus: "series" }
      };
      if (i === 0 && data.months.indexOf(selected) >= 0) {
        item.markArea = {
          silent: true,
          itemStyle: { color: "rgba(11, 87, 208, 0.10)" },
          data: [[{ xAxis: selected }, { xAxis: selected }]]
        };
      }
      return item;
    });
    chart.on("finished", function () {
      el.setAttribute("data-rendered", "true");
    });
    chart.setOption({
      aria: { enabled: true, decal: { show: true } },
      animation: false,
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return yuan(v); }
      },
      legend: { type: "scroll", top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", axisLabel: { formatter: function (v) { return yuan(v); } } },
      series: series
    });
    chart.on("click", function (p) {
      if (p && p.name) {
        window.location.href = "/console/report?month=" + encodeURIComponent(p.name);
      }
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }

  /* The upload list again, without reloading the page (the form keeps its message). */
  function refreshList() {
    var list = document.getElementById("uploads-list");
    if (!list || !window.fetch || !window.DOMParser) {
      return;
    }
    window.fetch(window.location.pathname + window.location.search, {
      credentials: "same-origin",
      headers: { "Accept": "text/html" }
    }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html) {
        return;
      }
      var fresh = new window.DOMParser().parseFromString(html, "text/html")
        .getElementById("uploads-list");
      if (fresh) {
        list.innerHTML = fresh.innerHTML;
        list.setAttribute("data-refreshed", String(Date.now()));
      }
    }).catch(function () { /* the list stays as it was */ });
  }

  function initUpload() {
    var form = document.getElementById("upload-form");
    if (!form || !window.FormData || !window.XMLHttpRequest) {
      return;
    }
    var input = form.querySelector("input[type=file]");
    var bar = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var button = document.getElementById("upload-submit");
    form.addEventListener("submit", function (ev) {
      if (!input.files || !input.files.length) {
        return; /* the browser's own "required" message */
      }
      ev.preventDefault();
      var body = new FormData();
      body.append("file", input.files[0]);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("data-url") || "/console/uploads");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader(form.getAttribute("data-csrf-header"), form.getAttribute("data-csrf"));
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      status.classList.remove("problem");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          var pct = Math.floor((e.loaded * 100) / e.total);
          bar.value = pct;
          status.textContent = form.getAttribute("data-msg-sending").replace("{pct}", pct);
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 100;
        status.textContent = form.getAttribute("data-msg-processing");
      });
      xhr.addEventListener("load", function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (e) { answer = {}; }
        if (xhr.status === 200 && answer.url) {
          window.location.href = answer.url; /* the preview, before anything is stored */
          return;
        }
        if ((xhr.status === 200 || xhr.status === 202) && answer.id) {
          window.location.href = "/console/uploads/" + answer.id;
          return;
        }
        var words = xhr.getResponseHeader("X-Error-Text");
        try { words = words ? decodeURIComponent(words) : null; } catch (e) { words = null; }
        status.textContent = form.getAttribute("data-msg-failed") +
          (form.getAttribute("data-msg-colon") || ": ") +
          (words || answer.detail || xhr.status);
        status.classList.add("problem");
        button.disabled = false;
        refreshList(); /* a refused file is on record: show it with its reason */
      });
      xhr.addEventListener("error", function () {
        status.textContent = form.getAttribute("data-msg-failed");
        status.classList.add("problem");
        button.disabled = false;
        refreshList();
      });
      xhr.send(body);
    });
  }

  /* Forms that cannot be undone ask first; any form is sent once. */
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      ev.preventDefault();
      return;
    }
    if (form.method && form.method.toLowerCase() === "post" && form.id !== "upload-form") {
      if (form.getAttribute("data-sent")) {
        ev.preventDefault();
      }
      form.setAttribute("data-sent", "true");
    }
  }, true);

  window.addEventListener("pageshow", function () {
    var sent = document.querySelectorAll("form[data-sent]");
    for (var i = 0; i < sent.length; i++) {
      sent[i].removeAttribute("data-sent");
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    initChart();
    initUpload();
  });
})();
