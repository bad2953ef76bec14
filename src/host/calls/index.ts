// Import name -> host call, for every import the host registers (the ABI table lists them;
// imports.generated.ts has one typed slot per import, so tsc fails when one has no host call here, and
// vm.ts binds each row of HOST_IMPORTS to its function).
import { Status } from "../../abi.js";
import * as buffers from "./buffers.js";
import * as foreign from "./foreign.js";
import * as grpc from "./grpc.js";
import * as headerMaps from "./header-maps.js";
import * as httpCallouts from "./http-callouts.js";
import * as lifecycle from "./lifecycle.js";
import * as log from "./log.js";
import * as metrics from "./metrics.js";
import * as properties from "./properties.js";
import * as sharedData from "./shared-data.js";
import * as sharedQueues from "./shared-queues.js";
import type { EnvCalls, EnvExtraCalls, WasiCalls } from "../imports.generated.js";
import type { HostCall } from "./state.js";
import * as streamControl from "./stream-control.js";
import * as timers from "./timers.js";
import * as wasi from "./wasi.js";

/** The 0.1.0-only functions: never registered for 0.2.x modules (hostFunctionsFor filters them). */
const legacy: Record<string, HostCall> = {
  proxy_get_configuration: () => Status.Unimplemented,
  proxy_continue_request: () => Status.Unimplemented,
  proxy_continue_response: () => Status.Unimplemented,
  proxy_clear_route_cache: () => Status.Unimplemented,
};

/** Module `env`: the proxy-wasm host functions, by import name. */
export const HOST_CALLS: EnvCalls & Readonly<Record<string, HostCall>> = {
  ...pick(log, "proxy_"),
  ...pick(timers, "proxy_"),
  ...pick(lifecycle, "proxy_"),
  ...pick(foreign, "proxy_"),
  ...pick(buffers, "proxy_"),
  ...pick(headerMaps, "proxy_"),
  ...pick(streamControl, "proxy_"),
  ...pick(properties, "proxy_"),
  ...pick(sharedData, "proxy_"),
  ...pick(sharedQueues, "proxy_"),
  ...pick(metrics, "proxy_"),
  ...pick(httpCallouts, "proxy_"),
  ...pick(grpc, "proxy_"),
  ...legacy,
};

/** Envoy's emscripten/pthread shims in module `env` (abi.ts ENV_EXTRAS). */
export const ENV_EXTRA_CALLS: EnvExtraCalls = {
  emscripten_notify_memory_growth: () => {},
  pthread_equal: (_vm, a, b) => (a === b ? 1 : 0),
};

/** The WASI modules' functions, by import name (abi.ts stubs absent here answer ENOSYS). */
export const WASI_CALLS: WasiCalls & Readonly<Record<string, HostCall>> = { ...wasi };

/** The exports of an area module named proxy_*: its host calls (the rest are its helpers). */
type HostCallsOf<T> = { [K in keyof T as K extends `proxy_${string}` ? K : never]: T[K] };

function pick<T extends object>(area: T, prefix: string): HostCallsOf<T> {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(area)) if (name.startsWith(prefix)) out[name] = fn;
  return out as HostCallsOf<T>;
}
