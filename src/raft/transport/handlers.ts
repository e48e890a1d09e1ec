import { InvalidArgumentError } from "../../errors.js";
import type {
  ControlHandler,
  MessageHandler,
  SnapshotHandler,
  SnapshotStatusHandler,
  UnreachableHandler,
} from "./transport.js";

function checkHandler<T>(handler: T, name: string): T {
  if (typeof handler !== "function") throw new InvalidArgumentError(`${name} expects a function`);
  return handler;
}

/** The callbacks every Transport takes, registered and checked the same way by each. */
export abstract class TransportHandlers {
  protected messageHandler: MessageHandler | undefined;
  protected snapshotHandler: SnapshotHandler | undefined;
  protected unreachableHandler: UnreachableHandler | undefined;
  protected snapshotStatusHandler: SnapshotStatusHandler | undefined;
  protected controlHandler: ControlHandler | undefined;

  onMessage(handler: MessageHandler): void {
    this.messageHandler = checkHandler(handler, "onMessage");
  }

  onSnapshot(handler: SnapshotHandler): void {
    this.snapshotHandler = checkHandler(handler, "onSnapshot");
  }

  onUnreachable(handler: UnreachableHandler): void {
    this.unreachableHandler = checkHandler(handler, "onUnreachable");
  }

  onSnapshotStatus(handler: SnapshotStatusHandler): void {
    this.snapshotStatusHandler = checkHandler(handler, "onSnapshotStatus");
  }

  onControl(handler: ControlHandler): void {
    this.controlHandler = checkHandler(handler, "onControl");
  }
}
