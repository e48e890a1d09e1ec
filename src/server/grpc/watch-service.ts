import type { ServerDuplexStream, UntypedServiceImplementation } from "@grpc/grpc-js";
import { watchPartsOf } from "../watch-routes.js";
import type { GrpcContext } from "./context.js";
import { messageLimitBytes } from "./message-limit.js";
import { GrpcWatchCall, type WatchCallDeps } from "./watch-call.js";
import type { WatchRequestMessage, WatchResponseMessage } from "./watch-messages.js";

/**
 * etcd's Watch service: one bidirectional stream carrying many watches,
 * served by the member it reaches (a follower from its own applied state,
 * as the HTTP watch route serves). It shares that route's registry (the
 * watcher limits count both APIs) and its memory budget.
 */
export function watchService(ctx: GrpcContext): UntypedServiceImplementation {
  const parts = watchPartsOf(ctx.app);
  if (parts === undefined) throw new Error("the watch service needs an app built by createServer");
  const deps: WatchCallDeps = {
    ctx,
    parts,
    header: (revision) => ctx.app.responseHeader(revision),
    maxMessageBytes: messageLimitBytes(ctx.app),
  };
  return {
    Watch: (call: ServerDuplexStream<WatchRequestMessage, WatchResponseMessage>) => {
      new GrpcWatchCall(call, deps).start();
    },
  };
}
