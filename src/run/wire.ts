// HTTP/1.1 details shared by the proxy and its callouts: which headers are per-connection, which
// bytes Node accepts in a header, Envoy's texts for its own replies, Envoy's view of a request's headers.
import { randomUUID } from "node:crypto";
import type http from "node:http";

/**
 * Connection-level headers: Envoy's HTTP/1 codec and connection manager consume them
 * (ConnectionManagerUtility::mutateRequestHeaders removes them before the filters run), so filters
 * never see them and they are never forwarded.
 */
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "http2-settings"]);

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** An RFC 9110 token (what Node accepts as a header name). */
export function isValidHeaderName(name: string): boolean {
  return TOKEN.test(name);
}

/** A field value Node will write: no CR, LF, NUL or other control bytes (tab is fine). */
export function isValidHeaderValue(value: string): boolean {
  return !BAD_VALUE.test(value);
}

/** UTF-8 text -> the latin1 string whose bytes are that UTF-8 (what Node writes byte for byte). */
export function textToLatin1(s: string): string {
  return /^[\x00-\x7f]*$/.test(s) ? s : Buffer.from(s, "utf8").toString("latin1");
}

/** Envoy's body for a connection that failed before the response headers. */
export function envoyConnectFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (
    code === "ECONNREFUSED" ||
    code === "EHOSTUNREACH" ||
    code === "ENETUNREACH" ||
    code === "ENOTFOUND" ||
    code === "EAI_AGAIN" ||
    code === "ETIMEDOUT"
  ) {
    const why =
      code === "ECONNREFUSED"
        ? "Connection refused"
        : code === "ENOTFOUND" || code === "EAI_AGAIN"
          ? "the host name did not resolve"
          : err.message;
    return `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: ${why}`;
  }
  if (code === "ECONNRESET" || code === "EPIPE") {
    return "upstream connect error or disconnect/reset before headers. reset reason: connection termination";
  }
  if (code.startsWith("ERR_TLS") || code.includes("CERT") || /ssl|tls/i.test(err.message)) {
    return `upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: TLS error: ${err.message}`;
  }
  return `upstream connect error or disconnect/reset before headers. reset reason: ${err.message}`;
}

/** "ip:port" the way Envoy prints addresses (IPv6 in brackets). */
export function formatAddress(ip: string | undefined, port: number | undefined): string {
  const a = ip ?? "";
  const host = a.includes(":") && !a.startsWith("::ffff:") ? `[${a}]` : a.startsWith("::ffff:") ? a.slice(7) : a;
  return `${host}:${port ?? 0}`;
}

/** A header as it goes into the host: text when ASCII, exact bytes otherwise. */
export type Pair = [string | Buffer, string | Buffer];

const ASCII = /^[\x00-\x7f]*$/;

/** Envoy's view of an HTTP/1.1 request: pseudo-headers first, connection headers gone, its own headers added. */
/** Connection tokens that are not header names (Envoy's sanitizeConnectionHeader skips them). */
const CONNECTION_OPTIONS = new Set(["close", "keep-alive", "upgrade", "http2-settings"]);

/**
 * The headers a request's Connection header nominates as hop-by-hop, which Envoy removes before any
 * filter (Utility::sanitizeConnectionHeader), or null when Envoy refuses the request (400): ten or
 * more tokens, or a nominated X-Forwarded-For/-Host/-Proto or pseudo-header. `te` stays when it
 * says `trailers`.
 */
export function nominatedHeaders(req: http.IncomingMessage): Set<string> | null {
  const out = new Set<string>();
  const connection = req.headers.connection;
  if (connection === undefined) return out;
  const tokens = connection
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== "");
  if (tokens.length >= 10) return null;
  for (const t of tokens) {
    if (CONNECTION_OPTIONS.has(t) || t === "connection") continue;
    if (t === "x-forwarded-for" || t === "x-forwarded-host" || t === "x-forwarded-proto" || t.startsWith(":")) return null;
    if (t === "te" && /(^|,)\s*trailers\s*(,|$)/i.test(String(req.headers.te ?? ""))) continue;
    out.add(t);
  }
  return out;
}

export function requestPairs(req: http.IncomingMessage): Pair[] {
  let path = req.url ?? "/";
  let authority = req.headers.host ?? "";
  if (/^https?:\/\//i.test(path)) {
    // Absolute-form request line (a client using us as a forward proxy): Envoy splits it.
    try {
      const u = new URL(path);
      authority = u.host;
      path = u.pathname + u.search;
    } catch {
      // leave it as it is; the filter sees what came in
    }
  }
  const pairs: Pair[] = [
    [":authority", latin1(authority)],
    [":path", latin1(path)],
    [":method", req.method ?? "GET"],
    [":scheme", "http"],
  ];
  let hasProto = false;
  let hasId = false;
  const raw = req.rawHeaders;
  const nominated = nominatedHeaders(req) ?? new Set();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    const v = raw[i + 1];
    if (k === "host" || HOP_BY_HOP.has(k) || nominated.has(k)) continue;
    // Envoy answers 100-continue itself and removes the header (proxy_100_continue: false).
    if (k === "expect" && v.toLowerCase() === "100-continue") continue;
    if (k === "te" && v.toLowerCase() !== "trailers") continue;
    if (k === "x-forwarded-proto") hasProto = true;
    if (k === "x-request-id") hasId = true;
    pairs.push([latin1(k), latin1(v)]);
  }
  if (!hasProto) pairs.push(["x-forwarded-proto", "http"]);
  if (!hasId) pairs.push(["x-request-id", randomUUID()]);
  return pairs;
}

/** Node's raw header list as pairs, names lower-cased. */
export function rawPairs(raw: string[]): Pair[] {
  const out: Pair[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([latin1(raw[i].toLowerCase()), latin1(raw[i + 1])]);
  return out;
}

/** Node decodes header bytes as latin1; the host reads strings as UTF-8, so non-ASCII goes as bytes. */
function latin1(s: string): string | Buffer {
  return ASCII.test(s) ? s : Buffer.from(s, "latin1");
}
