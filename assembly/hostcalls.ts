// Typed wrappers over the raw host functions (imports.ts), in the style of the Rust SDK's `hostcalls`
// module, but they never trap on a host status: a missing value comes back as null, an id or token
// as 0 (Envoy never hands out 0), and every other outcome as a Status to check. The status of the
// last call that returned null or 0 is kept in `lastStatus()`.

import * as abi from "./imports";
import { noteCopied } from "./gc";
import { trackCallout, CALLOUT_GRPC_STREAM } from "./registry";
import { BufferType, LogLevel, MapType, MetricType, Status, StreamType } from "./types";
import {
  RET_PTR,
  RET_SIZE,
  RET_EXTRA,
  SCRATCH_A,
  SCRATCH_B,
  SCRATCH_C,
  SCRATCH_MAP,
  SCRATCH_MAP2,
  encodeToScratch,
  encodedLength,
  scratch,
  takeReturnedBytes,
  takeReturnedString,
  encodeUtf8Into,
} from "./memory";
import {
  Header,
  HeaderBytes,
  deserializeHeaderBytes,
  deserializeHeaders,
  serializeHeaderBytes,
  serializeHeaders,
  serializedSize,
} from "./headers";

let _lastStatus: Status = Status.Ok;

/** The status of the last host call that came back with null, 0 or false. */
export function lastStatus(): Status {
  return _lastStatus;
}

// @ts-ignore: decorator
@inline function failed(status: u32): bool {
  if (status != 0) {
    _lastStatus = <Status>status;
    return true;
  }
  return false;
}

// @ts-ignore: decorator
@inline function ptrOf(b: ArrayBuffer | null): usize {
  return changetype<usize>(b);
}

// @ts-ignore: decorator
@inline function lenOf(b: ArrayBuffer | null): usize {
  return b === null ? 0 : <usize>b.byteLength;
}

// ---- logging ----

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
  const p = encodeToScratch(message, SCRATCH_A);
  abi.proxy_log(level, p, encodedLength);
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

// ---- time, timers, effective context ----

/** Wall-clock time in nanoseconds since the Unix epoch; 0 when the host refuses. */
export function getCurrentTimeNanoseconds(): u64 {
  if (failed(abi.proxy_get_current_time_nanoseconds(RET_EXTRA))) return 0;
  return load<u64>(RET_EXTRA);
}

/** Calls onTick on the root context every `millis` ms; 0 stops the timer. Root contexts only. */
export function setTickPeriodMilliseconds(millis: u32): Status {
  return <Status>abi.proxy_set_tick_period_milliseconds(millis);
}

/** Makes later host calls act on `contextId` (the SDK does this itself before callout callbacks). */
export function setEffectiveContext(contextId: u32): Status {
  return <Status>abi.proxy_set_effective_context(contextId);
}

/** Tells the host that a root context whose onDone returned false has finished. */
export function done(): Status {
  return <Status>abi.proxy_done();
}

// ---- buffers ----

/** Up to `maxSize` bytes from `start` of a buffer; null when the host has no such buffer now. */
export function getBufferBytes(type: BufferType, start: u32, maxSize: u32): ArrayBuffer | null {
  if (failed(abi.proxy_get_buffer_bytes(type, start, maxSize, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** Length of a buffer, or -1 (see lastStatus()) when the host has none. */
export function getBufferLength(type: BufferType): i64 {
  if (failed(abi.proxy_get_buffer_status(type, RET_PTR, RET_SIZE))) return -1;
  return <i64>load<u32>(RET_PTR);
}

/**
 * Writes `value` into a buffer. Envoy supports three forms: (0, 0) prepends, (0, >= length) replaces
 * the whole buffer, start >= length appends; it answers BadArgument for any other range.
 */
export function setBufferBytes(type: BufferType, start: u32, size: u32, value: ArrayBuffer): Status {
  return <Status>abi.proxy_set_buffer_bytes(type, start, size, ptrOf(value), lenOf(value));
}

// ---- header maps ----

/** One value of a map as text; null when the key is missing (empty values come back as ""). */
export function getMapValue(map: MapType, key: string): string | null {
  const k = encodeToScratch(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, k, encodedLength, RET_PTR, RET_SIZE))) return null;
  return takeReturnedString();
}

/** One value of a map as text; "" when the key is missing (for callers that do not need to tell). */
export function getMapValueOrEmpty(map: MapType, key: string): string {
  const k = encodeToScratch(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, k, encodedLength, RET_PTR, RET_SIZE))) return "";
  return takeReturnedString();
}

