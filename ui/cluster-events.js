import { useEffect, useState } from "preact/hooks";
import { events } from "./api.js";

/** Points the progress chart keeps: about a minute at the server's sampling rate. */
const MAX_POINTS = 300;
/** Leader changes the timeline keeps. */
const MAX_TIMELINE = 50;
const RECONNECT_MS = 1000;

/**
 * @typedef {{ id: number, role: string, term: number, leader: number | null,
 *   commitIndex: number, appliedIndex: number, revision: number, atMs: number }} RoleEvent
 * @typedef {{ t: number[], commit: number[], applied: number[], revision: number[] }} Series
 * @typedef {{ self: RoleEvent | undefined, timeline: RoleEvent[], series: Series,
 *   connected: boolean, error: string }} ClusterEvents
 */

/**
 * Follows `GET /v3/cluster/events` of this member, opening it again when it
 * ends: the role/term/leader timeline and the progress series for the chart.
 * @returns {ClusterEvents}
 */
export function useClusterEvents() {
  const [state, setState] = useState(
    /** @type {ClusterEvents} */ ({
      self: undefined,
      timeline: [],
      series: { t: [], commit: [], applied: [], revision: [] },
      connected: false,
      error: "",
    }),
  );
  useEffect(() => {
    const controller = new AbortController();
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    let retry;
    const follow = async () => {
      try {
        for await (const m of events("/v3/cluster/events", { signal: controller.signal })) {
          if (m.event === "role") {
            const e = /** @type {RoleEvent} */ (m.data);
            setState((s) => {
              const last = s.timeline[s.timeline.length - 1];
              const changed =
                last === undefined || last.term !== e.term || last.leader !== e.leader;
              return {
                ...s,
                self: e,
                connected: true,
                error: "",
                timeline: changed ? [...s.timeline, e].slice(-MAX_TIMELINE) : s.timeline,
              };
            });
          } else if (m.event === "progress") {
            const p = m.data;
            setState((s) => {
              const keep = (/** @type {number[]} */ a, /** @type {number} */ v) =>
                [...a, v].slice(-MAX_POINTS);
              return {
                ...s,
                connected: true,
                self: s.self && {
                  ...s.self,
                  commitIndex: p.commitIndex,
                  appliedIndex: p.appliedIndex,
                  revision: p.revision,
                },
                series: {
                  t: keep(s.series.t, p.atMs / 1000),
                  commit: keep(s.series.commit, p.commitIndex),
                  applied: keep(s.series.applied, p.appliedIndex),
                  revision: keep(s.series.revision, p.revision),
                },
              };
            });
          }
        }
        setState((s) => ({ ...s, connected: false }));
      } catch (err) {
        if (controller.signal.aborted) return;
        setState((s) => ({
          ...s,
          connected: false,
          error: String(/** @type {Error} */ (err).message),
        }));
      }
      if (!controller.signal.aborted) retry = setTimeout(follow, RECONNECT_MS);
    };
    follow();
    return () => {
      controller.abort();
      clearTimeout(retry);
    };
  }, []);
  return state;
}
