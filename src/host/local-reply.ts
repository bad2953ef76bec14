// A local reply's headers and body as Envoy sends them (source/common/http/utility.cc
// prepareLocalReply and encodeLocalReply), for the harness and run alike:
// - `:status`, then the filter's headers in its order, then content-length / content-type;
// - a body: content-length is Envoy's own (the filter's value is replaced) and content-type
//   text/plain is added only when the filter set none; no body: both are removed;
// - a HEAD request: the same headers, no body;
// - a gRPC request (content-type application/grpc...): a trailers-only reply, `:status 200`,
//   content-type application/grpc, grpc-status from the filter's code (0..16) or mapped from the
//   HTTP status (Grpc::Utility::httpToGrpcStatus), the body percent-encoded as grpc-message, no body.
import { HeaderMap } from "./headers.js";

/** Envoy's Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

/** Envoy's PercentEncoding::encode for grpc-message: bytes below ' ', from '~' up, and '%' become %XX. */
export function percentEncodeGrpcMessage(body: Buffer): string {
  let out = "";
  for (const b of body)
    out += b < 0x20 || b >= 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b);
  return out;
}

/** Envoy's isGrpcRequestHeaders: content-type application/grpc, or application/grpc+... / ;... */
export function isGrpcRequest(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const ct = contentType.toLowerCase();
  return ct === "application/grpc" || ct.startsWith("application/grpc+") || ct.startsWith("application/grpc;");
}

/** Sets the first entry of `key` in place (Envoy's inline header setters keep the position), or adds it. */
function setInPlace(map: HeaderMap, key: string, value: string): void {
  const i = map.keys.indexOf(key);
  if (i < 0) {
    map.add(key, value);
    return;
  }
  map.values[i] = value;
  for (let j = map.keys.length - 1; j > i; j--) {
    if (map.keys[j] === key) {
      map.keys.splice(j, 1);
      map.values.splice(j, 1);
    }
  }
}

export interface PreparedLocalReply {
  headers: HeaderMap;
  /** What follows the headers: empty for HEAD, gRPC and body-less replies (end of stream on the headers). */
  body: Buffer;
}

/**
 * The reply Envoy encodes for sendLocalReply(status, body, filter headers, grpcStatus) on a request
 * with the given content-type and method. `grpcStatus` outside 0..16 means "not set" (the SDKs pass -1).
 */
export function prepareLocalReply(
  status: number,
  filterHeaders: HeaderMap,
  body: Buffer,
  grpcStatus: number,
  request: { contentType: string | undefined; method: string | undefined },
): PreparedLocalReply {
  const headers = new HeaderMap();
  headers.add(":status", String(status));
  for (let i = 0; i < filterHeaders.keys.length; i++) headers.add(filterHeaders.keys[i], filterHeaders.values[i]);
  const head = request.method === "HEAD";
  if (isGrpcRequest(request.contentType)) {
    setInPlace(headers, ":status", "200");
    setInPlace(headers, "content-type", "application/grpc");
    if (headers.get("grpc-status") === undefined) {
      headers.add("grpc-status", String(grpcStatus >= 0 && grpcStatus <= 16 ? grpcStatus : httpToGrpcStatus(status)));
    }
    if (body.length > 0 && !head) setInPlace(headers, "grpc-message", percentEncodeGrpcMessage(body));
    headers.remove("content-length");
    return { headers, body: Buffer.alloc(0) };
  }
  if (body.length > 0) {
    setInPlace(headers, "content-length", String(body.length));
    if (headers.get("content-type") === undefined) headers.add("content-type", "text/plain");
  } else {
    headers.remove("content-length");
    headers.remove("content-type");
  }
  return { headers, body: head ? Buffer.alloc(0) : body };
}
