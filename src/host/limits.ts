// The limits that keep a buggy or hostile module from taking the Node process down with it, their
// defaults (Envoy's where Envoy has one) and their checks. docs/security.md lists them all.
import { UserError } from "../errors.js";
import { DEFAULT_TIME_LIMIT_MS, MAX_TIME_LIMIT_MS } from "./time-limit.js";

/** A VM's linear memory ceiling: proxy-wasm-cpp-host's V8 runtime caps a VM at 1 GiB (16,384 pages). */
export const DEFAULT_MEMORY_LIMIT_PAGES = 16384;
/** Bytes of one log message (proxy_log, or one WASI fd_write) kept; the rest is cut. Envoy: no limit. */
export const DEFAULT_LOG_BYTES_PER_MESSAGE = 64 * 1024;
/** Bytes of log output kept per stream (per call into the guest outside streams); later messages are dropped. Envoy: no limit. */
export const DEFAULT_LOG_BYTES_PER_STREAM = 1024 * 1024;

export { DEFAULT_TIME_LIMIT_MS };

export interface HostLimits {
  /** Milliseconds one call into the guest may run; 0 = no limit. */
  readonly timeLimitMs: number;
  /** Throw out of the harness call (a test fails with the message) or only fail the VM (run). */
  readonly onTimeLimit: "throw" | "fail";
  readonly logBytesPerMessage: number;
  readonly logBytesPerStream: number;
}

export interface LimitOptions {
  /** Milliseconds one call into the guest may run before the VM is failed (default 500; 0 = no limit). Needs the module's bytes or path. */
  timeLimitMs?: number;
  /** "throw" (default): past the time limit the harness call throws after failing the VM; "fail": only fail the VM, like a trap (what `run` does). */
  onTimeLimit?: "throw" | "fail";
  /** Bytes of one log message kept (default 64 KiB). */
  logBytesPerMessage?: number;
  /** Bytes of log output kept per stream, or per call into the guest outside a stream (default 1 MiB). */
  logBytesPerStream?: number;
}

function integer(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UserError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return value;
}

/** The limits of a host, checked: each bad value is one UserError naming the option. */
export function resolveLimits(o: LimitOptions): HostLimits {
  const onTimeLimit = o.onTimeLimit ?? "throw";
  if (onTimeLimit !== "throw" && onTimeLimit !== "fail")
    throw new UserError(`onTimeLimit must be "throw" or "fail", not ${JSON.stringify(onTimeLimit)}`);
  return {
    timeLimitMs: integer("timeLimitMs", o.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS, 0, MAX_TIME_LIMIT_MS),
    onTimeLimit,
    logBytesPerMessage: integer("logBytesPerMessage", o.logBytesPerMessage ?? DEFAULT_LOG_BYTES_PER_MESSAGE, 1, 2 ** 30),
    logBytesPerStream: integer("logBytesPerStream", o.logBytesPerStream ?? DEFAULT_LOG_BYTES_PER_STREAM, 1, 2 ** 40),
  };
}

/** Thrown by a harness call whose guest ran past the time limit (after the VM was failed like a trap). */
export class TimeLimitError extends Error {
  constructor(
    message: string,
    readonly callback: string,
    readonly limitMs: number,
  ) {
    super(message);
    this.name = "TimeLimitError";
  }
}
