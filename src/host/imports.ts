// A module's imports: every function the host registers for the module's ABI version
// (imports.generated.ts, from the ABI table), each bound to its host call (calls/index.ts) with the
// VM as its state, counted, and refused while the VM starts where Envoy refuses it.
import { ENV_EXTRAS, HOST_FUNCTIONS, WASI_ENOSYS, WASI_FUNCTIONS, WASI_MODULES, versionIndex, type AbiVersion } from "../abi.js";
import { GuestExit } from "./calls/guest-exit.js";
import { ENV_EXTRA_CALLS, HOST_CALLS, WASI_CALLS } from "./calls/index.js";
import type { HostCall, HostCallState, HostServices } from "./calls/state.js";
import { ALLOWED_DURING_START, HOST_IMPORTS } from "./imports.generated.js";
import { FAULTABLE_CALLS } from "./faults.js";
import type { GuestClock } from "./time-limit.js";

/** Host function names, in HOST_FUNCTIONS order; index = slot in hostCallCounts. */
export const HOST_FUNCTION_NAMES: readonly string[] = [
  ...HOST_FUNCTIONS.map((f) => f.name),
  ...WASI_FUNCTIONS.map((f) => f.name),
  ...ENV_EXTRAS.map((f) => f.name),
];
const INDEX = new Map(HOST_FUNCTION_NAMES.map((n, i) => [n, i]));

/** The VM as its imports see it. */
export interface ImportTarget extends HostCallState {
  readonly host: HostServices & { readonly hostCallCounts: Float64Array };
  /** The time limit's clock: every host call ticks it. */
  readonly clock: GuestClock;
  /** True while the VM starts: only ALLOWED_DURING_START may run. */
  readonly restricted: boolean;
}

const wasiStub: HostCall = () => WASI_ENOSYS;

export function buildImports(vm: ImportTarget, abiVersion: AbiVersion): WebAssembly.Imports {
  const env: Record<string, unknown> = {};
  const wasi: Record<string, unknown> = {};
  const envCalls: Readonly<Record<string, HostCall>> = { ...HOST_CALLS, ...ENV_EXTRA_CALLS };
  const wasiCalls: Readonly<Record<string, HostCall>> = WASI_CALLS;
  const version = versionIndex(abiVersion);
  for (const f of HOST_IMPORTS) {
    if (versionIndex(f.since) > version) continue;
    if (f.module === "env") env[f.name] = bind(vm, f.name, envCalls[f.name], f.params.length);
    else wasi[f.name] = bind(vm, f.name, wasiCalls[f.name] ?? (f.stub ? wasiStub : undefined), f.params.length);
  }
  const out: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
  for (const m of WASI_MODULES) out[m] = wasi as WebAssembly.ModuleImports;
  return out;
}

/**
 * The import function for one host call: passes this VM as the call's state, counts the call and
 * ticks the time limit's clock (a guest may spend its time in host calls rather than loops) and
 * applies the startup restriction (V8 in Envoy traps "restricted_callback"). Exact arity keeps
 * V8 on its fast Wasm-to-JS path.
 */
function bind(vm: ImportTarget, name: string, impl: HostCall | undefined, arity: number): (...a: any[]) => any {
  if (!impl) throw new Error(`internal: no implementation of ${name}`);
  // A call a test can fail checks the fault plan first (one property read when nothing is armed).
  const faults = vm.host.faults;
  const fn: HostCall =
    name in FAULTABLE_CALLS ? (v, ...a) => (faults.armed ? (faults.take(name, a as number[]) ?? impl(v, ...a)) : impl(v, ...a)) : impl;
  const idx = INDEX.get(name)!;
  const counts = vm.host.hostCallCounts;
  const clock = vm.clock;
  if (ALLOWED_DURING_START.has(name)) {
    switch (arity) {
      case 0:
        return () => (counts[idx]++, clock.hostCall(), fn(vm));
      case 1:
        return (a: any) => (counts[idx]++, clock.hostCall(), fn(vm, a));
      case 2:
        return (a: any, b: any) => (counts[idx]++, clock.hostCall(), fn(vm, a, b));
      case 3:
        return (a: any, b: any, c: any) => (counts[idx]++, clock.hostCall(), fn(vm, a, b, c));
      case 4:
        return (a: any, b: any, c: any, d: any) => (counts[idx]++, clock.hostCall(), fn(vm, a, b, c, d));
      default:
        return (...a: any[]) => (counts[idx]++, clock.hostCall(), fn(vm, ...a));
    }
  }
  const restricted = (): never => {
    vm.host.log(
      4,
      `Attempted call to restricted capability during VM start: ${name} (Envoy only allows logging, clocks, random and environment while _initialize/main/_start run)`,
      0,
      vm.index,
    );
    throw new GuestExit(`restricted_callback: ${name} called during VM start`, "trap");
  };
  switch (arity) {
    case 0:
      return () => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm));
    case 1:
      return (a: any) => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, a));
    case 2:
      return (a: any, b: any) => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, a, b));
    case 3:
      return (a: any, b: any, c: any) => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, a, b, c));
    case 4:
      return (a: any, b: any, c: any, d: any) => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, a, b, c, d));
    case 5:
      return (a: any, b: any, c: any, d: any, e: any) => (
        counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, a, b, c, d, e)
      );
    default:
      return (...a: any[]) => (counts[idx]++, clock.hostCall(), vm.restricted ? restricted() : fn(vm, ...a));
  }
}
