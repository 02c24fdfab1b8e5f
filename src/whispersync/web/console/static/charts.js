// Draws each time-series widget with uPlot, over the numbers the page already shows as a
// table (the page reads without this). Charts share one crosshair (cursor sync). Horizontal
// annotations and alarm thresholds (the widget's "lines") are drawn across the plot in a
// draw hook, and the y scales stretch to hold them, as CloudWatch keeps them in view.
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
      var lines = data.lines || [];
      var hasRight = axes.length > 2;
      function scaleOf(line) { return line.y_axis === "right" && hasRight ? "right" : "y"; }
      function stretch(scale) {
        return function (u, min, max) {
          lines.forEach(function (l) {
            if (scaleOf(l) !== scale) return;
            min = min == null ? l.value : Math.min(min, l.value);
            max = max == null ? l.value : Math.max(max, l.value);
          });
          if (min == null) return [0, 1];
          return uPlot.rangeNum(min, max, 0.1, true);
        };
      }
      var scales = {x: {time: true, range: function () { return range; }}, y: {range: stretch("y")}};
      if (hasRight) scales.right = {range: stretch("right")};
      function drawLines(u) {
        var ctx = u.ctx, box2 = u.bbox, drawn = 0;
        lines.forEach(function (l, i) {
          var y = Math.round(u.valToPos(l.value, scaleOf(l), true));
          if (!(y >= box2.top && y <= box2.top + box2.height)) return;
          var color = l.color || PALETTE[(i + 3) % PALETTE.length];
          ctx.save();
          if (l.fill) {
            ctx.globalAlpha = 0.08;
            ctx.fillStyle = color;
            if (l.fill === "above") ctx.fillRect(box2.left, box2.top, box2.width, y - box2.top);
            else ctx.fillRect(box2.left, y, box2.width, box2.top + box2.height - y);
            ctx.globalAlpha = 1;
          }
          ctx.strokeStyle = color;
          ctx.lineWidth = 1.5 * uPlot.pxRatio;
          ctx.setLineDash([6 * uPlot.pxRatio, 4 * uPlot.pxRatio]);
          ctx.beginPath();
          ctx.moveTo(box2.left, y);
          ctx.lineTo(box2.left + box2.width, y);
          ctx.stroke();
          if (l.label) {
            ctx.fillStyle = color;
            ctx.font = (11 * uPlot.pxRatio) + "px sans-serif";
            // uPlot leaves the axes' text alignment on the context: set ours, or the label
            // ends at the plot's left edge instead of starting there.
            ctx.textAlign = "left";
            ctx.textBaseline = "alphabetic";
            ctx.fillText(l.label + (l.state ? " (" + l.state + ")" : ""), box2.left + 4 * uPlot.pxRatio,
                         y - 4 * uPlot.pxRatio);
          }
          ctx.restore();
          drawn += 1;
        });
        box.setAttribute("data-lines-drawn", String(drawn));
      }
      new uPlot({width: width, height: 200, series: series, axes: axes, cursor: {sync: {key: "dashboard"}},
                 scales: scales, hooks: {draw: [drawLines]}}, columns, box);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
