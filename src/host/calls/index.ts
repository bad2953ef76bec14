// Import name -> host call, for every import the host registers (src/abi.ts lists them; vm.ts binds
// each row to its function here and fails loudly when one is missing).
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
export const HOST_CALLS: Readonly<Record<string, HostCall>> = {
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
export const ENV_EXTRA_CALLS: Readonly<Record<string, HostCall>> = {
  emscripten_notify_memory_growth: () => {},
  pthread_equal: (_vm, a: number, b: number) => (a === b ? 1 : 0),
};

/** The WASI modules' functions, by import name (abi.ts stubs absent here answer ENOSYS). */
export const WASI_CALLS: Readonly<Record<string, HostCall>> = { ...wasi };

/** The exports of an area module that are host calls (the rest are its helpers). */
function pick(area: Record<string, unknown>, prefix: string): Record<string, HostCall> {
  const out: Record<string, HostCall> = {};
  for (const [name, fn] of Object.entries(area)) if (name.startsWith(prefix)) out[name] = fn as HostCall;
  return out;
}
