// The context classes a filter extends, mirroring the Rust SDK's traits: Context (every context),
// RootContext (one per plugin configuration), HttpContext (one per HTTP stream) and StreamContext
// (one per TCP connection). Callbacks have defaults that do nothing and let traffic through; helper
// methods wrap host calls and never trap on a host status (see hostcalls.ts).

import * as hc from "./hostcalls";
import { Header, HeaderBytes } from "./headers";
import { Action, BufferType, GrpcStatusCode, MapType, PeerType, Status, StreamType } from "./types";
import { SharedData, CallStatus } from "./hostcalls";
import { trackCallout, calloutLookup, CALLOUT_HTTP, CALLOUT_GRPC_CALL, CALLOUT_GRPC_STREAM, contexts } from "./registry";
import { SCRATCH_B, encodeToScratch, encodedLength, bytesToString } from "./memory";
import { serializeHeaders, serializeHeaderBytes, serializedSize } from "./headers";
import * as abi from "./imports";

/** Kinds of context the dispatcher keeps (internal). */
export const KIND_ROOT: u8 = 0;
export const KIND_HTTP: u8 = 1;
export const KIND_STREAM: u8 = 2;

/** Behaviour shared by every context. */
export class Context {
  /** Internal: which kind of context this is (set by the dispatcher). */
  _kind: u8 = KIND_ROOT;
  /** Internal: next context in the same bucket of the dispatcher's table. */
  _next: Context | null = null;

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
   * The response to dispatchHttpCall() with this `token`; read it with getHttpCallResponse*() in this
   * callback only. Like Envoy's async client: a refused connection arrives as a 503 response and a
   * timeout before the response headers as a 504; `numHeaders` 0 means the call was reset or timed out
   * after its headers. (An unknown cluster is refused at dispatch: dispatchHttpCall returns 0.)
   */
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {}

  /** A unary gRPC call ended: `statusCode` 0 (Ok) with a response of `responseSize` bytes, or an error. */
  onGrpcCallResponse(token: u32, statusCode: u32, responseSize: u32): void {}

  /** Initial metadata of a gRPC call or stream arrived; read it with getGrpcReceiveInitialMetadata*(). */
  onGrpcReceiveInitialMetadata(token: u32, numElements: u32): void {}

  /** A message arrived on a gRPC stream; read it with getGrpcStreamMessage(). */
  onGrpcStreamMessage(token: u32, messageSize: u32): void {}

  /** Trailing metadata of a gRPC call or stream arrived. */
  onGrpcReceiveTrailingMetadata(token: u32, numElements: u32): void {}

  /** A gRPC stream closed with `statusCode`; getGrpcStatus() has its message. */
  onGrpcStreamClose(token: u32, statusCode: u32): void {}

  // ---- time and properties ----

  /** Wall-clock time in nanoseconds since the epoch (0 when the host refuses). */
  getCurrentTimeNanoseconds(): u64 {
    return hc.getCurrentTimeNanoseconds();
  }

  /** A property's raw bytes (e.g. ["source", "address"]); null when the host has none. */
  getProperty(path: string[]): ArrayBuffer | null {
    return hc.getProperty(path);
  }

  /** A property as text (invalid UTF-8 becomes U+FFFD); null when missing. */
  getPropertyString(path: string[]): string | null {
    const b = hc.getProperty(path);
    return b === null ? null : bytesToString(b);
  }

  /** Sets a property; returns the host's status. */
  setProperty(path: string[], value: ArrayBuffer | null): Status {
    return hc.setProperty(path, value);
  }

  // ---- shared data and queues ----

  /** Shared data with its CAS token; null when the key is missing. */
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

  enqueueSharedQueue(queueId: u32, value: ArrayBuffer | null): Status {
    return hc.enqueueSharedQueue(queueId, value);
  }

