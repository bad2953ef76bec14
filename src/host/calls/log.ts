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
  if (level >= vm.host.logLevel || level >= 4) vm.logFromGuest(level, m.toString("utf8", ptr, ptr + size));
  return S.Ok;
}

export function proxy_get_log_level(vm: HostCallState, retPtr: number): number {
  return vm.setU32(u(retPtr), vm.host.logLevel) ? S.Ok : S.InvalidMemoryAccess;
}
