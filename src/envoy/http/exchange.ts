// One HTTP request through a connection manager's filter chain, as Envoy runs it: the request goes
// through the Wasm filters in order and then the router; the response comes back through them in
// reverse. Each filter is an HttpStream of its own plugin's host; what one filter lets go on (its
// onPass hook) is fed to the next, on a later microtask, outside any call into a VM.
import type { Socket } from "node:net";
import { LogLevel } from "../../abi.js";
import type { HttpStream } from "../../host/index.js";
import type { InstanceMember } from "../../run/instance.js";
import { formatAddress } from "../../run/wire.js";
import type { WasmPlugin } from "../plugin.js";
import {
  downstreamPairs,
  isH2,
  requestEndsWithHeaders,
  toNodeHeaders,
  trailerPairs,
  type DownstreamRequest,
  type DownstreamResponse,
} from "./downstream.js";
import { fromHost, toHost, type Pair } from "./pairs.js";
import { type Event, Router, type RouterEnv } from "./router.js";

export type { Event } from "./router.js";

export interface ExchangeEnv extends RouterEnv {
  plugins: readonly WasmPlugin[];
  /** Called once when the exchange is over (for access logs and stats). */
  finished(x: HttpExchange): void;
}

interface Slot {
  plugin: WasmPlugin;
  stream: HttpStream | null;
  member: InstanceMember;
  /** An onPass event per direction waiting to see whether "end" follows. */
  held: [Event | null, Event | null];
  localSeen: boolean;
  failureHandled: boolean;
  /** This filter's response headers went on toward the client. */
  responseStarted: boolean;
}

const EMPTY = Buffer.alloc(0);

export class HttpExchange {
  readonly started = performance.now();
  readonly startTime = new Date();
  readonly requestHeaders: Pair[];
  responseHeaders: Pair[] = [];
  status = 0;
  flags = "";
  details = "";
  bytesReceived = 0;
  bytesSent = 0;
  private readonly slots: Slot[];
  private readonly router: Router;
  private readonly queue: Array<() => void> = [];
  private pumping = false;
  private scheduled = false;
  private over = false;
  private responseEnded = false;

  constructor(
    readonly env: ExchangeEnv,
    readonly req: DownstreamRequest,
    readonly res: DownstreamResponse,
    readonly connectionId: number,
    readonly socket: Socket,
  ) {
    this.requestHeaders = downstreamPairs(req);
    this.router = new Router(env, this, (ev) => this.sendResponse(this.slots.length - 1, ev));
    this.slots = env.plugins.map((plugin, i) => ({
      plugin,
      stream: null,
      member: { check: () => this.check(i) },
      held: [null, null],
      localSeen: false,
      failureHandled: false,
      responseStarted: false,
    }));
  }

  get protocol(): string {
    return isH2(this.req) ? "HTTP/2" : `HTTP/${this.req.httpVersion}`;
  }

  get remoteAddress(): string {
    return formatAddress(this.socket.remoteAddress, this.socket.remotePort);
  }

  get localAddress(): string {
    return formatAddress(this.socket.localAddress, this.socket.localPort);
  }

  /** The filter state the filters set (for %FILTER_STATE(key:PLAIN)%). */
  filterState(key: string): string | undefined {
    return readFilterState(
      this.slots.map((s) => s.stream?.filterState),
      key,
    );
  }

  /** The request headers as the filters left them (what Envoy's access log reads). */
  get finalRequestHeaders(): Pair[] {
    if (this.router.requestSeen) return this.router.forwardedHeaders;
    for (let i = this.slots.length - 1; i >= 0; i--) {
      const s = this.slots[i].stream;
      if (s && s.request.headerPairsBytes.length > 0) return fromHost(s.request.headerPairsBytes);
    }
    return this.requestHeaders;
  }