/** One value of a map as exact bytes; null when the key is missing. */
export function getMapValueBytes(map: MapType, key: string): ArrayBuffer | null {
  const k = encodeToScratch(key, SCRATCH_A);
  if (failed(abi.proxy_get_header_map_value(map, k, encodedLength, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** All pairs of a map as text (empty when the host has no such map now). */
export function getMapPairs(map: MapType): Header[] {
  if (failed(abi.proxy_get_header_map_pairs(map, RET_PTR, RET_SIZE))) return [];
  const ptr = load<usize>(RET_PTR);
  const size = load<u32>(RET_SIZE);
  const out = deserializeHeaders(ptr, size);
  if (ptr != 0) heap.free(ptr);
  noteCopied(<usize>size << 1);
  return out;
}

/** All pairs of a map as exact bytes. */
export function getMapPairsBytes(map: MapType): HeaderBytes[] {
  if (failed(abi.proxy_get_header_map_pairs(map, RET_PTR, RET_SIZE))) return [];
  const ptr = load<usize>(RET_PTR);
  const size = load<u32>(RET_SIZE);
  const out = deserializeHeaderBytes(ptr, size);
  if (ptr != 0) heap.free(ptr);
  noteCopied(size);
  return out;
}

/** Size of a map (Envoy: the sum of its keys' and values' lengths), or -1 when the host has none now. */
export function getMapSize(map: MapType): i64 {
  if (failed(abi.proxy_get_header_map_size(map, RET_PTR))) return -1;
  return <i64>load<u32>(RET_PTR);
}

/** Replaces a whole map. */
export function setMapPairs(map: MapType, headers: Header[]): Status {
  const p = serializeHeaders(headers);
  return <Status>abi.proxy_set_header_map_pairs(map, p, serializedSize);
}

export function setMapPairsBytes(map: MapType, headers: HeaderBytes[]): Status {
  const p = serializeHeaderBytes(headers);
  return <Status>abi.proxy_set_header_map_pairs(map, p, serializedSize);
}

/** Appends a value to a key (a second header line of the same name). */
export function addMapValue(map: MapType, key: string, value: string): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  const kl = encodedLength;
  const v = encodeToScratch(value, SCRATCH_B);
  return <Status>abi.proxy_add_header_map_value(map, k, kl, v, encodedLength);
}

export function addMapValueBytes(map: MapType, key: string, value: ArrayBuffer): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  return <Status>abi.proxy_add_header_map_value(map, k, encodedLength, ptrOf(value), lenOf(value));
}

/** Sets a key to exactly one value, adding it when missing. */
export function replaceMapValue(map: MapType, key: string, value: string): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  const kl = encodedLength;
  const v = encodeToScratch(value, SCRATCH_B);
  return <Status>abi.proxy_replace_header_map_value(map, k, kl, v, encodedLength);
}

export function replaceMapValueBytes(map: MapType, key: string, value: ArrayBuffer): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  return <Status>abi.proxy_replace_header_map_value(map, k, encodedLength, ptrOf(value), lenOf(value));
}

/** Removes every value of a key (Ok also when it was missing, in Envoy). */
export function removeMapValue(map: MapType, key: string): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  return <Status>abi.proxy_remove_header_map_value(map, k, encodedLength);
}

// ---- streams and local responses ----

/** Resumes a paused stream. */
export function continueStream(stream: StreamType): Status {
  return <Status>abi.proxy_continue_stream(stream);
}

/** Closes (resets) a stream. */
export function closeStream(stream: StreamType): Status {
  return <Status>abi.proxy_close_stream(stream);
}

/**
 * Answers the HTTP request without the upstream. Make it the last host call of the callback and return
 * Action.Pause: Envoy stops the current iteration whatever the callback returns (envoy#28826).
 * `grpcStatus` -1 means a plain HTTP response.
 */
export function sendLocalResponse(
  statusCode: u32,
  details: string,
  body: ArrayBuffer | null,
  headers: Header[],
  grpcStatus: i32,
): Status {
  const h = serializeHeaders(headers);
  const hs = serializedSize;
  const d = encodeToScratch(details, SCRATCH_A);
  return <Status>abi.proxy_send_local_response(statusCode, d, encodedLength, ptrOf(body), lenOf(body), h, hs, grpcStatus);
}