  /** The next message, or null when the queue is empty (lastStatus() is Empty). */
  dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
    return hc.dequeueSharedQueue(queueId);
  }

  // ---- HTTP calls ----

  /**
   * Calls cluster `upstream` over HTTP. `headers` need :method, :path and :authority. Returns the token
   * passed to this context's onHttpCallResponse, or 0 when the host refused (lastStatus() says why:
   * BadArgument for missing pseudo-headers, NotFound or BadArgument for an unknown cluster).
   */
  dispatchHttpCall(
    upstream: string,
    headers: Header[],
    body: ArrayBuffer | null,
    trailers: Header[],
    timeoutMilliseconds: u32,
  ): u32 {
    const token = hc.httpCall(upstream, headers, body, trailers, timeoutMilliseconds);
    if (token != 0) trackCallout(token, this.contextId, CALLOUT_HTTP);
    return token;
  }

  /** Response headers of the call being answered (valid in onHttpCallResponse). */
  getHttpCallResponseHeaders(): Header[] {
    return hc.getMapPairs(MapType.HttpCallResponseHeaders);
  }
  getHttpCallResponseHeadersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpCallResponseHeaders);
  }
  getHttpCallResponseHeader(name: string): string | null {
    return hc.getMapValue(MapType.HttpCallResponseHeaders, name);
  }
  getHttpCallResponseHeaderBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpCallResponseHeaders, name);
  }
  /** Up to `maxSize` bytes of the call's response body from `start` (valid in onHttpCallResponse). */
  getHttpCallResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.HttpCallResponseBody, start, maxSize);
  }
  getHttpCallResponseTrailers(): Header[] {
    return hc.getMapPairs(MapType.HttpCallResponseTrailers);
  }
  getHttpCallResponseTrailersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpCallResponseTrailers);
  }
  getHttpCallResponseTrailer(name: string): string | null {
    return hc.getMapValue(MapType.HttpCallResponseTrailers, name);
  }
  getHttpCallResponseTrailerBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpCallResponseTrailers, name);
  }

  // ---- gRPC ----

  /** Unary gRPC call; the token passed to onGrpcCallResponse, or 0 when refused. */
  dispatchGrpcCall(
    upstream: string,
    serviceName: string,
    methodName: string,
    initialMetadata: HeaderBytes[],
    message: ArrayBuffer | null,
    timeoutMilliseconds: u32,
  ): u32 {
    const token = hc.grpcCall(upstream, serviceName, methodName, initialMetadata, message, timeoutMilliseconds);
    if (token != 0) trackCallout(token, this.contextId, CALLOUT_GRPC_CALL);
    return token;
  }

  /** Opens a gRPC stream; its token, or 0 when refused. */
  openGrpcStream(upstream: string, serviceName: string, methodName: string, initialMetadata: HeaderBytes[]): u32 {
    const token = hc.grpcStream(upstream, serviceName, methodName, initialMetadata);
    if (token != 0) trackCallout(token, this.contextId, CALLOUT_GRPC_STREAM);
    return token;
  }

  sendGrpcStreamMessage(token: u32, message: ArrayBuffer | null, endStream: bool = false): Status {
    return hc.grpcSend(token, message, endStream);
  }

  /** Cancels a unary call: onGrpcCallResponse will not run for it. */
  cancelGrpcCall(token: u32): Status {
    forgetCallout(token);
    return hc.grpcCancel(token);
  }
  cancelGrpcStream(token: u32): Status {
    forgetCallout(token);
    return hc.grpcCancel(token);
  }
  /** Half-closes a stream: no more messages from us. */
  closeGrpcStream(token: u32): Status {
    return hc.grpcClose(token);
  }

  /** The response of a unary call (valid in onGrpcCallResponse). */
  getGrpcCallResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.GrpcReceiveBuffer, start, maxSize);
  }
  /** The message being delivered (valid in onGrpcStreamMessage). */
  getGrpcStreamMessage(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.GrpcReceiveBuffer, start, maxSize);
  }
  getGrpcReceiveInitialMetadata(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.GrpcReceiveInitialMetadata);
  }
  getGrpcReceiveInitialMetadataValue(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.GrpcReceiveInitialMetadata, name);
  }
  getGrpcReceiveTrailingMetadata(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.GrpcReceiveTrailingMetadata);
  }
  getGrpcReceiveTrailingMetadataValue(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.GrpcReceiveTrailingMetadata, name);
  }
  /** Code and message of the call or stream being answered (proxy_get_status); null when refused. */
  getGrpcStatus(): CallStatus | null {
    return hc.getStatus();
  }

  // ---- foreign functions ----

  /** See hostcalls.callForeignFunction: null when the host lacks the function (lastStatus()). */
  callForeignFunction(name: string, args: ArrayBuffer | null): ArrayBuffer | null {
    return hc.callForeignFunction(name, args);
  }

  /** Tells the host this context finished after onDone returned false. */
  done(): Status {
    return hc.done();
  }
}

