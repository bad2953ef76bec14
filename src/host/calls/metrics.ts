// Metrics (Envoy context.cc defineMetric / incrementMetric / recordMetric / getMetric).
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

export function proxy_define_metric(vm: HostCallState, type: number, nPtr: number, nSize: number, rPtr: number): number {
  type = u(type);
  const name = vm.str(u(nPtr), u(nSize));
  if (name === undefined) return S.InvalidMemoryAccess;
  if (type > 2) return S.BadArgument;
  if (!vm.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
  const id = (vm.metrics.next[type] += 4);
  vm.metrics.byId.set(id, vm.host.shared.metricFor(name, type));
  return vm.setU32(u(rPtr), id) ? S.Ok : S.InvalidMemoryAccess;
}

/** Counters take positive offsets only; histograms cannot be incremented (BAD_ARGUMENT). */
export function proxy_increment_metric(vm: HostCallState, id: number, offset: bigint): number {
  id = u(id);
  const m = vm.metrics.byId.get(id);
  const type = id & 3;
  if (type === 0) {
    if (!m) return S.NotFound;
    if (offset <= 0n) return S.BadArgument;
    m.value = BigInt.asUintN(64, m.value + offset);
    return S.Ok;
  }
  if (type === 1) {
    if (!m) return S.NotFound;
    m.value = BigInt.asUintN(64, m.value + offset);
    return S.Ok;
  }
  return S.BadArgument;
}

export function proxy_record_metric(vm: HostCallState, id: number, value: bigint): number {
  id = u(id);
  const m = vm.metrics.byId.get(id);
  if (!m) return S.NotFound;
  const v = BigInt.asUintN(64, value);
  const type = id & 3;
  if (type === 0) m.value = BigInt.asUintN(64, m.value + v);
  else if (type === 1) m.value = v;
  else vm.host.shared.recordHistogram(m, v);
  return S.Ok;
}

/** Histograms cannot be read (BAD_ARGUMENT, as in Envoy). */
export function proxy_get_metric(vm: HostCallState, id: number, rPtr: number): number {
  id = u(id);
  const type = id & 3;
  if (type === 2) return S.BadArgument;
  const m = vm.metrics.byId.get(id);
  if (!m) return S.NotFound;
  return vm.setU64(u(rPtr), m.value) ? S.Ok : S.InvalidMemoryAccess;
}
