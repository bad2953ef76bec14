// The state every host call works on: one VM's memory, its contexts and the host that owns it.
// Each file in src/host/calls/ is one ABI area (as proxy-wasm-cpp-host src/exports.cc groups them):
// plain functions `(vm, ...wasmArgs) => status` over this state, no closures. src/host/vm.ts
// implements the state and binds the functions to import names (calls/index.ts).
import { Status } from "../../abi.js";
import type { Clock } from "../clock.js";
import type { FaultPlan } from "../faults.js";
import { lowerAscii } from "../bytes.js";
import { HeaderMap } from "../headers.js";
import type { PropertyValue } from "../properties.js";
import type { QueueOwner, SharedState } from "../shared.js";
import type { HostLimits } from "../limits.js";
import type { Context, Plugin, RootContext, StreamContext } from "../types.js";

/** What host calls need from the host that owns the VM (the rest of VmHost is for vm.ts). */
export interface HostServices {
  readonly shared: SharedState;
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly logLevel: number;
  readonly foreignFunctions: Readonly<Record<string, (args: Uint8Array) => Uint8Array | number>>;
  readonly upstreams: ReadonlySet<string> | null;
  readonly limits: HostLimits;
  /** What proxy_get_current_time_nanoseconds and the WASI clocks read. */
  readonly clock: Clock;
  /** Faults a test armed (faults.ts): a faultable call answers `take()`'s status instead of running. */
  readonly faults: FaultPlan;
  log(level: number, message: string, contextId: number, vm: number, source?: "filter" | "host"): void;
  /** Host-level properties (embedder-set and plugin_*), for any context. */
  hostProperty(key: string, plugin: Plugin | null, inStream: boolean): PropertyValue | undefined;
}

/** A proxy_http_call as dispatched by the guest. */
export interface HttpCallRequest {
  token: number;
  upstream: string;
  headers: HeaderMap;
  body: Buffer;
  trailers: HeaderMap;
  timeoutMs: number;
}

/** A proxy_grpc_call or proxy_grpc_stream as dispatched by the guest. */
export interface GrpcCallRequest {
  token: number;
  kind: "call" | "stream";
  upstream: string;
  service: string;
  method: string;
  metadata: HeaderMap;
  message: Buffer | null;
  timeoutMs: number;
}

/** Metric ids as Envoy allocates them: type in the low 2 bits, +4 per metric. */
export class MetricIds {
  readonly next = [0, 1, 2];
  readonly byId = new Map<number, ReturnType<SharedState["metricFor"]>>();
}

/** Callout tokens as Envoy allocates them, one sequence per kind. */
export class CalloutIds {
  http = 0;
  grpcCall = 1;
  grpcStream = 2;
}

/** One VM as its host calls see it (implemented by Vm). */
export interface HostCallState extends QueueOwner {
  readonly host: HostServices;
  /** Which VM of its host this is (for log records). */
  readonly index: number;
  readonly contexts: Map<number, RootContext | StreamContext>;
  readonly vmId: string;
  readonly vmConfig: Buffer;
  /** Set by proxy_send_local_response: the running callback's result is forced to "stop". */
  stopNext: boolean;
  readonly metrics: MetricIds;
  readonly calloutIds: CalloutIds;

  /** The current memory as a Buffer. */
  mem(): Buffer;
  inBounds(ptr: number, len: number): boolean;
  setU32(ptr: number, v: number): boolean;
  setU64(ptr: number, v: bigint): boolean;
  /** Guest bytes as a byte string, or undefined when out of bounds. */
  str(ptr: number, len: number): string | undefined;
  /** A copy of guest bytes, or undefined when out of bounds. */
  bytes(ptr: number, len: number): Buffer | undefined;
  /** Envoy's copyToPointerSize: false when the guest's pointers or allocation fail. */
  copyOut(data: Buffer | string, ptrPtr: number, sizePtr: number): boolean;
  copyMapOut(map: HeaderMap, ptrPtr: number, sizePtr: number): boolean;

  /** The context host calls act on: the effective one if the guest set it, else the caller. */
  ctx(): Context;
  rootOf(c: Context): RootContext | null;
  setEffective(c: RootContext | StreamContext): void;
  /** Queues work for after the outermost guest call. */
  defer(fn: () => void): void;
  deleteRoot(root: RootContext): void;
  /** Records a message the guest logged (ERROR and above are kept as the abort text). */
  /** Records a message the guest logged (calls/log.ts logCapped applies the caps first). */
  logFromGuest(level: number, message: string): void;
  /** Log bytes kept during the current outermost call into the guest, for logs outside a stream. */
  callLogBytes: number;

  dispatchHttpCall(root: RootContext, call: HttpCallRequest, callerContextId: number): void;
  dispatchGrpc(root: RootContext, call: GrpcCallRequest, callerContextId: number): void;
  grpcSend(token: number, message: Buffer, endStream: boolean): number;
  grpcCancelOrClose(token: number, how: "cancel" | "close"): number;
}

/** A host call as bound to an import: the VM state first, then the Wasm arguments. */
export type HostCall = (vm: HostCallState, ...args: any[]) => number | void;

/** Wasm passes i32 as signed; pointers and sizes are unsigned. */
export const u = (x: number): number => x >>> 0;

/**
 * Limits that keep a runaway module from exhausting the Node process through the host (Envoy
 * has its own: buffer watermarks and max_request_headers_kb, at most 8 MiB).
 */
export const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
export const MAX_HEADER_MAP_BYTES = 8 * 1024 * 1024;

export const EMPTY = Buffer.alloc(0);

/** Logs why a serialized map from the guest was refused and answers BAD_ARGUMENT. */
export function rejectPairs(vm: HostCallState, fn: string, reason: string): number {
  vm.host.log(3, `${fn}: rejected a malformed map from the module: ${reason}`, vm.ctx().id, vm.index);
  return Status.BadArgument;
}

/** A header map from decoded guest pairs, names lower-cased as Envoy stores them. */
export function mapFromPairs(pairs: { keys: string[]; values: string[] }): HeaderMap {
  const map = new HeaderMap();
  for (let i = 0; i < pairs.keys.length; i++) map.add(lowerAscii(pairs.keys[i]), pairs.values[i]);
  return map;
}

/** True when the host restricts upstreams and this one (guest bytes, UTF-8) is not among them. */
export function unknownUpstream(vm: HostCallState, upstream: string): boolean {
  return vm.host.upstreams !== null && !vm.host.upstreams.has(Buffer.from(upstream, "latin1").toString("utf8"));
}
