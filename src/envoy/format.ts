// Envoy's substitution format strings (access logs, header values): %REQ(X?Y):N%, %RESP(...)%,
// %RESPONSE_CODE%, %START_TIME% ... An operator this reader does not know is refused at start-up.
import { UserError } from "../errors.js";
import type { Node } from "./config/fields.js";

/** What a format string can read about one request. */
export interface FormatContext {
  req(name: string): string | undefined;
  resp(name: string): string | undefined;
  trailer?(name: string): string | undefined;
  status: number;
  flags: string;
  details: string;
  startTime: Date;
  protocol: string;
  bytesReceived: number;
  bytesSent: number;
  durationMs: number;
  upstreamHost: string;
  cluster: string;
  routeName: string;
  remoteAddress: string;
  localAddress: string;
  filterState(key: string): string | undefined;
}

type Piece = string | ((c: FormatContext) => string | undefined);

const SIMPLE: Record<string, (c: FormatContext) => string | undefined> = {
  RESPONSE_CODE: (c) => String(c.status),
  RESPONSE_FLAGS: (c) => c.flags || undefined,
  RESPONSE_CODE_DETAILS: (c) => c.details || undefined,
  START_TIME: (c) => c.startTime.toISOString(),
  PROTOCOL: (c) => c.protocol,
  BYTES_RECEIVED: (c) => String(c.bytesReceived),
  BYTES_SENT: (c) => String(c.bytesSent),
  DURATION: (c) => String(Math.round(c.durationMs)),
  UPSTREAM_HOST: (c) => c.upstreamHost || undefined,
  UPSTREAM_CLUSTER: (c) => c.cluster || undefined,
  ROUTE_NAME: (c) => c.routeName || undefined,
  DOWNSTREAM_REMOTE_ADDRESS: (c) => c.remoteAddress,
  DOWNSTREAM_LOCAL_ADDRESS: (c) => c.localAddress,
};

function headerOp(arg: string, get: (c: FormatContext, name: string) => string | undefined): (c: FormatContext) => string | undefined {
  const [main, alt] = arg.toLowerCase().split("?");
  return (c) => get(c, main) ?? (alt !== undefined ? get(c, alt) : undefined);
}

/** Compiles a format string; throws a one-line error naming `where` for an unknown operator. */
export function compileFormat(text: string, where: string): Piece[] {
  const pieces: Piece[] = [];
  let i = 0;
  let literal = "";
  while (i < text.length) {
    const ch = text[i];
    if (ch !== "%") {
      literal += ch;
      i++;
      continue;
    }
    if (text[i + 1] === "%") {
      literal += "%";
      i += 2;
      continue;
    }
    const end = text.indexOf("%", i + 1);
    if (end < 0)
      throw new UserError(`${where}: unterminated %-operator at ${JSON.stringify(text.slice(i, i + 20))}; write %% for a literal %`);
    const op = text.slice(i + 1, end);
    i = end + 1;
    const m = /^([A-Z_]+)(?:\(([^)]*)\))?(?::(\d+))?$/.exec(op);
    if (!m) throw new UserError(`${where}: ${JSON.stringify("%" + op + "%")} is not a format operator`);
    const [, name, arg, maxLen] = m;
    let fn: ((c: FormatContext) => string | undefined) | undefined;
    if (name === "REQ" && arg) fn = headerOp(arg, (c, h) => c.req(h));
    else if (name === "RESP" && arg) fn = headerOp(arg, (c, h) => c.resp(h));
    else if (name === "TRAILER" && arg) fn = headerOp(arg, (c, h) => c.trailer?.(h));
    else if (name === "FILTER_STATE" && arg) {
      const [key, mode] = arg.split(":");
      if (mode !== undefined && mode !== "PLAIN")
        throw new UserError(`${where}: %FILTER_STATE(${arg})% is not supported: use %FILTER_STATE(KEY:PLAIN)%`);
      fn = (c) => c.filterState(key);
    } else if (arg === undefined) fn = SIMPLE[name];
    if (!fn)
      throw new UserError(`${where}: %${op}% is not supported by proxy-wasm-as envoy (see docs/envoy.md for the operators it knows)`);
    if (literal) pieces.push(literal), (literal = "");
    const limit = maxLen ? Number(maxLen) : 0;
    const f = fn;
    pieces.push(limit ? (c) => f(c)?.slice(0, limit) : f);
  }
  if (literal) pieces.push(literal);
  return pieces;
}

/** Checks a format string while reading the configuration. */
export function checkFormat(where: Node | string, text: string, _what: string): void {
  compileFormat(text, typeof where === "string" ? where : where.path);
}

/** Access-log rendering: a missing value prints "-". */
export function renderLog(pieces: Piece[], c: FormatContext): string {
  let s = "";
  for (const p of pieces) s += typeof p === "string" ? p : (p(c) ?? "-");
  return s;
}

/** Header-value rendering: a missing value is empty (and an empty header is then not added). */
export function renderHeader(pieces: Piece[], c: FormatContext): string {
  let s = "";
  for (const p of pieces) s += typeof p === "string" ? p : (p(c) ?? "");
  return s;
}
