// HTTP and gRPC calls to other services (Rust: dispatch_http_call, dispatch_grpc_call,
// open_grpc_stream, send_grpc_stream_message, cancel_grpc_call/stream, close_grpc_stream,
// get_grpc_status), and the table that remembers which context made each call, so that the answer
// reaches that context, always (the dispatcher reads it; the host delivers every answer on the root).
// Filters call these through the Context methods of the same names, which record themselves as the
// owner of each call. Failures follow the SDK's convention (status.ts): a token of 0, or a Status.

import * as abi from "./imports";
import { Status } from "./types";
import { failed, lenOf, ptrOf } from "./status";
import { IdTable } from "./table";
import { contexts } from "./contexts";
import {
  RET_PTR,
  RET_SIZE,
  RET_EXTRA,
  SCRATCH_A,
  SCRATCH_B,
  SCRATCH_C,
  SCRATCH_MAP,
  SCRATCH_MAP2,
  encodeForHost,
  encoded,
  scratchAt,
  takeReturnedString,
} from "./memory";
import { Header, HeaderBytes, serializeHeaderBytes, serializeHeaders } from "./headers";

// ---- who made which call ----
// token -> (kind << 32) | id of the context that made the call. The table and the code that reads it
// exist only in filters that make calls: the dispatcher reaches it through `calloutLookup`, which
// only trackCallout sets.

export const CALLOUT_HTTP: u64 = 1;
export const CALLOUT_GRPC_CALL: u64 = 2;
export const CALLOUT_GRPC_STREAM: u64 = 3;
// @ts-ignore: decorator (lazy: filters that make no calls never compile the table)
@lazy let callouts: IdTable<u64> | null = null;
export let calloutLookup: ((token: u32, remove: bool) => u64) | null = null;
/**
 * Marks the calls a context made as its own no more, for a shared HTTP context's stream that ended
 * (it has no entry in the context table for the dispatcher to find gone). Set with the table, in
 * filters with a shared context only.
 */
export let calloutForgetOwner: ((owner: u32) => void) | null = null;
/**
 * The owner of a call whose stream ended: no context has this id (Envoy counts ids up from 1). Its
 * answer still comes (Envoy keeps the call on the root context), and the dispatcher drops it.
 */
export const CALLOUT_OWNER_GONE: u32 = u32.MAX_VALUE;

function lookupCallout(token: u32, remove: bool): u64 {
  const t = callouts!;
  return remove ? t.delete(token) : t.get(token);
}

// Every call is answered once, even when the context that made it is gone: Envoy keeps a stream's
// calls on its root context (proxy-wasm-cpp-host exports.cc), answers them after the stream ended and
// fails them at their timeout; only the root's own end cancels them. So an entry stays until its
// answer, and the dispatcher drops an answer whose context is gone. (The SDK used to drop such
// entries early to bound the table; their answers then reached the root context as unknown tokens.)
// A shared HTTP context's streams are not in the context table: a stream's calls are marked
// CALLOUT_OWNER_GONE at its end instead.

// In place, so that a stream's end allocates nothing; the entry goes when the answer comes.
function forgetOwner(owner: u32): void {
  const t = callouts!;
  for (let slot: u32 = 0, n: u32 = t.size == 0 ? 0 : t.capacity; slot < n; slot++) {
    const entry = t.valueAt(slot);
    if (t.keyAt(slot) != 0 && <u32>entry == owner) t.setValueAt(slot, (entry & 0xffff_ffff_0000_0000) | <u64>CALLOUT_OWNER_GONE);
  }
}

/** Remembers that context `owner` made the call `token` of `kind`, until its answer comes. */
export function trackCallout(token: u32, owner: u32, kind: u64): void {
  let t = callouts;
  if (t === null) {
    callouts = t = new IdTable<u64>();
    calloutLookup = lookupCallout;
    if (contexts.shared !== null) calloutForgetOwner = forgetOwner;
  }
  t.set(token, (kind << 32) | <u64>owner);
}

/** Drops a cancelled call: the host never answers it, so nothing else would. */
function forgetCallout(token: u32): void {
  const lookup = calloutLookup;
  if (lookup !== null) lookup(token, true);
}

// ---- HTTP ----

