/** The names of every figure the registry bench reports, and how each is printed. */

export const FIGURE = {
  instances: "scale: instances registered",
  failedRegistrations: "scale: registrations failed",
  registerP50: "register: call p50 ms",
  registerP99: "register: call p99 ms",
  allVisibleS: "register: all visible to all watchers s",
  registrationsPerS: "register: instances/s until all visible",
  visibleP50: "visible: p50 ms",
  visibleP99: "visible: p99 ms",
  idleCpu: "idle: server CPU s/s (all members)",
  steadyCpu: "keep-alive: server CPU s/s (all members)",
  cpuPerInstanceMin: "keep-alive: server CPU s/instance/min",
  netCpuPerInstanceMin: "keep-alive: above idle, CPU s/instance/min",
  keepAlivesPerS: "keep-alive: requests/s",
  keepAlivesPerInstanceMin: "keep-alive: requests/instance/min",
  lostInSteady: "keep-alive: instances lost in window",
  deathInstances: "death: instances killed",
  deathAbsentAtKill: "death: killed ones already absent",
  deathP50: "death: removed from all sets p50 ms",
  deathP99: "death: removed from all sets p99 ms",
  deathMax: "death: removed from all sets max ms",
  deathP50AfterTtl: "death: p50 after TTL ms",
  deathMaxAfterTtl: "death: max after TTL ms",
  deathOthersRemoved: "death: other instances removed",
} as const;

/** Decimal places a figure is printed with, from its name's unit. */
export function digitsOf(name: string): number {
  if (
    name.startsWith("scale:") ||
    name.endsWith("removed") ||
    name.includes("killed") ||
    name.includes("absent")
  )
    return 0;
  if (name.includes("lost in window")) return 0;
  if (name.includes("CPU s/instance/min")) return 5;
  if (name.includes("CPU s/s")) return 3;
  if (name.endsWith(" ms") || name.endsWith("/s")) return 1;
  return 2;
}
