import { call } from "./api.js";
import { html } from "./html.js";
import { errorText, usePoll } from "./poll.js";
import { ProgressChart } from "./progress-chart.js";

/**
 * @param {PromiseSettledResult<any>} r
 * @returns {{ value: any, error: Error | undefined }}
 */
function settled(r) {
  return r.status === "fulfilled"
    ? { value: r.value, error: undefined }
    : { value: undefined, error: r.reason };
}

/** Members, this member's status, the leader's replication progress and the alarms. */
async function loadCluster() {
  const [members, status, progress, alarms] = await Promise.allSettled([
    call("/v3/cluster/member/list", { serializable: true }),
    call("/status"),
    call("/v3/cluster/progress", {}),
    call("/v3/maintenance/alarm", { action: "GET" }),
  ]);
  return {
    members: settled(members),
    status: settled(status),
    progress: settled(progress),
    alarms: settled(alarms),
  };
}

/** @param {number} atMs */
function clock(atMs) {
  return new Date(atMs).toLocaleTimeString();
}

/**
 * @param {{ live: import("./cluster-events.js").ClusterEvents }} props the
 *   member's event stream, followed for the whole page
 */
export function ClusterView({ live }) {
  const { data, error } = usePoll(loadCluster, 1000);
  if (data === undefined) {
    return html`<p class="muted">${error ? errorText({ error }) : "Loading…"}</p>`;
  }
  const status = data.status.value;
  const progress = data.progress.value;
  /** @type {any[]} */
  const members = data.members.value?.members ?? [];
  const self = live.self;
  const selfId = Number(status?.id ?? self?.id ?? 0);
  const leaderId = Number(self?.leader ?? status?.leader ?? 0);
  const nameOf = (/** @type {number} */ id) =>
    members.find((m) => Number(m.ID) === id)?.name || (id === 0 ? "" : `member ${id}`);
  /** @type {Map<number, any>} */
  const peers = new Map((progress?.peers ?? []).map((p) => [Number(p.id), p]));
  const leaderProgress = progress !== undefined && Number(progress.leader) === leaderId;

  const rows = members.map((m) => {
    const id = Number(m.ID);
    const role = m.isLearner ? "learner" : id === leaderId ? "leader" : "follower";
    const peer = peers.get(id);
    let reachable = "unknown";
    if (leaderProgress) {
      if (id === leaderId) reachable = "up";
      else if (peer !== undefined) reachable = peer.connected ? "up" : "unreachable";
    }
    if (id === selfId) reachable = "up";
    const isSelf = id === selfId;
    const isLeader = id === leaderId;
    const term = isSelf ? status?.term : isLeader && leaderProgress ? progress.term : undefined;
    const commit = isSelf
      ? status?.commitIndex
      : isLeader && leaderProgress
        ? progress.commitIndex
        : undefined;
    const applied = isSelf
      ? status?.appliedIndex
      : isLeader && leaderProgress
        ? progress.appliedIndex
        : undefined;
    return html`<tr data-testid=${`member-${m.name || m.ID}`} data-role=${role} data-state=${reachable}>
      <td>${m.name}${isSelf ? html` <span class="tag">this member</span>` : ""}</td>
      <td>${m.ID}</td>
      <td>${(m.clientURLs ?? []).join(", ")}</td>
      <td>${(m.peerURLs ?? []).join(", ")}</td>
      <td class=${`role ${role}`}>${role}</td>
      <td class=${`state ${reachable}`}>${reachable}</td>
      <td>${term ?? "—"}</td>
      <td>${commit ?? "—"}</td>
      <td>${applied ?? "—"}</td>
      <td>${peer?.matchIndex ?? (isLeader && leaderProgress ? progress.lastIndex : "—")}</td>
      <td>${peer?.lag ?? (isLeader && leaderProgress ? 0 : "—")}</td>
      <td>${m.isLearner ? "yes" : "no"}</td>
    </tr>`;
  });

  /** @type {any[]} */
  const alarms = data.alarms.value?.alarms ?? [];
  const alarmsError = data.alarms.error;
  return html`
    <section>
      <h2>Members <span class="count" data-testid="member-count">${members.length}</span></h2>
      <p>
        Leader: <strong data-testid="leader-name">${leaderId === 0 ? "none known" : nameOf(leaderId)}</strong>
        ${self && html` · term <span data-testid="term">${self.term}</span>`}
        ${status && html` · revision ${status.revision} · ${status.keyCount} keys`}
        ${live.connected ? html` · <span class="ok">live</span>` : html` · <span class="warn">reconnecting</span>`}
      </p>
      ${data.members.error && html`<p class="error">${errorText({ error: data.members.error })}</p>`}
      <table>
        <thead><tr>
          <th>Name</th><th>ID</th><th>Client URLs</th><th>Peer URLs</th><th>Role</th><th>State</th>
          <th>Term</th><th>Commit</th><th>Applied</th><th>Match index</th><th>Lag</th><th>Learner</th>
        </tr></thead>
        <tbody>${rows}</tbody>
      </table>
      ${
        !leaderProgress &&
        html`<p class="muted">Replication progress comes from the leader: ${
          data.progress.error ? errorText({ error: data.progress.error }) : "waiting for it"
        }</p>`
      }
    </section>
    <section>
      <h2>Alarms</h2>
      ${
        alarmsError
          ? html`<p class="muted">${alarmsError.status === 403 ? "Reading alarms needs the root role." : errorText({ error: alarmsError })}</p>`
          : alarms.length === 0
            ? html`<p data-testid="alarms">No alarms.</p>`
            : html`<ul data-testid="alarms">${alarms.map((a) => html`<li class="error">${a.alarm} on member ${a.memberID}</li>`)}</ul>`
      }
    </section>
    <section>
      <h2>Leader changes seen by this member</h2>
      <ol class="timeline" data-testid="timeline">
        ${live.timeline.map(
          (
            e,
          ) => html`<li data-testid="timeline-entry" data-term=${e.term} data-leader=${e.leader ?? ""}>
            <time>${clock(e.atMs)}</time>${` term ${e.term}: `}
            ${e.leader === null ? "no leader" : html`leader <strong>${nameOf(e.leader)}</strong>`}${" "}
            <span class="muted">(this member ${e.role})</span>
          </li>`,
        )}
      </ol>
      ${live.error !== "" && html`<p class="error">${live.error}</p>`}
    </section>
    <section>
      <h2>Commit index and revision</h2>
      <${ProgressChart} series=${live.series} />
    </section>
  `;
}
