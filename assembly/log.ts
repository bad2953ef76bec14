// Logging (proxy_log), with the host's level cached so a message below it costs no host call.

import * as abi from "./imports";
import { LogLevel } from "./types";
import { RET_PTR, SCRATCH_A, encodeForHost, encoded } from "./memory";

// The host's level, cached: -1 until read. The dispatcher marks it stale (-1) on vm start, configure
// and tick, and the next log call reads it again, so a level changed at run time (Envoy's admin
// /logging) is seen without a host call per message, and filters that never log never import
// proxy_get_log_level. While the VM initializes the host refuses the read: then it stays -1 (log all).
let hostLogLevel: i32 = -1;
// The floor set by the filter with setLogLevel(); messages below it never reach the host.
let minLogLevel: i32 = LogLevel.Trace;

/** Marks the cached host log level stale (the dispatcher calls it on vm start, configure and tick). */
export function refreshLogLevel(): void {
  hostLogLevel = -1;
}

/** Drops messages below `level` inside the module, whatever the host's level (Rust: set_log_level). */
export function setLogLevel(level: LogLevel): void {
  minLogLevel = level;
}

/** Whether a message at `level` would be logged. Check it before building an expensive message. */
export function logEnabled(level: LogLevel): bool {
  if (level < minLogLevel) return false;
  if (hostLogLevel < 0 && abi.proxy_get_log_level(RET_PTR) == 0) hostLogLevel = load<u32>(RET_PTR);
  return hostLogLevel < 0 || level >= hostLogLevel;
}

/** Logs `message` at `level` (proxy_log) when that level is enabled. Valid in every callback. */
export function log(level: LogLevel, message: string): void {
  if (!logEnabled(level)) return;
  const n = encodeForHost(message, SCRATCH_A);
  abi.proxy_log(level, encoded(), n);
}

export function logTrace(message: string): void {
  log(LogLevel.Trace, message);
}
export function logDebug(message: string): void {
  log(LogLevel.Debug, message);
}
export function logInfo(message: string): void {
  log(LogLevel.Info, message);
}
export function logWarn(message: string): void {
  log(LogLevel.Warn, message);
}
export function logError(message: string): void {
  log(LogLevel.Error, message);
}
export function logCritical(message: string): void {
  log(LogLevel.Critical, message);
}
