import { expect, it } from "vitest";
import { PROFILES } from "../../src/sim/profiles.js";
import { runSimulation } from "../../src/sim/run.js";

/**
 * Runs `seedsPerProfile` seeds of each named profile as one test per seed, so
 * a failure names its seed and the command that replays it.
 */
export function sweep(
  profileNames: readonly string[],
  seedsPerProfile: number,
  firstSeed = 1,
): void {
  for (const name of profileNames) {
    const profile = PROFILES.find((p) => p.name === name);
    if (profile === undefined) throw new Error(`unknown profile ${name}`);
    for (let seed = firstSeed; seed < firstSeed + seedsPerProfile; seed++) {
      it(`${name} seed ${seed}`, async () => {
        const res = await runSimulation({ seed, profile });
        const replay = `npm run sim -- --seed ${seed} --profile ${name} --trace`;
        expect(res.failure, `replay: ${replay}`).toBeUndefined();
        expect(res.ok).toBe(true);
        // A run that made no progress proves nothing.
        expect(res.opsCompleted).toBeGreaterThan(0);
      });
    }
  }
}
