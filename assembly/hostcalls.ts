// Typed wrappers over the raw host functions (imports.ts), in the style of the Rust SDK's `hostcalls`
// module, with its names in camelCase. They follow the SDK's one failure convention (status.ts,
// docs/sdk.md "When the host says no"): never a trap; null, 0 or a Status, and lastStatus() says why.
//
// Filters reach most of these through context methods (Context.getProperty, getSharedData...), the one
// public spelling of each idea; index.ts exports only the ones that have no context method: the
// generic buffer and map calls (which take a BufferType or MapType), metrics by id,
// setEffectiveContext and done. Logging is in log.ts, HTTP and gRPC calls in callouts.ts.

import * as abi from "./imports";
import { noteCopied } from "./gc";
import { BufferType, MapType, MetricType, Status } from "./types";
import { failed, lenOf, ptrOf } from "./status";
import {
  RET_PTR,
  RET_SIZE,
  RET_EXTRA,
  SCRATCH_A,
  SCRATCH_B,
  SCRATCH_MAP,
  encodeForHost,
  scratch,
  encoded,
  scratchAt,
  takeReturnedBytes,
  takeReturnedString,
} from "./memory";
import {
  Header,
  HeaderBytes,
  putUtf8z,
  deserializeHeaderBytes,
  deserializeHeaders,
  serializeHeaderBytes,
  serializeHeaders,
} from "./headers";

// ---- time, timers, effective context ----

/** Wall-clock time in nanoseconds since the Unix epoch; 0 when the host refuses. */
export function getCurrentTime(): u64 {
  if (failed(abi.proxy_get_current_time_nanoseconds(RET_EXTRA))) return 0;
  return load<u64>(RET_EXTRA);
}

/** Calls onTick on the root context every `millis` ms; 0 stops the timer. */
export function setTickPeriod(millis: u32): Status {
  return <Status>abi.proxy_set_tick_period_milliseconds(millis);
}

/**
 * Makes later host calls act on `contextId` (Rust: set_effective_context). The SDK does this itself
 * before a callout's answer reaches the context that made the call. BadArgument for an unknown id.
 */
export function setEffectiveContext(contextId: u32): Status {
  return <Status>abi.proxy_set_effective_context(contextId);
}

/**
 * Tells the host that the effective context finished after its onDone returned false (Rust: done).
 * Valid after onDone; the host's status otherwise.
 */
export function done(): Status {
  return <Status>abi.proxy_done();
}

// ---- buffers ----

/**
 * Up to `maxSize` bytes from `start` of a buffer (Rust: get_buffer); null when the host has no such
 * buffer now (lastStatus()). Context methods (getHttpRequestBody...) are the usual spelling.
 */
export function getBuffer(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  if (failed(abi.proxy_get_buffer_bytes(type, start, maxSize, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** Bytes in a buffer now (proxy_get_buffer_status); 0 when it is empty or the host has none (lastStatus()). */
export function getBufferSize(type: BufferType): u32 {
  if (failed(abi.proxy_get_buffer_status(type, RET_PTR, RET_SIZE))) return 0;
  return load<u32>(RET_PTR);
}

/**
 * Writes `value` into a buffer (Rust: set_buffer). Envoy supports three forms: (0, 0) prepends,
 * (0, >= size) replaces the whole buffer, start >= size appends; it answers BadArgument otherwise.
 */
export function setBuffer(type: BufferType, start: u32, size: u32, value: ArrayBuffer): Status {
  return <Status>abi.proxy_set_buffer_bytes(type, start, size, ptrOf(value), lenOf(value));
}

// ---- header maps ----

/** One value of a map as text (Rust: get_map_value); null when the key is missing, "" when empty. */
export function getMapValue(map: MapType, key: string): string | null {
  const kl = encodeForHost(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, encoded(), kl, RET_PTR, RET_SIZE))) return null;
  return takeReturnedString();
}

/** One value of a map as text; "" when the key is missing (for callers that do not need to tell). */
export function getMapValueOrEmpty(map: MapType, key: string): string {
  const kl = encodeForHost(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, encoded(), kl, RET_PTR, RET_SIZE))) return "";
  return takeReturnedString();
}

