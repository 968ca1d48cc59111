// The dashboard's only script: it draws each chart (uPlot) from the JSON block beside it, and
// filters a list as you type in its search box. Pages read fine without it.
(function () {
  "use strict";
  var COLOURS = ["#1d4ed8", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490"];
  var charts = [];
  window.rtkCharts = charts; // for the browser tests: what each chart was given and drew

  function utc(ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); }

  function peakIndex(values) {
    var best = -1;
    for (var i = 0; i < values.length; i++) {
      if (values[i] != null && (best < 0 || values[i] > values[best])) best = i;
    }
    return best;
  }

  function draw(figure) {
    if (figure.dataset.drawn) return;
    var spec = JSON.parse(document.getElementById(figure.dataset.chart).textContent);
    var plot = figure.querySelector(".plot");
    var series = [{ label: "time (UTC)" }];
    var axes = [{}, { label: spec.unit, size: 60 }];
    var scales = { x: { time: true } };
    spec.names.forEach(function (name, i) {
      var colour = COLOURS[i % COLOURS.length];
      var s = { label: name, stroke: colour, width: 2, spanGaps: true };
      if (spec.steps) s.paths = uPlot.paths.stepped({ align: 1 });
      if (spec.bars && i === 0) {
        s.paths = uPlot.paths.bars({ size: [0.7, 40] });
        s.fill = colour + "88";
      }
      if (spec.bars && i === 1) { // the second figure of a bar chart has its own axis
        s.scale = "second";
        scales.second = { auto: true };
        axes.push({ scale: "second", side: 1, label: name, grid: { show: false }, size: 50 });
      }
      series.push(s);
    });
    // Until the pointer moves over it, the legend shows the first series' peak.
    var peak = peakIndex(spec.data[1] || []);
    var showPeak = function (u) { if (peak >= 0) u.setLegend({ idx: peak }); };
    var chart = new uPlot({
      width: Math.max(320, plot.clientWidth || 640),
      height: 220,
      tzDate: utc,
      scales: scales,
      series: series,
      axes: axes,
      legend: { live: true },
      hooks: { ready: [showPeak], setCursor: [function (u) { if (u.cursor.idx == null) showPeak(u); }] },
    }, spec.data, plot);
    figure.dataset.drawn = "1";
    charts.push({ id: figure.dataset.chart, plot: chart, spec: spec, peak: peak });
  }

  function drawAll(root) {
    if (typeof uPlot === "undefined") return;
    root.querySelectorAll("figure.chart[data-chart]").forEach(draw);
  }

  function filterAsYouType(root) {
    root.querySelectorAll("input[data-filter]").forEach(function (input) {
      input.addEventListener("input", function () {
        var term = input.value.trim().toLowerCase();
        document.querySelectorAll(input.dataset.filter).forEach(function (item) {
          item.hidden = term !== "" && item.textContent.toLowerCase().indexOf(term) < 0;
        });
      });
    });
  }

  // `make run` prints a sign-in link for the demo token with the token after `#` (a URL
  // fragment never reaches a server or its logs); on a server bound to loopback the form
  // fills itself in and is sent, so the link is one click.
  function signInFromLink() {
    var form = document.getElementById("sign-in");
    var found = /^#token=(rtk_[A-Za-z0-9_-]+)$/.exec(window.location.hash);
    if (!form || !found) return;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    document.getElementById("token").value = found[1];
    if (form.dataset.loopback === "1") form.requestSubmit();
  }

  document.addEventListener("DOMContentLoaded", function () {
    signInFromLink();
    drawAll(document);
    filterAsYouType(document);
    window.addEventListener("resize", function () {
      charts.forEach(function (c) {
        var box = c.plot.root.parentNode;
        c.plot.setSize({ width: Math.max(320, box.clientWidth), height: 220 });
      });
    });
  });
  document.addEventListener("htmx:afterSettle", function (event) { drawAll(event.target); });
})();
