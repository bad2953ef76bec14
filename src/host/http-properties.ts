// Properties Envoy computes from an HTTP stream (request.*, response.*, connection.id): read from
// the stream's headers, trailers and body sizes when the guest asks, never stored.
import { lowerAscii } from "./bytes.js";
import type { HeaderMap } from "./headers.js";
import type { Direction } from "./http-message.js";
import { encodeInt64, headersProperty, type PropertyValue } from "./properties.js";
import type { SentHttpResponse } from "./types.js";

/** What the computed properties are read from. */
export interface HttpPropertySource {
  readonly req: Direction;
  readonly resp: Direction;
  readonly sentHttpResponse: SentHttpResponse | null;
  readonly startTime: Date;
  readonly connectionId: number;
}

/** A computed property by canonical key (segments joined by NUL), or undefined. */
export function httpStreamProperty(s: HttpPropertySource, key: string): PropertyValue | undefined {
  const sep = key.indexOf("\0");
  const top = sep < 0 ? key : key.slice(0, sep);
  const rest = sep < 0 ? "" : key.slice(sep + 1);
  const h = (m: HeaderMap | null, n: string) => {
    const v = m?.get(n);
    return v === undefined ? undefined : Buffer.from(v, "latin1");
  };
  if (top === "request") {
    const rh = s.req.headers;
    const [field, sub] = splitOnce(rest);
    switch (field) {
      case "path":
        return h(rh, ":path");
      case "url_path": {
        const p = rh?.get(":path");
        return p === undefined ? undefined : Buffer.from(p.split("?")[0], "latin1");
      }
      case "query": {
        const p = rh?.get(":path");
        if (p === undefined) return undefined;
        const i = p.indexOf("?");
        return Buffer.from(i < 0 ? "" : p.slice(i + 1), "latin1");
      }
      case "host":
        return h(rh, ":authority");
      case "scheme":
        return h(rh, ":scheme");
      case "method":
        return h(rh, ":method");
      case "referer":
        return h(rh, "referer");
      case "useragent":
        return h(rh, "user-agent");
      case "id":
        return h(rh, "x-request-id");
      case "protocol":
        return Buffer.from("HTTP/1.1");
      case "time":
        return encodeInt64(BigInt(s.startTime.getTime()) * 1_000_000n);
      case "headers": {
        if (!rh) return undefined;
        const m = headersProperty(rh);
        if (sub === undefined) return m;
        const v = m.get(lowerAscii(sub));
        return v === undefined ? undefined : Buffer.from(v, "latin1");
      }
      case "size":
        return s.req.endSeen ? encodeInt64(BigInt(s.req.forwardedLength + s.req.held.data.length)) : undefined;
      default:
        return undefined;
    }
  }
  if (top === "response") {
    const rh = s.resp.headers;
    const [field, sub] = splitOnce(rest);
    switch (field) {
      case "code": {
        const st = rh?.get(":status");
        return st === undefined ? undefined : encodeInt64(BigInt(parseInt(st, 10) || 0));
      }
      case "code_details":
        return s.sentHttpResponse ? Buffer.from(s.sentHttpResponse.details) : rh ? Buffer.from("via_upstream") : undefined;
      case "headers":
      case "trailers": {
        const src = field === "headers" ? rh : s.resp.trailers;
        if (!src) return undefined;
        const m = headersProperty(src);
        if (sub === undefined) return m;
        const v = m.get(lowerAscii(sub));
        return v === undefined ? undefined : Buffer.from(v, "latin1");
      }
      case "grpc_status": {
        const g = s.resp.trailers?.get("grpc-status") ?? rh?.get("grpc-status");
        return g === undefined ? undefined : encodeInt64(BigInt(parseInt(g, 10) || 0));
      }
      case "size":
        return s.resp.endSeen ? encodeInt64(BigInt(s.resp.forwardedLength + s.resp.held.data.length)) : undefined;
      default:
        return undefined;
    }
  }
  if (key === "connection\0id" || key === "connection_id") return encodeInt64(BigInt(s.connectionId));
  return undefined;
}

function splitOnce(s: string): [string, string | undefined] {
  const i = s.indexOf("\0");
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}