/** One per plugin configuration (Envoy `root_id`): configuration, timers, queues, factories. */
export class RootContext extends Context {
  /** Internal: set when no root context factory matched this plugin's root_id. */
  _unmatched: bool = false;

  // ---- callbacks ----

  /** The VM started; `vmConfigurationSize` bytes of VM configuration are readable. False fails it. */
  onVmStart(vmConfigurationSize: u32): bool {
    return true;
  }

  /**
   * The plugin got its configuration (`pluginConfigurationSize` bytes; 0 when none). Return false to
   * reject it: Envoy then refuses the listener update. Also called again on every config change.
   */
  onConfigure(pluginConfigurationSize: u32): bool {
    return true;
  }

  /** Timer tick, every period set with setTickPeriod(). */
  onTick(): void {}

  /** A message is waiting on queue `queueId` that this VM registered. */
  onQueueReady(queueId: u32): void {}

  /** The host calls a plugin function; read the arguments with getForeignFunctionArguments(). */
  onForeignFunction(functionId: u32, argumentsSize: u32): void {}

  /** The HTTP context for a new stream, or null to use the factory given to setHttpContext(). */
  createHttpContext(contextId: u32): HttpContext | null {
    return null;
  }

  /** The stream context for a new TCP connection, or null to use setStreamContext()'s factory. */
  createStreamContext(contextId: u32): StreamContext | null {
    return null;
  }

  // ---- helpers ----

  /** VM configuration bytes (valid in onVmStart); empty when none was given, null when refused. */
  getVmConfiguration(): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.VmConfiguration, 0, u32.MAX_VALUE);
  }

  /** Plugin configuration bytes (valid in onConfigure); empty when none was given, null when refused. */
  getPluginConfiguration(): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.PluginConfiguration, 0, u32.MAX_VALUE);
  }

  /** Plugin configuration as text (invalid UTF-8 becomes U+FFFD); "" when none was given. */
  getPluginConfigurationString(): string {
    const b = hc.getBufferBytes(BufferType.PluginConfiguration, 0, u32.MAX_VALUE);
    return b === null ? "" : bytesToString(b);
  }

  /** Arguments of the foreign function being called (valid in onForeignFunction). */
  getForeignFunctionArguments(): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.ForeignFunctionArguments, 0, u32.MAX_VALUE);
  }

  /** Calls onTick every `millis` ms; 0 stops. */
  setTickPeriod(millis: u32): Status {
    return hc.setTickPeriodMilliseconds(millis);
  }
}

/** A context that belongs to a root context (HTTP stream or TCP connection). */
export class ChildContext extends Context {
  /** Id of the root context this stream belongs to (set by the dispatcher before any callback). */
  rootContextId: u32 = 0;

  /** The root context of this stream's plugin. */
  getRootContext(): RootContext {
    return changetype<RootContext>(contexts.get(this.rootContextId));
  }
}

/** One per HTTP stream. Header callbacks get the number of headers and whether the stream ends. */
export class HttpContext extends ChildContext {
  // ---- callbacks ----

