// Context: what every context can do, mirroring the Rust SDK's `Context` trait with its names in
// camelCase. RootContext and ChildContext are in root-context.ts, HttpContext in http-context.ts,
// StreamContext in stream-context.ts. Callbacks have defaults that do nothing; helper methods wrap
// host calls and follow the SDK's one failure convention (docs/sdk.md, "When the host says no"):
// never a trap; null, 0 or a Status, and lastStatus() says why.

import * as hc from "./hostcalls";
import * as calls from "./callouts";
import { KIND_ROOT } from "./contexts";
import { Header, HeaderBytes } from "./headers";
import { BufferType, MapType, Status } from "./types";
import { SharedData } from "./hostcalls";
import { CallStatus } from "./callouts";

/**
 * Behaviour shared by every context. The SDK's own bookkeeping uses `__sdk` names, so a filter's
 * context class can name its fields freely (`done`, `path`, `host`, `id`, `next`, `kind`...).
 */
export class Context {
  /** Internal: which kind of context this is (set by the dispatcher). */
  __sdkKind: u8 = KIND_ROOT;
  /** Internal: next context in the same bucket of the dispatcher's table (contexts.ts). */
  __sdkNext: Context | null = null;
  /** Internal: the root context's id, for a stream's context (set by the dispatcher). */
  __sdkRootId: u32 = 0;

  constructor(public readonly contextId: u32) {}

  // ---- callbacks ----

  /** The host is ending this context. Return false to finish later with done() (root contexts). */
  onDone(): bool {
    return true;
  }

  /** Access-log time: after the stream or connection ended. Request and response data are readable. */
  onLog(): void {}

  /** The context is deleted; its id is never used again. */
  onDelete(): void {}

