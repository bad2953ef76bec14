// Logging (exports.cc log / get_log_level).
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

export function proxy_log(vm: HostCallState, level: number, ptr: number, size: number): number {
  ptr = u(ptr);
  size = u(size);
  const m = vm.mem();
  if (ptr + size > m.length) return S.InvalidMemoryAccess;
  level = u(level);
  if (level > 5) return S.BadArgument;
  // Below the host's level nothing is recorded, so nothing is decoded either.
  if (level >= vm.host.logLevel || level >= 4) logCapped(vm, level, m.subarray(ptr, ptr + size));
  return S.Ok;
}

export function proxy_get_log_level(vm: HostCallState, retPtr: number): number {
  return vm.setU32(u(retPtr), vm.host.logLevel) ? S.Ok : S.InvalidMemoryAccess;
}

/** Bytes of a message the current context may still log (0 once its stream's budget is spent). */
export function logRoom(vm: HostCallState): number {
  const { logBytesPerMessage, logBytesPerStream } = vm.host.limits;
  const c = vm.ctx();
  return Math.max(0, Math.min(logBytesPerMessage, logBytesPerStream - (c.kind === "stream" ? c.logBytes : vm.callLogBytes)));
}

/**
 * Records a guest log message within the caps: at most logBytesPerMessage of `bytes`, and nothing
 * once the stream (outside streams: the current call into the guest) kept logBytesPerStream.
 */
export function logCapped(vm: HostCallState, level: number, bytes: Buffer, total = bytes.length): void {
  const { logBytesPerMessage, logBytesPerStream } = vm.host.limits;
  const c = vm.ctx();
  const used = c.kind === "stream" ? c.logBytes : vm.callLogBytes;
  if (used >= logBytesPerStream) return;
  const keep = Math.min(bytes.length, logBytesPerMessage, logBytesPerStream - used);
  let message = bytes.toString("utf8", 0, keep);
  if (keep < total)
    message += ` [${total - keep} more bytes not kept: the host keeps ${logBytesPerMessage} bytes of a message and ${logBytesPerStream} of a stream]`;
  if (c.kind === "stream") c.logBytes += keep;
  else vm.callLogBytes += keep;
  vm.logFromGuest(level, message);
  if (used + keep >= logBytesPerStream) {
    vm.host.log(
      3,
      `log output capped: ${logBytesPerStream} bytes kept for ${c.kind === "stream" ? `stream ${c.id}` : "this call"}; further messages from it are dropped (logBytesPerStream)`,
      c.id,
      vm.index,
    );
  }
}