/** See Context.dispatchHttpCall: the token, or 0 when refused. */
export function dispatchHttpCall(
  upstream: string,
  headers: Header[],
  body: ArrayBuffer | null,
  trailers: Header[],
  timeoutMilliseconds: u32,
): u32 {
  const ul = encodeForHost(upstream, SCRATCH_A);
  const u = encoded(); // before serializeHeaders, which encodes too
  const hs = serializeHeaders(headers, SCRATCH_MAP);
  const ts = serializeHeaders(trailers, SCRATCH_MAP2);
  const h = scratchAt(SCRATCH_MAP);
  const t = scratchAt(SCRATCH_MAP2);
  if (failed(abi.proxy_http_call(u, ul, h, hs, ptrOf(body), lenOf(body), t, ts, timeoutMilliseconds, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

// ---- gRPC ----

// The arguments the two gRPC calls share, written by encodeGrpcTarget: upstream, service and method
// as (UTF-8 bytes, length) pairs, then the serialized initial metadata (bytes, size).
const GRPC_ARGS: usize = memory.data(32, 4);

function encodeGrpcTarget(upstream: string, serviceName: string, methodName: string, initialMetadata: HeaderBytes[]): void {
  store<u32>(GRPC_ARGS, <u32>encodeForHost(upstream, SCRATCH_A), 4);
  store<usize>(GRPC_ARGS, encoded());
  store<u32>(GRPC_ARGS, <u32>encodeForHost(serviceName, SCRATCH_B), 12);
  store<usize>(GRPC_ARGS, encoded(), 8);
  store<u32>(GRPC_ARGS, <u32>encodeForHost(methodName, SCRATCH_C), 20);
  store<usize>(GRPC_ARGS, encoded(), 16);
  store<u32>(GRPC_ARGS, <u32>serializeHeaderBytes(initialMetadata, SCRATCH_MAP), 28);
  store<usize>(GRPC_ARGS, scratchAt(SCRATCH_MAP), 24);
}

// @ts-ignore: decorator
@inline function grpcArg(i: usize): usize {
  return load<usize>(GRPC_ARGS + (i << 2));
}

/** See Context.dispatchGrpcCall: the token, or 0 when refused. */
export function dispatchGrpcCall(
  upstream: string,
  serviceName: string,
  methodName: string,
  initialMetadata: HeaderBytes[],
  message: ArrayBuffer | null,
  timeoutMilliseconds: u32,
): u32 {
  encodeGrpcTarget(upstream, serviceName, methodName, initialMetadata);
  if (failed(abi.proxy_grpc_call(grpcArg(0), grpcArg(1), grpcArg(2), grpcArg(3), grpcArg(4), grpcArg(5), grpcArg(6), grpcArg(7), ptrOf(message), lenOf(message), timeoutMilliseconds, RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** See Context.openGrpcStream: the stream's token, or 0 when refused. */
export function openGrpcStream(upstream: string, serviceName: string, methodName: string, initialMetadata: HeaderBytes[]): u32 {
  encodeGrpcTarget(upstream, serviceName, methodName, initialMetadata);
  if (failed(abi.proxy_grpc_stream(grpcArg(0), grpcArg(1), grpcArg(2), grpcArg(3), grpcArg(4), grpcArg(5), grpcArg(6), grpcArg(7), RET_PTR))) return 0;
  return load<u32>(RET_PTR);
}

/** Sends a message on a stream; the host's status (NotFound for an unknown token). */
export function sendGrpcStreamMessage(token: u32, message: ArrayBuffer | null, endStream: bool): Status {
  return <Status>abi.proxy_grpc_send(token, ptrOf(message), lenOf(message), endStream ? 1 : 0);
}

/** Cancels a call or stream: no callback runs for it any more. */
export function cancelGrpc(token: u32): Status {
  forgetCallout(token);
  return <Status>abi.proxy_grpc_cancel(token);
}

/** Half-closes a stream: no more messages from this side. */
export function closeGrpcStream(token: u32): Status {
  return <Status>abi.proxy_grpc_close(token);
}

/** Status code and message of the call or stream being answered (proxy_get_status). */
export class CallStatus {
  constructor(
    public code: u32,
    public message: string,
  ) {}
}

/** See Context.getGrpcStatus: null when the host refuses. */
export function getGrpcStatus(): CallStatus | null {
  if (failed(abi.proxy_get_status(RET_EXTRA, RET_PTR, RET_SIZE))) return null;
  const code = load<u32>(RET_EXTRA);
  return new CallStatus(code, takeReturnedString());
}
