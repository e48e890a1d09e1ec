import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html } from "./html.js";

/**
 * Commit index and revision over time, drawn by uPlot.
 * @param {{ series: import("./cluster-events.js").Series }} props
 */
export function ProgressChart({ series }) {
  const box = useRef(/** @type {HTMLDivElement | null} */ (null));
  const plot = useRef(/** @type {uPlot | null} */ (null));
  useEffect(() => {
    if (box.current === null) return;
    plot.current = new uPlot(
      {
        width: Math.max(320, Math.min(960, box.current.clientWidth || 800)),
        height: 220,
        scales: { x: { time: true } },
        series: [
          {},
          { label: "commit index", stroke: "#2563eb", width: 2 },
          { label: "applied index", stroke: "#16a34a", width: 1, dash: [4, 4] },
          { label: "revision", stroke: "#d97706", width: 2, scale: "rev" },
        ],
        axes: [{}, { label: "index" }, { side: 1, scale: "rev", label: "revision" }],
      },
      [[], [], [], []],
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, []);
  useEffect(() => {
    plot.current?.setData([series.t, series.commit, series.applied, series.revision]);
  }, [series]);
  return html`<div class="chart" data-testid="progress-chart" ref=${box}></div>`;
}
