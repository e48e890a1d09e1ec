/**
 * A three-node Conclave cluster (in-memory Raft storage, one process) for
 * benchmarks to run against over HTTP. Prints `{"endpoints":[...]}` once
 * serving; stops on SIGTERM or SIGINT.
 */
import { startConclaveCluster } from "../test/lock/support/conclave-cluster.js";

const cluster = await startConclaveCluster();
process.stdout.write(`${JSON.stringify({ endpoints: cluster.endpoints })}\n`);
const stop = async () => {
  await cluster.stop();
  process.exit(0);
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