  start(): void {
    const s = this.socket;
    const properties = {
      "source.address": this.remoteAddress,
      "source.port": s?.remotePort ?? 0,
      "destination.address": this.localAddress,
      "destination.port": s?.localPort ?? 0,
      "connection.id": this.connectionId,
      connection_id: this.connectionId,
      "request.protocol": this.protocol,
    };
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[i];
      const inst = slot.plugin.instance;
      inst.call(
        () => {
          slot.stream = inst.host.httpStream({ properties });
        },
        (e) => slot.plugin.logger.proxy(LogLevel.Warn, `cannot start a stream: ${(e as Error)?.message ?? e}`),
      );
      const stream = slot.stream as HttpStream | null;
      if (!stream) {
        if (slot.plugin.config.failOpen) continue;
        this.localReply(-1, 503, "", "wasm_fail_stream", "");
        return;
      }
      stream.retainBody = false;
      stream.onPass = (dir, what, chunk) => this.passed(i, dir, what, chunk);
      inst.exchanges.add(slot.member);
    }
    this.res.on("close", () => this.finish());
    const eos = requestEndsWithHeaders(this.req);
    this.enqueue(() => this.sendRequest(0, { what: "headers", pairs: this.requestHeaders, eos }));
    this.req.on("data", (c: Buffer) => {
      this.bytesReceived += c.length;
      this.enqueue(() => this.sendRequest(0, { what: "body", chunk: c, eos: false }));
    });
    this.req.on("end", () => {
      if (eos) return;
      const t = trailerPairs(this.req);
      this.enqueue(() => this.sendRequest(0, t.length > 0 ? { what: "trailers", pairs: t } : { what: "body", chunk: EMPTY, eos: true }));
    });
    this.req.on("error", () => undefined);
  }

  // ---------------------------------------------------------------- event queue

  private enqueue(fn: () => void): void {
    this.queue.push(fn);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.pumping) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        this.flushHeld();
        const fn = this.queue.shift();
        if (!fn) break;
        if (!this.over) fn();
      }
    } finally {
      this.pumping = false;
    }
  }

  private flushHeld(): void {
    for (let i = 0; i < this.slots.length; i++) {
      for (const dir of [0, 1] as const) {
        const ev = this.slots[i].held[dir];
        if (!ev) continue;
        this.slots[i].held[dir] = null;
        this.queue.push(dir === 0 ? () => this.sendRequest(i + 1, ev) : () => this.sendResponse(i - 1, ev));
      }
    }
  }

  /** onPass of filter i: what it lets go on, held briefly so that a following "end" joins it. */
  private passed(i: number, dir: 0 | 1, what: "headers" | "body" | "trailers" | "end", chunk?: Buffer): void {
    const slot = this.slots[i];
    const stream = slot.stream!;
    const send = (ev: Event) => this.queue.push(dir === 0 ? () => this.sendRequest(i + 1, ev) : () => this.sendResponse(i - 1, ev));
    const held = slot.held[dir];
    if (what === "end") {
      slot.held[dir] = null;
      if (held && held.what !== "trailers") send({ ...held, eos: true });
      else if (!held) send({ what: "body", chunk: EMPTY, eos: true });
      else send(held);
      this.schedule();
      return;
    }
    if (held) send(held);
    const view = dir === 0 ? stream.request : stream.response;
    if (what === "headers") {
      slot.held[dir] = { what: "headers", pairs: fromHost(view.headerPairsBytes), eos: false };
      if (dir === 1) slot.responseStarted = true;
    } else if (what === "body") slot.held[dir] = { what: "body", chunk: Buffer.from(chunk ?? EMPTY), eos: false };
    else
      slot.held[dir] = { what: "trailers", pairs: view.trailers.map(([k, v]) => [k, Buffer.from(v, "utf8").toString("latin1")] as Pair) };
    this.schedule();
  }

  // ---------------------------------------------------------------- stages

  /** Request event into stage i (a filter, or the router after the last one). */
  private sendRequest(i: number, ev: Event): void {
    if (i >= this.slots.length) {
      this.router.request(ev);
      return;
    }
    const slot = this.slots[i];
    const stream = slot.stream;
    if (!stream || stream.bypassed || slot.localSeen) {
      if (!slot.localSeen) this.sendRequest(i + 1, ev);
      return;
    }
    this.intoFilter(slot, () => {
      if (ev.what === "headers") stream.requestHeaders(toHost(ev.pairs), ev.eos);
      else if (ev.what === "body") stream.requestBody(ev.chunk, ev.eos);
      else stream.requestTrailers(toHost(ev.pairs));
    });
  }

  /** Response event into stage i (a filter, or the client before the first one). */
  private sendResponse(i: number, ev: Event): void {
    if (i < 0) {
      this.toClient(ev);
      return;
    }
    const slot = this.slots[i];
    const stream = slot.stream;
    if (!stream || stream.bypassed) {
      this.sendResponse(i - 1, ev);
      return;
    }
    this.intoFilter(slot, () => {
      if (ev.what === "headers") stream.responseHeaders(toHost(ev.pairs), ev.eos);
      else if (ev.what === "body") stream.responseBody(ev.chunk, ev.eos);
      else stream.responseTrailers(toHost(ev.pairs));
    });
  }

  private intoFilter(slot: Slot, fn: () => void): void {
    slot.plugin.instance.call(fn, (e) =>
      slot.plugin.logger.proxy(LogLevel.Error, `internal error in the filter chain: ${(e as Error)?.stack ?? e}`),
    );
  }

  /** After every call into filter i's host: resets, failures and local replies. */
  private check(i: number): void {
    if (this.over) return;
    const slot = this.slots[i];
    const stream = slot.stream;
    if (!stream) return;
    if (stream.resetReason !== null) {
      this.reset(stream.resetReason);
      return;
    }
    if (stream.failed && !stream.bypassed && !slot.failureHandled) {
      slot.failureHandled = true;
      slot.localSeen = true;
      this.router.abort();
      if (slot.responseStarted) this.reset("wasm_fail_stream");
      else this.localReply(i - 1, 503, "", "wasm_fail_stream", "");
      return;
    }
    if (stream.localResponse && !slot.localSeen) {
      slot.localSeen = true;
      this.details = stream.localResponse.details || "local_reply";
      // The request goes no further; the reply comes back through this filter's onPass.
      this.router.abort();
    }
    this.schedule();
  }

  /** A reply made by the proxy (router errors, a failed filter), sent through the filters before stage `from`+1. */
  localReply(from: number, status: number, body: string, details: string, flags: string): void {
    this.details = this.details || details;
    if (flags) this.flags = flags;
    const pairs: Pair[] = [[":status", String(status)]];
    if (body) pairs.push(["content-length", String(Buffer.byteLength(body))], ["content-type", "text/plain"]);
    this.enqueue(() => this.sendResponse(from, { what: "headers", pairs, eos: !body }));
    if (body) this.enqueue(() => this.sendResponse(from, { what: "body", chunk: Buffer.from(body), eos: true }));
  }

  /** The router's own local reply: through every filter. */
  routerReply(status: number, body: string, details: string, flags: string): void {
    if (this.responseStartedAnywhere()) {
      this.reset(details);
      return;
    }
    this.localReply(this.slots.length - 1, status, body, details, flags);
  }

  private responseStartedAnywhere(): boolean {
    return this.res.headersSent || this.slots.some((s) => s.responseStarted);
  }

  // ---------------------------------------------------------------- client side

  private toClient(ev: Event): void {
    const res = this.res;
    if (this.responseEnded || res.destroyed) return;
    try {
      if (ev.what === "headers") {
        this.status = Number(ev.pairs.find(([k]) => k === ":status")?.[1] ?? 502) || 502;
        this.responseHeaders = ev.pairs;
        const headers = toNodeHeaders(ev.pairs);
        // Envoy's connection manager sets its server name on every response, after the filters.
        headers.server = "envoy";
        res.writeHead(this.status, headers);
        if (ev.eos) this.endResponse();
      } else if (ev.what === "body") {
        if (ev.chunk.length > 0) {
          this.bytesSent += ev.chunk.length;
          (res as { write(c: Buffer): boolean }).write(ev.chunk);
        }
        if (ev.eos) this.endResponse();
      } else {
        res.addTrailers(toNodeHeaders(ev.pairs));
        this.endResponse();
      }
    } catch (e) {
      this.env.logger.proxy(LogLevel.Warn, `cannot write the response: ${(e as Error).message}`);
      this.reset("downstream_write_failed");
    }
  }

  private endResponse(): void {
    this.responseEnded = true;
    this.res.end();
  }

  private reset(reason: string): void {
    if (this.over) return;
    this.details = this.details || reason;
    this.router.abort();
    this.res.destroy();
    this.finish();
  }

  // ---------------------------------------------------------------- end

  /** The client's response is done (or the connection closed): logs, then the filters' on_log/on_done. */
  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.router.abort();
    if (!this.responseEnded && !this.details) this.details = "downstream_remote_disconnect";
    for (const slot of this.slots) {
      const inst = slot.plugin.instance;
      inst.exchanges.delete(slot.member);
      const stream = slot.stream;
      if (!stream || stream.isComplete) continue;
      stream.onPass = null;
      this.intoFilter(slot, () => stream.complete());
    }
    this.env.finished(this);
  }

  get durationMs(): number {
    return performance.now() - this.started;
  }

  get cluster(): string {
    return this.router.clusterName;
  }

  get upstreamHost(): string {
    return this.router.endpoint;
  }

  get routeName(): string {
    return this.router.routeName;
  }
}

/** Filter state a plugin set with proxy_set_property(path): Envoy names it "wasm.<path>". */
export function readFilterState(maps: ReadonlyArray<ReadonlyMap<string, unknown> | undefined>, key: string): string | undefined {
  if (!key.startsWith("wasm.")) return undefined;
  const name = key.slice(5);
  for (const m of maps) {
    const v = m?.get(name) ?? m?.get(name.replace(/\./g, "\0"));
    if (v !== undefined) return Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
  }
  return undefined;
}
