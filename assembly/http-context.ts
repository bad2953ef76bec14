// HttpContext: one per HTTP stream, mirroring the Rust SDK's `HttpContext` trait with its names in
// camelCase (set_http_request_header is setHttpRequestHeader...), plus a few conveniences (body
// append/prepend/replace, the request's pseudo-headers). Every helper is valid only in the callbacks
// its section names and follows the SDK's failure convention (docs/sdk.md, "When the host says no"):
// null or an empty array when something is missing, otherwise the host's Status; never a trap.

import * as abi from "./imports";
import * as hc from "./hostcalls";
import { ChildContext } from "./root-context";
import { Header, HeaderBytes, serializeHeaderBytes, serializeHeaders } from "./headers";
import { Action, BufferType, GrpcStatusCode, MapType, Status, StreamType } from "./types";
import { SCRATCH_B, SCRATCH_MAP, encodeForHost, encoded, scratchAt } from "./memory";
import { lenOf, ptrOf } from "./status";

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
    return hc.getMap(MapType.HttpRequestHeaders);
  }
  getHttpRequestHeadersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpRequestHeaders);
  }
  setHttpRequestHeaders(headers: Header[]): Status {
    return hc.setMap(MapType.HttpRequestHeaders, headers);
  }
  setHttpRequestHeadersBytes(headers: HeaderBytes[]): Status {
    return hc.setMapBytes(MapType.HttpRequestHeaders, headers);
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
  setHttpRequestHeader(name: string, value: string): Status {
    return hc.setMapValue(MapType.HttpRequestHeaders, name, value);
  }
  setHttpRequestHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.setMapValueBytes(MapType.HttpRequestHeaders, name, value);
  }
  removeHttpRequestHeader(name: string): Status {
    return hc.removeMapValue(MapType.HttpRequestHeaders, name);
  }

  // ---- request trailers (valid in onHttpRequestTrailers) ----

  getHttpRequestTrailers(): Header[] {
    return hc.getMap(MapType.HttpRequestTrailers);
  }
  getHttpRequestTrailersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpRequestTrailers);
  }
  setHttpRequestTrailers(trailers: Header[]): Status {
    return hc.setMap(MapType.HttpRequestTrailers, trailers);
  }
  setHttpRequestTrailersBytes(trailers: HeaderBytes[]): Status {
    return hc.setMapBytes(MapType.HttpRequestTrailers, trailers);
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
  setHttpRequestTrailer(name: string, value: string): Status {
    return hc.setMapValue(MapType.HttpRequestTrailers, name, value);
  }
  setHttpRequestTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.setMapValueBytes(MapType.HttpRequestTrailers, name, value);
  }
  removeHttpRequestTrailer(name: string): Status {
    return hc.removeMapValue(MapType.HttpRequestTrailers, name);
  }

  // ---- response headers (valid in response callbacks and onLog) ----

  getHttpResponseHeaders(): Header[] {
    return hc.getMap(MapType.HttpResponseHeaders);
  }
  getHttpResponseHeadersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpResponseHeaders);
  }
  setHttpResponseHeaders(headers: Header[]): Status {
    return hc.setMap(MapType.HttpResponseHeaders, headers);
  }
  setHttpResponseHeadersBytes(headers: HeaderBytes[]): Status {
    return hc.setMapBytes(MapType.HttpResponseHeaders, headers);
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
  setHttpResponseHeader(name: string, value: string): Status {
    return hc.setMapValue(MapType.HttpResponseHeaders, name, value);
  }
  setHttpResponseHeaderBytes(name: string, value: ArrayBuffer): Status {
    return hc.setMapValueBytes(MapType.HttpResponseHeaders, name, value);
  }
  removeHttpResponseHeader(name: string): Status {
    return hc.removeMapValue(MapType.HttpResponseHeaders, name);
  }

  // ---- response trailers (valid in onHttpResponseTrailers) ----

  getHttpResponseTrailers(): Header[] {
    return hc.getMap(MapType.HttpResponseTrailers);
  }
  getHttpResponseTrailersBytes(): HeaderBytes[] {
    return hc.getMapBytes(MapType.HttpResponseTrailers);
  }
  setHttpResponseTrailers(trailers: Header[]): Status {
    return hc.setMap(MapType.HttpResponseTrailers, trailers);
  }
  setHttpResponseTrailersBytes(trailers: HeaderBytes[]): Status {
    return hc.setMapBytes(MapType.HttpResponseTrailers, trailers);
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
  setHttpResponseTrailer(name: string, value: string): Status {
    return hc.setMapValue(MapType.HttpResponseTrailers, name, value);
  }
  setHttpResponseTrailerBytes(name: string, value: ArrayBuffer): Status {
    return hc.setMapValueBytes(MapType.HttpResponseTrailers, name, value);
  }
  removeHttpResponseTrailer(name: string): Status {
    return hc.removeMapValue(MapType.HttpResponseTrailers, name);
  }

  // ---- bodies (valid in the body callbacks) ----

  /** Up to `maxSize` bytes of the buffered request body from `start`; null when there is none. */
  getHttpRequestBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.HttpRequestBody, start, maxSize);
  }
  /** Envoy: (0, 0) prepends, (0, >= length) replaces all, start >= length appends; else BadArgument. */
  setHttpRequestBody(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpRequestBody, start, size, value);
  }
  /** Replaces the whole buffered request body. */
  replaceHttpRequestBody(value: ArrayBuffer): Status {
    return replaceBuffer(BufferType.HttpRequestBody, value);
  }
  appendHttpRequestBody(value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpRequestBody, APPEND_AT, 0, value);
  }
  prependHttpRequestBody(value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpRequestBody, 0, 0, value);
  }
  /** Bytes of request body buffered now; 0 when none (or no body buffer: lastStatus()). */
  getHttpRequestBodySize(): u32 {
    return hc.getBufferSize(BufferType.HttpRequestBody);
  }

  getHttpResponseBody(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.HttpResponseBody, start, maxSize);
  }
  setHttpResponseBody(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpResponseBody, start, size, value);
  }
  /** Replaces the whole buffered response body (remove or fix content-length in the headers first). */
  replaceHttpResponseBody(value: ArrayBuffer): Status {
    return replaceBuffer(BufferType.HttpResponseBody, value);
  }
  appendHttpResponseBody(value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpResponseBody, APPEND_AT, 0, value);
  }
  prependHttpResponseBody(value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.HttpResponseBody, 0, 0, value);
  }
  getHttpResponseBodySize(): u32 {
    return hc.getBufferSize(BufferType.HttpResponseBody);
  }

  // ---- flow control and local responses ----

  /** Resumes a request paused by returning Action.Pause. */
  resumeHttpRequest(): Status {
    return <Status>abi.proxy_continue_stream(StreamType.HttpRequest);
  }
  resumeHttpResponse(): Status {
    return <Status>abi.proxy_continue_stream(StreamType.HttpResponse);
  }
  /** Resets (aborts) the stream. */
  resetHttpRequest(): Status {
    return <Status>abi.proxy_close_stream(StreamType.HttpRequest);
  }
  resetHttpResponse(): Status {
    return <Status>abi.proxy_close_stream(StreamType.HttpResponse);
  }

  /**
   * Answers the request here, without the upstream: status, headers and an optional text body. Make
   * it the last host call of the callback and return Action.Pause. Valid in request callbacks, in
   * onHttpCallResponse, and in response header callbacks before anything was sent downstream.
   */
  sendHttpResponse(statusCode: u32, headers: Header[], body: string | null): Status {
    const hs = serializeHeaders(headers);
    let b: usize = 0;
    let bl: usize = 0;
    if (changetype<usize>(body) != 0) {
      bl = encodeForHost(changetype<string>(body), SCRATCH_B);
      b = encoded();
    }
    return <Status>abi.proxy_send_local_response(statusCode, 0, 0, b, bl, scratchAt(SCRATCH_MAP), hs, -1);
  }

  /** sendHttpResponse with byte headers and body (valid in the same callbacks). */
  sendHttpResponseBytes(statusCode: u32, headers: HeaderBytes[], body: ArrayBuffer | null): Status {
    const hs = serializeHeaderBytes(headers);
    return <Status>abi.proxy_send_local_response(statusCode, 0, 0, ptrOf(body), lenOf(body), scratchAt(SCRATCH_MAP), hs, -1);
  }

  /** Answers a gRPC request here: HTTP 200 with grpc-status `status` and an optional message. */
  sendGrpcResponse(status: GrpcStatusCode, message: string | null, metadata: HeaderBytes[]): Status {
    const hs = serializeHeaderBytes(metadata);
    let b: usize = 0;
    let bl: usize = 0;
    if (changetype<usize>(message) != 0) {
      bl = encodeForHost(changetype<string>(message), SCRATCH_B);
      b = encoded();
    }
    return <Status>abi.proxy_send_local_response(200, 0, 0, b, bl, scratchAt(SCRATCH_MAP), hs, <i32>status);
  }

  // ---- request conveniences (pseudo-headers; "" when absent: use getHttpRequestHeader to tell) ----

  /** The request's :authority (host), or "" when absent. Valid where request headers are. */
  getHttpRequestHost(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":authority");
  }
  /** The request's :path, or "". */
  getHttpRequestPath(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":path");
  }
  /** The request's :method, or "". */
  getHttpRequestMethod(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":method");
  }
  /** The request's :scheme, or "". */
  getHttpRequestScheme(): string {
    return hc.getMapValueOrEmpty(MapType.HttpRequestHeaders, ":scheme");
  }
}

// Appends go to a start past any buffer's end; i32 max is read the same by hosts that take it signed.
const APPEND_AT: u32 = <u32>i32.MAX_VALUE;

/** Replaces a whole buffer: (0, its size). Without a buffer the host refuses the write itself. */
function replaceBuffer(type: BufferType, value: ArrayBuffer): Status {
  return hc.setBuffer(type, 0, hc.getBufferSize(type), value);
}
