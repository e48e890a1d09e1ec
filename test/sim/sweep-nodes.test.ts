import { describe } from "vitest";
import { sweep } from "./sweep.js";

describe("simulation sweep: node faults, membership, leases", () => {
  sweep(["crashes", "membership", "lease", "chaos"], 40);
});