export function sendLocalResponseBytes(
  statusCode: u32,
  details: string,
  body: ArrayBuffer | null,
  headers: HeaderBytes[],
  grpcStatus: i32,
): Status {
  const h = serializeHeaderBytes(headers);
  const hs = serializedSize;
  const d = encodeToScratch(details, SCRATCH_A);
  return <Status>abi.proxy_send_local_response(statusCode, d, encodedLength, ptrOf(body), lenOf(body), h, hs, grpcStatus);
}

/** Status code and message of the last HTTP/gRPC call response (proxy_get_status). */
export class CallStatus {
  constructor(
    public code: u32,
    public message: string,
  ) {}
}

export function getStatus(): CallStatus | null {
  if (failed(abi.proxy_get_status(RET_EXTRA, RET_PTR, RET_SIZE))) return null;
  const code = load<u32>(RET_EXTRA);
  return new CallStatus(code, takeReturnedString());
}

// ---- properties ----

/** Serializes path segments joined by NUL (no trailing NUL) into the map scratch slot. */
function serializePath(path: string[]): usize {
  const n = path.length;
  let bound: usize = <usize>n;
  for (let i = 0; i < n; i++) bound += <usize>unchecked(path[i]).length * 3;
  const base = scratch(bound, SCRATCH_MAP);
  let p = base;
  for (let i = 0; i < n; i++) {
    if (i > 0) store<u8>(p++, 0);
    p += encodeUtf8Into(unchecked(path[i]), p);
  }
  pathLength = p - base;
  return base;
}
let pathLength: usize = 0;

