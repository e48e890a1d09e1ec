import { describe } from "vitest";
import { sweep } from "./sweep.js";

describe("simulation sweep: network faults", () => {
  sweep(["calm", "lossy", "partitions", "bare"], 40);
});
