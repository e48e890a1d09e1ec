import { ConclaveError } from "../errors.js";

/**
 * A lock backend's driver (ioredis, pg, etcd3, node-zookeeper-client) is an
 * optional peer dependency: only the subpath that needs it loads it, and a
 * project that never imports `conclave/lock/redis` never installs ioredis.
 * Importing the subpath without its driver fails with this error, which names
 * the package to install, instead of a bare "Cannot find package".
 */
export class MissingPeerDependencyError extends ConclaveError {
  /** The package to install, e.g. `ioredis`. */
  readonly packageName: string;
  /** The subpath that needs it, e.g. `conclave/lock/redis`. */
  readonly subpath: string;

  constructor(subpath: string, packageName: string, options?: ErrorOptions) {
    super(
      "MISSING_PEER_DEPENDENCY",
      `${subpath} needs the optional peer dependency ${packageName}: npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
    this.subpath = subpath;
  }
}

/**
 * Imports `packageName` for `subpath`. Only the driver itself being absent
 * becomes a {@link MissingPeerDependencyError}; a driver that is installed but
 * broken (a missing dependency of its own, a syntax error) keeps its own error.
 */
export async function importOptionalDriver<Module>(
  packageName: string,
  subpath: string,
): Promise<Module> {
  try {
    return (await import(packageName)) as Module;
  } catch (error) {
    if (isDriverMissing(error, packageName)) {
      throw new MissingPeerDependencyError(subpath, packageName, { cause: error });
    }
    throw error;
  }
}

function isDriverMissing(error: unknown, packageName: string): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  return error.message.includes(`'${packageName}'`) || error.message.includes(`"${packageName}"`);
}