/** One value of a map as exact bytes (Rust: get_map_value_bytes); null when the key is missing. */
export function getMapValueBytes(map: MapType, key: string): ArrayBuffer | null {
  const kl = encodeForHost(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, encoded(), kl, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** All pairs of a map as text (Rust: get_map); empty when the host has no such map now. */
export function getMap(map: MapType): Header[] {
  if (failed(abi.proxy_get_header_map_pairs(map, RET_PTR, RET_SIZE))) return [];
  const ptr = load<usize>(RET_PTR);
  const size = load<u32>(RET_SIZE);
  const out = deserializeHeaders(ptr, size);
  heap.free(ptr); // the allocator ignores 0
  noteCopied((<usize>size) << 1);
  return out;
}

/** All pairs of a map as exact bytes (Rust: get_map_bytes); empty when the host has no such map now. */
export function getMapBytes(map: MapType): HeaderBytes[] {
  if (failed(abi.proxy_get_header_map_pairs(map, RET_PTR, RET_SIZE))) return [];
  const ptr = load<usize>(RET_PTR);
  const size = load<u32>(RET_SIZE);
  const out = deserializeHeaderBytes(ptr, size);
  heap.free(ptr); // the allocator ignores 0
  noteCopied(size);
  return out;
}

/** Size of a map (Envoy: the sum of its keys' and values' lengths); 0 when the host has none now. */
export function getMapSize(map: MapType): u32 {
  if (failed(abi.proxy_get_header_map_size(map, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Replaces a whole map (Rust: set_map). */
export function setMap(map: MapType, headers: Header[]): Status {
  const size = serializeHeaders(headers);
  return <Status>abi.proxy_set_header_map_pairs(map, scratchAt(SCRATCH_MAP), size);
}

/** Replaces a whole map with byte pairs (Rust: set_map_bytes). */
export function setMapBytes(map: MapType, headers: HeaderBytes[]): Status {
  const size = serializeHeaderBytes(headers);
  return <Status>abi.proxy_set_header_map_pairs(map, scratchAt(SCRATCH_MAP), size);
}

/** Appends a value to a key, a second line of the same name (Rust: add_map_value). */
export function addMapValue(map: MapType, key: string, value: string): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  const k = encoded();
  const vl = encodeForHost(value, SCRATCH_B);
  return <Status>abi.proxy_add_header_map_value(map, k, kl, encoded(), vl);
}

export function addMapValueBytes(map: MapType, key: string, value: ArrayBuffer): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  return <Status>abi.proxy_add_header_map_value(map, encoded(), kl, ptrOf(value), lenOf(value));
}

/** Sets a key to exactly one value, adding it when missing (Rust: set_map_value with a value). */
export function setMapValue(map: MapType, key: string, value: string): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  const k = encoded();
  const vl = encodeForHost(value, SCRATCH_B);
  return <Status>abi.proxy_replace_header_map_value(map, k, kl, encoded(), vl);
}

export function setMapValueBytes(map: MapType, key: string, value: ArrayBuffer): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  return <Status>abi.proxy_replace_header_map_value(map, encoded(), kl, ptrOf(value), lenOf(value));
}

/** Removes every value of a key (Rust: remove_map_value; Ok also when it was missing, in Envoy). */
export function removeMapValue(map: MapType, key: string): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  return <Status>abi.proxy_remove_header_map_value(map, encoded(), kl);
}

// ---- properties ----

/** Serializes path segments joined by NUL (no trailing NUL) into the map scratch slot; returns the size. */
function serializePath(path: string[]): usize {
  const n = path.length;
  // A NUL after each segment, and a last word where putUtf8z writes the lengths nobody reads.
  let bound: usize = <usize>n + 4;
  for (let i = 0; i < n; i++) bound += <usize>unchecked(path[i]).length * 3;
  const base = scratch(bound, SCRATCH_MAP);
  let p = base;
  for (let i = 0; i < n; i++) p = putUtf8z(unchecked(path[i]), p, base + bound - 4);
  return n != 0 ? p - base - 1 : 0; // without the last NUL
}

/** A property's raw value (Envoy's encodings: see properties.ts); null when the host has none. */
export function getProperty(path: string[]): ArrayBuffer | null {
  const size = serializePath(path);
  if (failed(abi.proxy_get_property(scratchAt(SCRATCH_MAP), size, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** Sets a property (Envoy stores it as filter state readable by later filters). */
export function setProperty(path: string[], value: ArrayBuffer | null): Status {
  const size = serializePath(path);
  return <Status>abi.proxy_set_property(scratchAt(SCRATCH_MAP), size, ptrOf(value), lenOf(value));
}

// ---- shared data and queues ----

/** A value from the VM-wide shared data store with its compare-and-swap token. */
export class SharedData {
  constructor(
    public value: ArrayBuffer,
    public cas: u32,
  ) {}
}

/** Reads shared data; null when the key is missing (lastStatus() is NotFound). */
export function getSharedData(key: string): SharedData | null {
  const kl = encodeForHost(key, SCRATCH_A);
  if (failed(abi.proxy_get_shared_data(encoded(), kl, RET_PTR, RET_SIZE, RET_EXTRA))) return null;
  const cas = load<u32>(RET_EXTRA);
  return new SharedData(takeReturnedBytes(), cas);
}

/** Writes shared data; `cas` 0 always writes, otherwise CasMismatch when another writer got there first. */
export function setSharedData(key: string, value: ArrayBuffer | null, cas: u32): Status {
  const kl = encodeForHost(key, SCRATCH_A);
  return <Status>abi.proxy_set_shared_data(encoded(), kl, ptrOf(value), lenOf(value), cas);
}

/** Registers (or finds) this VM's queue `name`; its id, 0 when refused. */
export function registerSharedQueue(name: string): u32 {
  const nl = encodeForHost(name, SCRATCH_A);
  if (failed(abi.proxy_register_shared_queue(encoded(), nl, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** The id of queue `name` registered by the VM `vmId`; 0 when there is none. */
export function resolveSharedQueue(vmId: string, name: string): u32 {
  const vl = encodeForHost(vmId, SCRATCH_A);
  const v = encoded();
  const nl = encodeForHost(name, SCRATCH_B);
  if (failed(abi.proxy_resolve_shared_queue(v, vl, encoded(), nl, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Pushes a message onto a queue; its owner's onQueueReady runs. */
export function enqueueSharedQueue(queueId: u32, value: ArrayBuffer | null): Status {
  return <Status>abi.proxy_enqueue_shared_queue(queueId, ptrOf(value), lenOf(value));
}

/** Pops a message; null when the queue is empty (lastStatus() is Empty) or unknown (NotFound). */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  if (failed(abi.proxy_dequeue_shared_queue(queueId, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

// ---- metrics ----

/** Defines a metric (Rust: define_metric); its id, 0 when refused. Not valid while the VM initializes. */
export function defineMetric(type: MetricType, name: string): u32 {
  const nl = encodeForHost(name, SCRATCH_A);
  if (failed(abi.proxy_define_metric(type, encoded(), nl, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Adds `offset` to a counter or gauge; the host's status (NotFound for an unknown id). */
export function incrementMetric(metricId: u32, offset: i64): Status {
  return <Status>abi.proxy_increment_metric(metricId, offset);
}

/** Sets a gauge or records a histogram value; the host's status. */
export function recordMetric(metricId: u32, value: u64): Status {
  return <Status>abi.proxy_record_metric(metricId, value);
}

/** A metric's value; 0 when the host refuses (lastStatus()). */
export function getMetric(metricId: u32): u64 {
  if (failed(abi.proxy_get_metric(metricId, RET_EXTRA))) return 0;
  return load<u64>(RET_EXTRA);
}

// ---- foreign functions ----

/** Calls a function the host registered by name; its result, null when refused (lastStatus()). */
export function callForeignFunction(name: string, args: ArrayBuffer | null): ArrayBuffer | null {
  const nl = encodeForHost(name, SCRATCH_A);
  if (failed(abi.proxy_call_foreign_function(encoded(), nl, ptrOf(args), lenOf(args), RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}