  /** Request headers arrived (readable and writable here). Pause stops the stream until resumed. */
  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  /** Request body data; `bodySize` is all bytes buffered so far. Pause buffers until end of stream. */
  onHttpRequestBody(bodySize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  onHttpRequestTrailers(numTrailers: u32): Action {
    return Action.Continue;
  }
  /** Response headers arrived; request headers are no longer readable in Envoy. */
  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  onHttpResponseBody(bodySize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  onHttpResponseTrailers(numTrailers: u32): Action {
    return Action.Continue;
  }

  // ---- request headers (valid in request callbacks and onLog) ----

  getHttpRequestHeaders(): Header[] {
    return hc.getMapPairs(MapType.HttpRequestHeaders);
  }
  getHttpRequestHeadersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpRequestHeaders);
  }
  setHttpRequestHeaders(headers: Header[]): Status {
    return hc.setMapPairs(MapType.HttpRequestHeaders, headers);
  }
  setHttpRequestHeadersBytes(headers: HeaderBytes[]): Status {
    return hc.setMapPairsBytes(MapType.HttpRequestHeaders, headers);
  }
  /** null when missing, "" when present and empty. */
  getHttpRequestHeader(name: string): string | null {
    return hc.getMapValue(MapType.HttpRequestHeaders, name);
  }
  getHttpRequestHeaderBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpRequestHeaders, name);
  }
  addHttpRequestHeader(name: string, value: string): Status {
    return hc.addMapValue(MapType.HttpRequestHeaders, name, value);
  }
  addHttpRequestHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.addMapValueBytes(MapType.HttpRequestHeaders, name, value);
  }
  replaceHttpRequestHeader(name: string, value: string): Status {
    return hc.replaceMapValue(MapType.HttpRequestHeaders, name, value);
  }
  replaceHttpRequestHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.replaceMapValueBytes(MapType.HttpRequestHeaders, name, value);
  }
  removeHttpRequestHeader(name: string): Status {
    return hc.removeMapValue(MapType.HttpRequestHeaders, name);
  }

  // ---- request trailers (valid in onHttpRequestTrailers) ----

  getHttpRequestTrailers(): Header[] {
    return hc.getMapPairs(MapType.HttpRequestTrailers);
  }
  getHttpRequestTrailersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpRequestTrailers);
  }
  setHttpRequestTrailers(trailers: Header[]): Status {
    return hc.setMapPairs(MapType.HttpRequestTrailers, trailers);
  }
  setHttpRequestTrailersBytes(trailers: HeaderBytes[]): Status {
    return hc.setMapPairsBytes(MapType.HttpRequestTrailers, trailers);
  }
  getHttpRequestTrailer(name: string): string | null {
    return hc.getMapValue(MapType.HttpRequestTrailers, name);
  }
  getHttpRequestTrailerBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpRequestTrailers, name);
  }
  addHttpRequestTrailer(name: string, value: string): Status {
    return hc.addMapValue(MapType.HttpRequestTrailers, name, value);
  }
  addHttpRequestTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.addMapValueBytes(MapType.HttpRequestTrailers, name, value);
  }
  replaceHttpRequestTrailer(name: string, value: string): Status {
    return hc.replaceMapValue(MapType.HttpRequestTrailers, name, value);
  }
  replaceHttpRequestTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.replaceMapValueBytes(MapType.HttpRequestTrailers, name, value);
  }
  removeHttpRequestTrailer(name: string): Status {
    return hc.removeMapValue(MapType.HttpRequestTrailers, name);
  }

  // ---- response headers (valid in response callbacks and onLog) ----

  getHttpResponseHeaders(): Header[] {
    return hc.getMapPairs(MapType.HttpResponseHeaders);
  }
  getHttpResponseHeadersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpResponseHeaders);
  }
  setHttpResponseHeaders(headers: Header[]): Status {
    return hc.setMapPairs(MapType.HttpResponseHeaders, headers);
  }
  setHttpResponseHeadersBytes(headers: HeaderBytes[]): Status {
    return hc.setMapPairsBytes(MapType.HttpResponseHeaders, headers);
  }
  getHttpResponseHeader(name: string): string | null {
    return hc.getMapValue(MapType.HttpResponseHeaders, name);
  }
  getHttpResponseHeaderBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpResponseHeaders, name);
  }
  addHttpResponseHeader(name: string, value: string): Status {
    return hc.addMapValue(MapType.HttpResponseHeaders, name, value);
  }
  addHttpResponseHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.addMapValueBytes(MapType.HttpResponseHeaders, name, value);
  }
  replaceHttpResponseHeader(name: string, value: string): Status {
    return hc.replaceMapValue(MapType.HttpResponseHeaders, name, value);
  }
  replaceHttpResponseHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.replaceMapValueBytes(MapType.HttpResponseHeaders, name, value);
  }
  removeHttpResponseHeader(name: string): Status {
    return hc.removeMapValue(MapType.HttpResponseHeaders, name);
  }

  // ---- response trailers (valid in onHttpResponseTrailers) ----

  getHttpResponseTrailers(): Header[] {
    return hc.getMapPairs(MapType.HttpResponseTrailers);
  }
  getHttpResponseTrailersBytes(): HeaderBytes[] {
    return hc.getMapPairsBytes(MapType.HttpResponseTrailers);
  }
  setHttpResponseTrailers(trailers: Header[]): Status {
    return hc.setMapPairs(MapType.HttpResponseTrailers, trailers);
  }
  setHttpResponseTrailersBytes(trailers: HeaderBytes[]): Status {
    return hc.setMapPairsBytes(MapType.HttpResponseTrailers, trailers);
  }
  getHttpResponseTrailer(name: string): string | null {
    return hc.getMapValue(MapType.HttpResponseTrailers, name);
  }
  getHttpResponseTrailerBytes(name: string): ArrayBuffer | null {
    return hc.getMapValueBytes(MapType.HttpResponseTrailers, name);
  }
  addHttpResponseTrailer(name: string, value: string): Status {
    return hc.addMapValue(MapType.HttpResponseTrailers, name, value);
  }
  addHttpResponseTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.addMapValueBytes(MapType.HttpResponseTrailers, name, value);
  }
  replaceHttpResponseTrailer(name: string, value: string): Status {
    return hc.replaceMapValue(MapType.HttpResponseTrailers, name, value);
  }
  replaceHttpResponseTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.replaceMapValueBytes(MapType.HttpResponseTrailers, name, value);
  }
  removeHttpResponseTrailer(name: string): Status {
    return hc.removeMapValue(MapType.HttpResponseTrailers, name);
  }

  // ---- bodies (valid in the body callbacks) ----

  /** Up to `maxSize` bytes of the buffered request body from `start`; null when there is none. */
  getHttpRequestBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.HttpRequestBody, start, maxSize);
  }
  /** Envoy: (0, 0) prepends, (0, >= length) replaces all, start >= length appends; else BadArgument. */
  setHttpRequestBody(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpRequestBody, start, size, value);
  }
  /** Replaces the whole buffered request body. */
  replaceHttpRequestBody(value: ArrayBuffer): Status {
    return replaceBuffer(BufferType.HttpRequestBody, value);
  }
  appendHttpRequestBody(value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpRequestBody, APPEND_AT, 0, value);
  }
  prependHttpRequestBody(value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpRequestBody, 0, 0, value);
  }
  /** Bytes of request body buffered now, or -1 when there is no body buffer. */
  getHttpRequestBodySize(): i64 {
    return hc.getBufferLength(BufferType.HttpRequestBody);
  }

  getHttpResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.HttpResponseBody, start, maxSize);
  }
  setHttpResponseBody(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpResponseBody, start, size, value);
  }
  /** Replaces the whole buffered response body (remove or fix content-length in the headers first). */
  replaceHttpResponseBody(value: ArrayBuffer): Status {
    return replaceBuffer(BufferType.HttpResponseBody, value);
  }
  appendHttpResponseBody(value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpResponseBody, APPEND_AT, 0, value);
  }
  prependHttpResponseBody(value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.HttpResponseBody, 0, 0, value);
  }
  getHttpResponseBodySize(): i64 {
    return hc.getBufferLength(BufferType.HttpResponseBody);
  }

  // ---- flow control and local responses ----

  /** Resumes a request paused by returning Action.Pause. */
  resumeHttpRequest(): Status {
    return hc.continueStream(StreamType.HttpRequest);
  }
  resumeHttpResponse(): Status {
    return hc.continueStream(StreamType.HttpResponse);
  }
  /** Resets (aborts) the stream. */
  resetHttpRequest(): Status {
    return hc.closeStream(StreamType.HttpRequest);
  }
  resetHttpResponse(): Status {
    return hc.closeStream(StreamType.HttpResponse);
  }

  /**
   * Answers the request here, without the upstream: status, headers and an optional text body. Make
   * it the last host call of the callback and return Action.Pause. Valid in request callbacks, in
   * onHttpCallResponse, and in response header callbacks before anything was sent downstream.
   */
  sendHttpResponse(statusCode: u32, headers: Header[], body: string | null): Status {
    const h = serializeHeaders(headers);
    const hs = serializedSize;
    let b: usize = 0;
    let bl: usize = 0;
    if (changetype<usize>(body) != 0) {
      b = encodeToScratch(changetype<string>(body), SCRATCH_B);
      bl = encodedLength;
    }
    return <Status>abi.proxy_send_local_response(statusCode, 0, 0, b, bl, h, hs, -1);
  }

  /** sendHttpResponse with byte headers and body. */
  sendHttpResponseBytes(statusCode: u32, headers: HeaderBytes[], body: ArrayBuffer | null): Status {
    return hc.sendLocalResponseBytes(statusCode, "", body, headers, -1);
  }

  /** Answers a gRPC request here: HTTP 200 with grpc-status `status` and an optional message. */
  sendGrpcResponse(status: GrpcStatusCode, message: string | null, metadata: HeaderBytes[]): Status {
    const h = serializeHeaderBytes(metadata);
    const hs = serializedSize;
    let b: usize = 0;
    let bl: usize = 0;
    if (changetype<usize>(message) != 0) {
      b = encodeToScratch(changetype<string>(message), SCRATCH_B);
      bl = encodedLength;
    }
    return <Status>abi.proxy_send_local_response(200, 0, 0, b, bl, h, hs, <i32>status);
  }

  // ---- request conveniences (pseudo-headers; "" when absent: use getHttpRequestHeader to tell) ----

  /** The request's :authority (host), or "" when absent. Valid where request headers are. */
  host(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":authority");
  }
  /** The request's :path, or "". */
  path(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":path");
  }
  /** The request's :method, or "". */
  method(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":method");
  }
  /** The request's :scheme, or "". */
  scheme(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":scheme");
  }
}