/** A property's raw value (Envoy's encodings: see properties.ts); null when the host has none. */
export function getProperty(path: string[]): ArrayBuffer | null {
  const p = serializePath(path);
  if (failed(abi.proxy_get_property(p, pathLength, RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}

/** Sets a property (Envoy stores it as filter state readable by later filters). */
export function setProperty(path: string[], value: ArrayBuffer | null): Status {
  const p = serializePath(path);
  return <Status>abi.proxy_set_property(p, pathLength, ptrOf(value), lenOf(value));
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
  const k = encodeToScratch(key, SCRATCH_A);
  if (failed(abi.proxy_get_shared_data(k, encodedLength, RET_PTR, RET_SIZE, RET_EXTRA))) return null;
  const cas = load<u32>(RET_EXTRA);
  return new SharedData(takeReturnedBytes(), cas);
}

/**
 * Writes shared data. With `cas` 0 the write always happens; otherwise it fails with CasMismatch
 * when another writer got there first: read again and retry.
 */
export function setSharedData(key: string, value: ArrayBuffer | null, cas: u32 = 0): Status {
  const k = encodeToScratch(key, SCRATCH_A);
  return <Status>abi.proxy_set_shared_data(k, encodedLength, ptrOf(value), lenOf(value), cas);
}

/** Registers (or finds) this VM's queue `name`; returns its id, 0 on failure. */
export function registerSharedQueue(name: string): u32 {
  const n = encodeToScratch(name, SCRATCH_A);
  if (failed(abi.proxy_register_shared_queue(n, encodedLength, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Finds the queue `name` registered by the VM `vmId`; returns its id, 0 when there is none. */
export function resolveSharedQueue(vmId: string, name: string): u32 {
  const v = encodeToScratch(vmId, SCRATCH_A);
  const vl = encodedLength;
  const n = encodeToScratch(name, SCRATCH_B);
  if (failed(abi.proxy_resolve_shared_queue(v, vl, n, encodedLength, RET_PTR))) return 0;
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

/** Defines a metric; returns its id, 0 on failure. Not valid while the VM initializes. */
export function defineMetric(type: MetricType, name: string): u32 {
  const n = encodeToScratch(name, SCRATCH_A);
  if (failed(abi.proxy_define_metric(type, n, encodedLength, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

export function incrementMetric(metricId: u32, offset: i64): Status {
  return <Status>abi.proxy_increment_metric(metricId, offset);
}

export function recordMetric(metricId: u32, value: u64): Status {
  return <Status>abi.proxy_record_metric(metricId, value);
}

/** A metric's value; 0 with lastStatus() set when the host refuses. */
export function getMetric(metricId: u32): u64 {
  if (failed(abi.proxy_get_metric(metricId, RET_EXTRA))) return 0;
  return load<u64>(RET_EXTRA);
}

// ---- HTTP and gRPC calls ----

/**
 * Dispatches an HTTP call to cluster `upstream`. `headers` must hold :method, :path and :authority
 * (Envoy answers BadArgument otherwise). Returns the call's token, 0 when the host refused (see
 * lastStatus()). This raw call is not tracked: its response reaches the ROOT context's
 * onHttpCallResponse. Use Context.dispatchHttpCall to have it reach the context that made the call.
 */
export function httpCall(
  upstream: string,
  headers: Header[],
  body: ArrayBuffer | null,
  trailers: Header[],
  timeoutMilliseconds: u32,
): u32 {
  const u = encodeToScratch(upstream, SCRATCH_A);
  const ul = encodedLength;
  const h = serializeHeaders(headers, SCRATCH_MAP);
  const hs = serializedSize;
  const t = serializeHeaders(trailers, SCRATCH_MAP2);
  const ts = serializedSize;
  if (failed(abi.proxy_http_call(u, ul, h, hs, ptrOf(body), lenOf(body), t, ts, timeoutMilliseconds, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Unary gRPC call; returns its token, 0 on failure. Metadata values are bytes. */
export function grpcCall(
  upstream: string,
  serviceName: string,
  methodName: string,
  initialMetadata: HeaderBytes[],
  message: ArrayBuffer | null,
  timeoutMilliseconds: u32,
): u32 {
  const u = encodeToScratch(upstream, SCRATCH_A);
  const ul = encodedLength;
  const s = encodeToScratch(serviceName, SCRATCH_B);
  const sl = encodedLength;
  const m = encodeToScratch(methodName, SCRATCH_C);
  const ml = encodedLength;
  const md = serializeHeaderBytes(initialMetadata, SCRATCH_MAP);
  const mds = serializedSize;
  if (failed(abi.proxy_grpc_call(u, ul, s, sl, m, ml, md, mds, ptrOf(message), lenOf(message), timeoutMilliseconds, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Opens a gRPC stream; returns its token, 0 on failure. */
export function grpcStream(
  upstream: string,
  serviceName: string,
  methodName: string,
  initialMetadata: HeaderBytes[],
): u32 {
  const u = encodeToScratch(upstream, SCRATCH_A);
  const ul = encodedLength;
  const s = encodeToScratch(serviceName, SCRATCH_B);
  const sl = encodedLength;
  const m = encodeToScratch(methodName, SCRATCH_C);
  const ml = encodedLength;
  const md = serializeHeaderBytes(initialMetadata, SCRATCH_MAP);
  if (failed(abi.proxy_grpc_stream(u, ul, s, sl, m, ml, md, serializedSize, RET_PTR))) return 0;
  const token = load<u32>(RET_PTR);
  // Remembered as a stream (owner 0: the root) so its messages and close reach onGrpcStreamMessage and
  // onGrpcStreamClose, not the unary callback; Context.openGrpcStream then records the real owner.
  trackCallout(token, 0, CALLOUT_GRPC_STREAM);
  return token;
}

export function grpcSend(token: u32, message: ArrayBuffer | null, endStream: bool): Status {
  return <Status>abi.proxy_grpc_send(token, ptrOf(message), lenOf(message), endStream ? 1 : 0);
}

/** Cancels a gRPC call or stream: no further callbacks for it. */
export function grpcCancel(token: u32): Status {
  return <Status>abi.proxy_grpc_cancel(token);
}

/** Half-closes a gRPC stream (or closes a call). */
export function grpcClose(token: u32): Status {
  return <Status>abi.proxy_grpc_close(token);
}

// ---- foreign functions ----

/**
 * Calls a function the host registered by name (Envoy: e.g. "compress", "set_envoy_filter_state").
 * Returns its result bytes; null when the host refused: NotFound or Unimplemented for a host that
 * lacks it (see lastStatus()).
 */
export function callForeignFunction(name: string, args: ArrayBuffer | null): ArrayBuffer | null {
  const n = encodeToScratch(name, SCRATCH_A);
  if (failed(abi.proxy_call_foreign_function(n, encodedLength, ptrOf(args), lenOf(args), RET_PTR, RET_SIZE))) return null;
  return takeReturnedBytes();
}
