import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  initialCluster,
  planMembers,
  ServeProcess,
  tempRoot,
} from "../server/process/serve-process.js";
import { runCli } from "./run-cli.js";

const root = tempRoot();
const running: ServeProcess[] = [];

afterAll(async () => {
  await Promise.all(running.map((p) => p.terminate()));
  root.remove();
});

async function serve(plans: Awaited<ReturnType<typeof planMembers>>): Promise<void> {
  const cluster = initialCluster(plans);
  running.push(
    ...(await Promise.all(plans.map((m) => ServeProcess.start(m, ["--initial-cluster", cluster])))),
  );
}

describe("snapshot save from a served cluster, restore into a new one", () => {
  it("starts `conclave serve` members on restored data dirs with the saved keys", async () => {
    const [source] = await planMembers(root.path, ["old1"], 7);
    await serve([source!]);
    const at = ["--endpoints", source!.clientUrl];
    for (const [k, v] of [
      ["r/a", "1"],
      ["r/b", "2"],
      ["r/a", "3"],
    ]) {
      expect((await runCli(["put", k!, v!, ...at])).stderr).toBe("");
    }
    const file = join(root.path, "backup.snap");
    const saved = await runCli(["snapshot", "save", file, ...at]);
    expect(saved.stderr).toBe("");
    expect(saved.stdout).toMatch(
      /^Snapshot saved at .*backup\.snap \(\d+ bytes, revision 4, 2 keys\)\n$/,
    );
    expect(await running.pop()!.terminate()).toBe(0);

    const plans = await planMembers(root.path, ["n1", "n2"]);
    for (const m of plans) {
      const restored = await runCli([
        "snapshot",
        "restore",
        file,
        "--data-dir",
        m.dataDir,
        "--name",
        m.name,
        "--initial-cluster",
        initialCluster(plans),
      ]);
      expect(restored.stderr).toBe("");
      expect(restored.code).toBe(0);
    }
    await serve(plans);
    const both = ["--endpoints", plans.map((m) => m.clientUrl).join(",")];
    const read = await runCli(["get", "r/", "--prefix", ...both]);
    expect(read.stderr).toBe("");
    expect(read.stdout).toBe("r/a\n3\nr/b\n2\n");
    // History came along: the first value of r/a is still readable at revision 2.
    expect((await runCli(["get", "r/a", "--rev", "2", ...both])).stdout).toBe("r/a\n1\n");
    expect((await runCli(["put", "r/c", "4", "--json", ...both])).stdout).toBe('{"revision":5}\n');
    const members = await runCli(["member", "list", "--json", ...both]);
    const ids = (JSON.parse(members.stdout) as { members: { id: number }[] }).members.map(
      (m) => m.id,
    );
    expect(ids).toEqual([1, 2]);
  }, 240_000);
});