/** Drops a cancelled call from the SDK's callout table: the host never answers it, so nothing else would. */
function forgetCallout(token: u32): void {
  const lookup = calloutLookup;
  if (lookup !== null) lookup(token, true);
}

// Appends go to a start past any buffer's end; i32 max is read the same by hosts that take it signed.
const APPEND_AT: u32 = <u32>i32.MAX_VALUE;

function replaceBuffer(type: BufferType, value: ArrayBuffer): Status {
  const len = hc.getBufferLength(type);
  if (len < 0) return hc.lastStatus();
  return hc.setBufferBytes(type, 0, <u32>len, value);
}

/** One per TCP connection (Envoy network filter). */
export class StreamContext extends ChildContext {
  // ---- callbacks ----

  onNewConnection(): Action {
    return Action.Continue;
  }
  /** Data from the client; `dataSize` bytes are buffered. */
  onDownstreamData(dataSize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  /** Data from the server. */
  onUpstreamData(dataSize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  onDownstreamClose(peerType: PeerType): void {}
  onUpstreamClose(peerType: PeerType): void {}

  // ---- data (valid in the matching data callback) ----

  getDownstreamData(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.DownstreamData, start, maxSize);
  }
  setDownstreamData(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.DownstreamData, start, size, value);
  }
  getUpstreamData(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBufferBytes(BufferType.UpstreamData, start, maxSize);
  }
  setUpstreamData(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBufferBytes(BufferType.UpstreamData, start, size, value);
  }

  resumeDownstream(): Status {
    return hc.continueStream(StreamType.Downstream);
  }
  /** Envoy answers Unimplemented: an upstream pause cannot be resumed from the filter. */
  resumeUpstream(): Status {
    return hc.continueStream(StreamType.Upstream);
  }
  closeDownstream(): Status {
    return hc.closeStream(StreamType.Downstream);
  }
  closeUpstream(): Status {
    return hc.closeStream(StreamType.Upstream);
  }
}
