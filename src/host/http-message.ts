// One direction (request or response) of an HTTP stream as the host keeps it: headers, body
// forwarded and held, trailers, where iteration stopped, and which parts the guest can reach now.
import { BufferType, MapType } from "../abi.js";
import { byteStringToBuffer, lowerAscii, toByteString } from "./bytes.js";
import { HeaderMap } from "./headers.js";
import type { BufferSlot } from "./types.js";

export const EMPTY = Buffer.alloc(0);

/** Which stream callback is running (or "log" / "done" once the stream ends). */
export type Phase =
  | "none"
  | "request_headers"
  | "request_body"
  | "request_trailers"
  | "response_headers"
  | "response_body"
  | "response_trailers"
  | "log"
  | "done";

export class Direction {
  headers: HeaderMap | null = null;
  trailers: HeaderMap | null = null;
  /** Body already passed on by the filter. */
  forwarded: Buffer[] = [];
  forwardedLength = 0;
  /** Body the filter holds (the current chunk, or all chunks since it paused on body). */
  held: BufferSlot = { data: EMPTY, mutable: true };
  headersLive = false;
  bodyLive = false;
  trailersLive = false;
  /** Where iteration stopped (the guest returned PAUSE or sent a local response), if it did. */
  stoppedAt: null | "headers" | "body" | "trailers" = null;
  pendingBody: Buffer[] = [];
  pendingEos = false;
  pendingTrailers: HeaderMap | null = null;
  headersSeen = false;
  headersForwarded = false;
  endSeen = false;
  /** Keep forwarded chunks for `body` (an embedder that streams them on can turn this off). */
  retain = true;
  /** HttpStream.onPass was told this direction ended. */
  passedEnd = false;

  /** Passes the held data on; returns it. */
  forward(): Buffer {
    const out = this.held.data;
    if (out.length > 0) {
      if (this.retain) this.forwarded.push(out);
      this.forwardedLength += out.length;
    }
    this.held = { data: EMPTY, mutable: true };
    return out;
  }

  /**
   * What a local reply (or the 503 of a failed stream) leaves of this direction: its headers and
   * body, ended, with nothing of upstream pending.
   */
  replaceWith(headers: HeaderMap, body: Buffer): void {
    this.headers = headers;
    this.held = { data: body, mutable: true };
    this.forwarded = [];
    this.forwardedLength = 0;
    this.pendingBody = [];
    this.pendingTrailers = null;
    this.trailers = null;
    this.endSeen = true;
  }

  body(): Buffer {
    if (this.held.data.length === 0) return this.forwarded.length === 1 ? this.forwarded[0] : Buffer.concat(this.forwarded);
    return Buffer.concat([...this.forwarded, this.held.data]);
  }
}

/** Read access to one direction of the stream, after the guest's mutations. */
export class HttpMessageView {
  constructor(private readonly d: Direction) {}

  /** Header entries in order, names lower-case, decoded as UTF-8. */
  get headers(): Array<[string, string]> {
    return this.d.headers ? this.d.headers.toPairs() : [];
  }

  /** First value of a header (name is case-insensitive), decoded as UTF-8. */
  header(name: string): string | undefined {
    const v = this.d.headers?.get(lowerAscii(toByteString(name)));
    return v === undefined ? undefined : byteStringToBuffer(v).toString("utf8");
  }

  /** Every value of a header. */
  headerValues(name: string): string[] {
    return (this.d.headers?.getAll(lowerAscii(toByteString(name))) ?? []).map((v) => byteStringToBuffer(v).toString("utf8"));
  }

  /** First value of a header as exact bytes. */
  headerBytes(name: string | Uint8Array): Buffer | undefined {
    const v = this.d.headers?.get(lowerAscii(toByteString(name)));
    return v === undefined ? undefined : byteStringToBuffer(v);
  }

  /** Header entries as exact bytes. */
  get headerPairsBytes(): Array<[Buffer, Buffer]> {
    return this.d.headers ? this.d.headers.toBytePairs() : [];
  }

  /** Trailer entries as exact bytes. */
  get trailerPairsBytes(): Array<[Buffer, Buffer]> {
    return this.d.trailers ? this.d.trailers.toBytePairs() : [];
  }

  get trailers(): Array<[string, string]> {
    return this.d.trailers ? this.d.trailers.toPairs() : [];
  }

  trailer(name: string): string | undefined {
    const v = this.d.trailers?.get(lowerAscii(toByteString(name)));
    return v === undefined ? undefined : byteStringToBuffer(v).toString("utf8");
  }

  /** The body: everything the filter passed on plus what it still holds. */
  get body(): Buffer {
    return this.d.body();
  }

  /** Only what the filter passed on (CONTINUE) so far. */
  get forwardedBody(): Buffer {
    return Buffer.concat(this.d.forwarded);
  }

  /** Whether this direction is stopped in the filter (PAUSE, local response or failure). */
  get paused(): boolean {
    return this.d.stoppedAt !== null;
  }
}

/**
 * The map of a stream map type as Envoy keeps it in `phase` (strictLifetimes: a headers map during
 * its own callback and until the stream continues, trailers likewise; request and response headers
 * and response trailers again in proxy_on_log), or null when it is not reachable now.
 */
export function streamMap(req: Direction, resp: Direction, phase: Phase, strict: boolean, type: number, write: boolean): HeaderMap | null {
  const log = phase === "log";
  switch (type) {
    case MapType.HttpRequestHeaders:
      if (log) return write && strict ? null : req.headers;
      return !strict || req.headersLive ? req.headers : null;
    case MapType.HttpResponseHeaders:
      if (log) return write && strict ? null : resp.headers;
      return !strict || resp.headersLive ? resp.headers : null;
    case MapType.HttpRequestTrailers:
      if (log) return strict ? null : req.trailers;
      return trailersMap(req, phase === "request_body", strict, write);
    case MapType.HttpResponseTrailers:
      if (log) return write && strict ? null : resp.trailers;
      return trailersMap(resp, phase === "response_body", strict, write);
    default:
      return null;
  }
}

function trailersMap(d: Direction, inBodyCallback: boolean, strict: boolean, write: boolean): HeaderMap | null {
  // Envoy adds trailers when asked for a mutable map in the last body callback
  // (addDecodedTrailers / addEncodedTrailers).
  if (write && d.trailers === null && inBodyCallback && d.endSeen) {
    d.trailers = new HeaderMap();
    d.trailersLive = true;
    return d.trailers;
  }
  return !strict || d.trailersLive ? d.trailers : null;
}

/** The body buffer of a stream buffer type: the held chunk while reachable, else empty and read-only. */
export function streamBuffer(req: Direction, resp: Direction, strict: boolean, type: number): BufferSlot {
  if (type === BufferType.HttpRequestBody) {
    return !strict || req.bodyLive ? req.held : { data: EMPTY, mutable: false };
  }
  if (type === BufferType.HttpResponseBody) {
    return !strict || resp.bodyLive ? resp.held : { data: EMPTY, mutable: false };
  }
  return { data: EMPTY, mutable: false };
}
