import { ZK_CREATE_MODE, ZK_ERROR, zkErrorCode } from "./library.js";
import type { ZkSession } from "./session.js";

export interface OwnNode {
  /** The znode's name (without the parent path). */
  readonly node: string;
  /** True if the create's reply was lost and the znode was found by its owner id instead. */
  readonly recovered: boolean;
}

const MAX_CREATE_ATTEMPTS = 3;

/**
 * Creates the owner's ephemeral sequential znode under `parent` (creating
 * the parent if it is missing). If the connection drops before the reply,
 * the create may or may not have happened; as the ZooKeeper lock recipe
 * says, the client then lists the parent once reconnected and looks for the
 * znode carrying its own id (`prefix` holds it) before creating again, so
 * it never leaves a second, orphaned znode queued in its own session.
 */
export async function createOwnNode(
  session: ZkSession,
  parent: string,
  prefix: string,
  data: Buffer,
  lockName: string,
): Promise<OwnNode> {
  for (let attempt = 1; ; attempt++) {
    try {
      const path = await session.create(
        `${parent}/${prefix}`,
        data,
        ZK_CREATE_MODE.EPHEMERAL_SEQUENTIAL,
        lockName,
      );
      return { node: path.slice(parent.length + 1), recovered: false };
    } catch (error) {
      const code = zkErrorCode((error as Error).cause);
      if (attempt >= MAX_CREATE_ATTEMPTS || session.ended.aborted) throw error;
      if (code === ZK_ERROR.NO_NODE) {
        await session.mkdirp(parent, lockName);
        continue;
      }
      if (code !== ZK_ERROR.CONNECTION_LOSS) throw error;
      await session.connected(lockName);
      const { value: children } = await session.children(parent, lockName);
      const mine = children?.find((child) => child.startsWith(prefix));
      if (mine !== undefined) return { node: mine, recovered: true };
    }
  }
}
