// The client side of an HTTP exchange, HTTP/1.1 (node:http) or HTTP/2 (node:http2's compatibility
// API): the request as Envoy's header list, and writing the response (with trailers) back.
import { randomUUID } from "node:crypto";
import type http from "node:http";
import type http2 from "node:http2";
import { requestPairs } from "../../run/exchange.js";
import { HOP_BY_HOP, isValidHeaderName, isValidHeaderValue } from "../../run/wire.js";
import type { Pair } from "./pairs.js";

export type DownstreamRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type DownstreamResponse = http.ServerResponse | http2.Http2ServerResponse;

export function isH2(req: DownstreamRequest): req is http2.Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** The request headers a filter sees: pseudo-headers first, connection headers gone, x-request-id added. */
export function downstreamPairs(req: DownstreamRequest): Pair[] {
  if (!isH2(req)) {
    return requestPairs(req as http.IncomingMessage).map(([k, v]) => [
      typeof k === "string" ? k : k.toString("latin1"),
      typeof v === "string" ? v : v.toString("latin1"),
    ]);
  }
  const pseudo: Pair[] = [];
  const rest: Pair[] = [];
  const raw = req.rawHeaders;
  let hasProto = false;
  let hasId = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    const v = raw[i + 1];
    if (k.startsWith(":")) pseudo.push([k, v]);
    else {
      if (k === "x-forwarded-proto") hasProto = true;
      if (k === "x-request-id") hasId = true;
      rest.push([k, v]);
    }
  }
  const order = [":authority", ":path", ":method", ":scheme"];
  pseudo.sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
  if (!hasProto) rest.push(["x-forwarded-proto", "http"]);
  if (!hasId) rest.push(["x-request-id", randomUUID()]);
  return [...pseudo, ...rest];
}

/** True when the request has no body (the headers end the stream). */
export function requestEndsWithHeaders(req: DownstreamRequest): boolean {
  if (isH2(req)) return req.stream.endAfterHeaders;
  const h = (req as http.IncomingMessage).headers;
  return h["transfer-encoding"] === undefined && (h["content-length"] === undefined || h["content-length"] === "0");
}

export function trailerPairs(req: DownstreamRequest): Pair[] {
  const raw = req.rawTrailers;
  const out: Pair[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

/** Header object for Node's writeHead / addTrailers: no pseudo or connection headers, nothing Node would throw on. */
export function toNodeHeaders(pairs: readonly Pair[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k.startsWith(":") || HOP_BY_HOP.has(k) || !isValidHeaderName(k) || !isValidHeaderValue(v)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}