  /**
   * The response to this context's dispatchHttpCall() with this `token`; read it with
   * getHttpCallResponse*() in this callback only. Like Envoy's async client: a refused connection
   * arrives as a 503 response and a timeout before the response headers as a 504; `numHeaders` 0
   * means the call was reset or timed out after its headers. (An unknown cluster is refused at
   * dispatch: dispatchHttpCall returns 0.)
   */
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}

  /** This context's unary gRPC call ended: `statusCode` 0 (Ok) with a response of `responseSize` bytes, or an error. */
  onGrpcCallResponse(token: u32, statusCode: u32, responseSize: u32): void {}

  /** Initial metadata of this context's gRPC call or stream arrived; read it with getGrpcStreamInitialMetadata*(). */
  onGrpcStreamInitialMetadata(token: u32, numElements: u32): void {}

  /** A message arrived on this context's gRPC stream; read it with getGrpcStreamMessage(). */
  onGrpcStreamMessage(token: u32, messageSize: u32): void {}

  /** Trailing metadata of this context's gRPC call or stream arrived; read it with getGrpcStreamTrailingMetadata*(). */
  onGrpcStreamTrailingMetadata(token: u32, numElements: u32): void {}

  /** This context's gRPC stream closed with `statusCode`; getGrpcStatus() has its message. */
  onGrpcStreamClose(token: u32, statusCode: u32): void {}

  // ---- time and properties ----

  /** Wall-clock time in nanoseconds since the Unix epoch; 0 when the host refuses. Any callback. */
  getCurrentTime(): u64 {
    return hc.getCurrentTime();
  }

  /**
   * A property's raw bytes (e.g. ["source", "address"]); null when the host has none. Typed readers:
   * getPropertyString/Int/Bool/Map and the `properties` namespace. Any callback.
   */
  getProperty(path: string[]): ArrayBuffer | null {
    return hc.getProperty(path);
  }

  /** Sets a property (Envoy: filter state later filters can read); the host's status. */
  setProperty(path: string[], value: ArrayBuffer | null): Status {
    return hc.setProperty(path, value);
  }

  // ---- shared data and queues (any callback after the VM started) ----

  /** Shared data with its CAS token; null when the key is missing (lastStatus() NotFound). */
  getSharedData(key: string): SharedData | null {
    return hc.getSharedData(key);
  }

  /** Writes shared data; `cas` 0 skips the check, otherwise CasMismatch means "read and retry". */
  setSharedData(key: string, value: ArrayBuffer | null, cas: u32 = 0): Status {
    return hc.setSharedData(key, value, cas);
  }

  /** Registers this VM's queue; its id, or 0 when refused. Root contexts receive onQueueReady. */
  registerSharedQueue(name: string): u32 {
    return hc.registerSharedQueue(name);
  }

  /** The id of queue `name` of VM `vmId`, or 0 when there is none. */
  resolveSharedQueue(vmId: string, name: string): u32 {
    return hc.resolveSharedQueue(vmId, name);
  }

  /** Pushes a message; the host's status (NotFound for an unknown queue). */
  enqueueSharedQueue(queueId: u32, value: ArrayBuffer | null): Status {
    return hc.enqueueSharedQueue(queueId, value);
  }

  /** The next message, or null when the queue is empty (lastStatus() Empty) or unknown (NotFound). */
  dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
    return hc.dequeueSharedQueue(queueId);
  }

  // ---- HTTP calls ----

  /**
   * Calls cluster `upstream` over HTTP. `headers` need :method, :path and :authority. Returns the token
   * passed to THIS context's onHttpCallResponse, or 0 when the host refused (lastStatus() says why:
   * BadArgument for missing pseudo-headers, NotFound or BadArgument for an unknown cluster).
   */
  dispatchHttpCall(upstream: string, headers: Header[], body: ArrayBuffer | null, trailers: Header[], timeoutMilliseconds: u32): u32 {
    const token = calls.dispatchHttpCall(upstream, headers, body, trailers, timeoutMilliseconds);
    if (token != 0) calls.trackCallout(token, this.contextId, calls.CALLOUT_HTTP);
    return token;
  }

  /** Response headers of the call being answered (valid in onHttpCallResponse; empty otherwise). */
  getHttpCallResponseHeaders(): Header[] {
    return hc.getMap(MapType.HttpCallResponseHeaders);
  }
  getHttpCallResponseHeadersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpCallResponseHeaders);
  }
  /** One response header of the call being answered; null when missing. */
  getHttpCallResponseHeader(name: string): string | null {
    return hc.getMapValue(MapType.HttpCallResponseHeaders, name);
  }
  getHttpCallResponseHeaderBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpCallResponseHeaders, name);
  }
  /** Up to `maxSize` bytes of the call's response body from `start` (valid in onHttpCallResponse); null when none. */
  getHttpCallResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.HttpCallResponseBody, start, maxSize);
  }
  getHttpCallResponseTrailers(): Header[] {
    return hc.getMap(MapType.HttpCallResponseTrailers);
  }
  getHttpCallResponseTrailersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpCallResponseTrailers);
  }
  getHttpCallResponseTrailer(name: string): string | null {
    return hc.getMapValue(MapType.HttpCallResponseTrailers, name);
  }
  getHttpCallResponseTrailerBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpCallResponseTrailers, name);
  }

  // ---- gRPC ----

  /** Unary gRPC call; the token passed to THIS context's onGrpcCallResponse, or 0 when refused. */
  dispatchGrpcCall(
    upstream: string,
    serviceName: string,
    methodName: string,
    initialMetadata: HeaderBytes[],
    message: ArrayBuffer | null,
    timeoutMilliseconds: u32,
  ): u32 {
    const token = calls.dispatchGrpcCall(upstream, serviceName, methodName, initialMetadata, message, timeoutMilliseconds);
    if (token != 0) calls.trackCallout(token, this.contextId, calls.CALLOUT_GRPC_CALL);
    return token;
  }

  /** Opens a gRPC stream whose callbacks run on THIS context; its token, or 0 when refused. */
  openGrpcStream(upstream: string, serviceName: string, methodName: string, initialMetadata: HeaderBytes[]): u32 {
    const token = calls.openGrpcStream(upstream, serviceName, methodName, initialMetadata);
    if (token != 0) calls.trackCallout(token, this.contextId, calls.CALLOUT_GRPC_STREAM);
    return token;
  }

  /** Sends a message on a stream (`endStream` half-closes after it); the host's status. */
  sendGrpcStreamMessage(token: u32, message: ArrayBuffer | null, endStream: bool = false): Status {
    return calls.sendGrpcStreamMessage(token, message, endStream);
  }

  /** Cancels a unary call: onGrpcCallResponse will not run for it. The host's status. */
  cancelGrpcCall(token: u32): Status {
    return calls.cancelGrpc(token);
  }
  /** Cancels a stream: none of its callbacks runs any more. The host's status. */
  cancelGrpcStream(token: u32): Status {
    return calls.cancelGrpc(token);
  }
  /** Half-closes a stream: no more messages from us. The host's status. */
  closeGrpcStream(token: u32): Status {
    return calls.closeGrpcStream(token);
  }

  /** The response of a unary call (valid in onGrpcCallResponse); null when none. */
  getGrpcCallResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.GrpcReceiveBuffer, start, maxSize);
  }
  /** The message being delivered (valid in onGrpcStreamMessage); null when none. */
  getGrpcStreamMessage(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.GrpcReceiveBuffer, start, maxSize);
  }
  /** Initial metadata being delivered (valid in onGrpcStreamInitialMetadata; empty otherwise). */
  getGrpcStreamInitialMetadata(): HeaderBytes[] {
    return hc.getMapBytes(MapType.GrpcReceiveInitialMetadata);
  }
  getGrpcStreamInitialMetadataValue(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.GrpcReceiveInitialMetadata, name);
  }
  /** Trailing metadata being delivered (valid in onGrpcStreamTrailingMetadata; empty otherwise). */
  getGrpcStreamTrailingMetadata(): HeaderBytes[] {
    return hc.getMapBytes(MapType.GrpcReceiveTrailingMetadata);
  }
  getGrpcStreamTrailingMetadataValue(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.GrpcReceiveTrailingMetadata, name);
  }
  /** Code and message of the call or stream being answered (proxy_get_status); null when refused. */
  getGrpcStatus(): CallStatus | null {
    return calls.getGrpcStatus();
  }

  // ---- foreign functions ----

  /**
   * Calls a function the host registered by name (Envoy: e.g. "compress", "set_envoy_filter_state").
   * Its result bytes; null when the host refused: NotFound or Unimplemented when it lacks the function.
   */
  callForeignFunction(name: string, args: ArrayBuffer | null): ArrayBuffer | null {
    return hc.callForeignFunction(name, args);
  }
}
