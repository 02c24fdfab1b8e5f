// Draws each time-series widget with uPlot, over the numbers the page already shows as a
// table (the page reads without this). Charts share one crosshair (cursor sync).
(function () {
  "use strict";
  // CloudWatch's first default line colours, so a chart reads as it does there.
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  function draw() {
    if (typeof uPlot === "undefined") return;
    document.querySelectorAll(".chart").forEach(function (box) {
      var holder = box.nextElementSibling;
      if (!holder || !holder.classList.contains("chart-data")) return;
      var data = JSON.parse(holder.textContent);
      var times = {};
      data.series.forEach(function (s) { s.timestamps.forEach(function (t) { times[Date.parse(t) / 1000] = true; }); });
      var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
      var columns = [xs];
      var series = [{}];
      data.series.forEach(function (s) {
        var byTime = {};
        s.timestamps.forEach(function (t, i) { byTime[Date.parse(t) / 1000] = s.values[i]; });
        columns.push(xs.map(function (x) { return x in byTime ? byTime[x] : null; }));
        var color = s.color || PALETTE[(series.length - 1) % PALETTE.length];
        series.push({label: s.label, stroke: color, scale: s.y_axis === "right" ? "right" : "y",
                     spanGaps: false, points: {show: true, size: 5, fill: color}});
      });
      var width = Math.max(240, box.clientWidth);
      var axes = [{}, {scale: "y"}];
      if (series.some(function (s) { return s.scale === "right"; })) {
        axes.push({scale: "right", side: 1, grid: {show: false}});
      }
      // The x axis is the dashboard's range, not the data's: a lone point sits where it happened.
      var range = [data.start_ms / 1000, data.end_ms / 1000];
      new uPlot({width: width, height: 200, series: series, axes: axes, cursor: {sync: {key: "dashboard"}},
                 scales: {x: {time: true, range: function () { return range; }}}}, columns, box);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
