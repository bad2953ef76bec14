// Time and timers (exports.cc get_current_time_nanoseconds / set_tick_period_milliseconds).
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

export function proxy_get_current_time_nanoseconds(vm: HostCallState, retPtr: number): number {
  return vm.setU64(u(retPtr), vm.host.clock.nowNs()) ? S.Ok : S.InvalidMemoryAccess;
}

/** The tick period belongs to the root context; a VM context has none (BAD_ARGUMENT). */
export function proxy_set_tick_period_milliseconds(vm: HostCallState, period: number): number {
  const root = vm.rootOf(vm.ctx());
  if (!root) return S.BadArgument;
  root.tickPeriod = u(period);
  // A virtual clock fires the first tick one period from now (Envoy enables a timer for the period).
  root.nextTickAt = root.tickPeriod > 0 ? vm.host.clock.nowMs() + root.tickPeriod : undefined;
  return S.Ok;
}
