// An HTTP stream through the plugin, driven the way Envoy's HTTP filter (envoy
// source/extensions/common/wasm/context.cc decodeHeaders/decodeData/...) drives a proxy-wasm
// context:
// - PAUSE from a headers callback stops the direction (StopAllIterationAndWatermark): later body
//   chunks and trailers are held by the host and delivered (body chunks merged) once the guest
//   calls proxy_continue_stream;
// - PAUSE from a body callback buffers: the next body callback sees everything buffered so far;
// - CONTINUE forwards what the filter held; `request.body` is everything forwarded plus held;
// - proxy_send_local_response ends the callback's iteration and the request; the local reply then
//   passes through this filter's response callbacks, as Envoy sends it through the encoder chain;
// - maps are reachable only while Envoy keeps them (strictLifetimes): a headers map during its own
//   callback and until the stream continues, trailers likewise; request and response headers and
//   response trailers again in proxy_on_log.
import { Action, Status, StreamType } from "../abi.js";
import { toBuffer, type Bytesish } from "./bytes.js";
import { HeaderMap, type PairsInput } from "./headers.js";
import { Direction, EMPTY, HttpMessageView, streamBuffer, streamMap, type Phase } from "./http-message.js";
import { httpStreamProperty } from "./http-properties.js";
import { encodeProperty, lookupIn, propertyBytes, propertyPath, type PropertyInput, type PropertyValue } from "./properties.js";
import { SentHttpResponse, type BufferSlot, type StreamContext, type StreamHandler } from "./types.js";
import type { Vm } from "./vm.js";
import { prepareLocalReply, type PreparedLocalReply } from "./local-reply.js";

/** What a stream needs from its host. */
export interface StreamEnv {
  readonly failurePolicy: "fail-closed" | "fail-open";
  readonly strictLifetimes: boolean;
  log(level: number, message: string, contextId: number, vm: number): void;
  /** Host-level property lookup for a stream context. */
  hostProperty(key: string, ctx: StreamContext): PropertyValue | undefined;
  /** Called when the stream's context is gone (completed). */
  release(id: number): void;
}

export interface HttpStreamOptions {
  /** Per-stream properties (override the host's), keys like "source.address". */
  properties?: Record<string, PropertyInput>;
}

export class HttpStream implements StreamHandler {
  readonly protocol = "http";
  readonly request: HttpMessageView;
  readonly response: HttpMessageView;
  /** The HTTP response the filter sent itself (sendHttpResponse), or the 503 of a failure; null when none. */
  sentHttpResponse: SentHttpResponse | null = null;
  /** @deprecated Old name of sentHttpResponse, kept only until the init template and src/envoy use the new one. */
  get localResponse(): SentHttpResponse | null {
    return this.sentHttpResponse;
  }
  /** Set when the stream was reset (proxy_close_stream, or a local reply after response headers were sent). */
  resetReason: string | null = null;
  /** True when the filter was bypassed because the VM failed under fail-open. */
  bypassed = false;
  /** Actions the guest returned, in order, as [callback, action]. */
  readonly actions: Array<[string, number]> = [];
  /**
   * Embedder hook (the local proxy forwards with it): told what the filter lets go on, per
   * direction (0 request, 1 response), in order: "headers", "body" chunks, "trailers" (if any),
   * "end". Data the filter still holds is not reported. Do not call into the stream from it.
   */
  onPass: ((dir: 0 | 1, what: "headers" | "body" | "trailers" | "end", chunk?: Buffer) => void) | null = null;
  /** @internal */ readonly req = new Direction();
  /** @internal */ readonly resp = new Direction();
  private phase: Phase = "none";
  private completed = false;
  private ended = false;
  private failedStream = false;
  private deliveringLocal = false;
  readonly filterState = new Map<string, PropertyValue>();
  readonly overrides = new Map<string, PropertyValue>();
  readonly startTime = new Date();

  constructor(
    readonly vm: Vm,
    readonly ctx: StreamContext,
    private readonly env: StreamEnv,
    readonly connectionId: number,
  ) {
    this.request = new HttpMessageView(this.req);
    this.response = new HttpMessageView(this.resp);
  }

  get id(): number {
    return this.ctx.id;
  }

  /** The VM this stream runs on failed (trap, proc_exit...) */
  get failed(): boolean {
    return this.vm.failed;
  }

  // ------------------------------------------------------------ driver API

  requestHeaders(pairs: PairsInput, endOfStream = false): number {
    return this.headersIn(this.req, 0, pairs, endOfStream);
  }

  requestBody(chunk: Bytesish, endOfStream: boolean): number {
    return this.bodyIn(this.req, 0, toBuffer(chunk), endOfStream);
  }

  requestTrailers(pairs: PairsInput): number {
    return this.trailersIn(this.req, 0, pairs);
  }

  responseHeaders(pairs: PairsInput, endOfStream = false): number {
    return this.headersIn(this.resp, 1, pairs, endOfStream);
  }

  responseBody(chunk: Bytesish, endOfStream: boolean): number {
    return this.bodyIn(this.resp, 1, toBuffer(chunk), endOfStream);
  }

  responseTrailers(pairs: PairsInput): number {
    return this.trailersIn(this.resp, 1, pairs);
  }

  /** Ends the stream: proxy_on_log, proxy_on_done, proxy_on_delete (skipped when the VM failed). */
  complete(): void {
    this.checkUsable("complete");
    this.completed = true;
    const vm = this.vm;
    const id = this.ctx.id;
    if (!vm.failed) {
      // Envoy runs access logs (proxy_on_log) before it destroys the filters (proxy_on_done,
      // proxy_on_delete): ConnectionManagerImpl::doDeferredStreamDestroy, since envoy#12850.
      this.phase = "log";
      vm.call("proxy_on_log", this.ctx, id);
      this.phase = "done";
      vm.call("proxy_on_done", this.ctx, id);
      vm.call("proxy_on_delete", this.ctx, id);
    }
    this.phase = "done";
    vm.contexts.delete(id);
    this.env.release(id);
    vm.flush();
  }

  /** false: forwarded body chunks are not kept (`body` then only has what the filter holds). */
  set retainBody(keep: boolean) {
    this.req.retain = keep;
    this.resp.retain = keep;
  }

  get isComplete(): boolean {
    return this.completed;
  }

  /** Sets a property for this stream only (e.g. "source.address"; arrays are path segments). */
  setProperty(path: string | readonly string[], value: PropertyInput): void {
    this.overrides.set(propertyPath(path), encodeProperty(value));
  }

  /** A property as the guest would read it (raw bytes), or undefined. Path like "request.path". */
  getProperty(path: string | readonly string[]): Buffer | undefined {
    const key = propertyPath(path);
    const v = this.property(key) ?? this.hostProperty(key);
    return v === undefined ? undefined : propertyBytes(v);
  }

  // ------------------------------------------------------------ internals

  private hostProperty(key: string): PropertyValue | undefined {
    return this.env.hostProperty(key, this.ctx);
  }

  private checkUsable(what: string): void {
    if (this.completed) throw new Error(`http stream ${this.ctx.id}: ${what}() after complete()`);
    if (this.vm.busy)
      throw new Error(`http stream ${this.ctx.id}: ${what}() called from inside a guest call; call it after the callback returns`);
  }

  private cbName(dir: number, part: "headers" | "body" | "trailers"): string {
    return `proxy_on_${dir === 0 ? "request" : "response"}_${part}`;
  }

  /** Envoy's CHECK_FAIL_HTTP: what a callback returns once the VM has failed. */
  private failureAction(): number {
    if (this.env.failurePolicy === "fail-open") {
      this.bypassed = true;
      return Action.Continue;
    }
    if (!this.failedStream) {
      this.failedStream = true;
      this.failStream();
    }
    return Action.Pause;
  }

  /**
   * Envoy's Context::failStream: sendLocalReply(503, details "wasm_fail_stream", gRPC UNAVAILABLE),
   * which the filter manager handles like any local reply, in whichever direction failed:
   * - no response yet: the 503 is the response;
   * - a response whose headers have not gone downstream yet: the 503 replaces it, bypassing the
   *   filters (sendDirectLocalReply);
   * - response headers already sent downstream: all it can do is reset the stream.
   * The failed filter is not called again, and onPass is not told: an embedder sees `failed`.
   */
  private failStream(): void {
    this.ended = true;
    this.req.pendingBody = [];
    this.req.pendingTrailers = null;
    const reply = new SentHttpResponse(503, new HeaderMap(), EMPTY, "wasm_fail_stream", 14);
    const r = this.resp;
    if (r.headersForwarded) {
      if (this.resetReason === null) this.resetReason = "wasm_fail_stream";
      if (!this.sentHttpResponse) this.sentHttpResponse = reply;
      return;
    }
    this.sentHttpResponse = reply;
    const prepared = this.prepare(reply);
    r.replaceWith(prepared.headers, prepared.body);
  }

  /** The reply's headers and body as Envoy encodes them for this request (local-reply.ts). */
  private prepare(r: SentHttpResponse): PreparedLocalReply {
    const h = this.req.headers;
    return prepareLocalReply(r.status, r.map, r.body, r.grpcStatus, { contentType: h?.get("content-type"), method: h?.get(":method") });
  }

  /** Calls a stream callback and turns its result into CONTINUE or PAUSE. */
  private invoke(name: string, a: number, b = 0, c = 0): number {
    const vm = this.vm;
    if (vm.failed) return this.failureAction();
    if (!vm.fns[name]) return Action.Continue;
    vm.stopNext = false;
    const r = vm.call(name, this.ctx, a, b, c);
    if (vm.failed || r === undefined) return this.failureAction();
    const action = r === 0 && !vm.stopNext ? Action.Continue : Action.Pause;
    vm.stopNext = false;
    this.actions.push([name, action]);
    return action;
  }

  private headersIn(d: Direction, dir: number, pairs: PairsInput | HeaderMap, eos: boolean): number {
    this.checkUsable(dir === 0 ? "requestHeaders" : "responseHeaders");
    if (this.ignored(dir)) return Action.Pause;
    if (d.headersSeen) throw new Error(`http stream ${this.ctx.id}: ${dir === 0 ? "request" : "response"} headers were already sent`);
    d.headersSeen = true;
    d.headers = pairs instanceof HeaderMap ? pairs : HeaderMap.from(pairs);
    d.endSeen = eos;
    if (this.bypassed) {
      d.headersForwarded = true;
      this.passed(d, "headers");
      return Action.Continue;
    }
    this.phase = dir === 0 ? "request_headers" : "response_headers";
    d.headersLive = true;
    const action = this.invoke(this.cbName(dir, "headers"), this.ctx.id, d.headers.size, eos ? 1 : 0);
    this.phase = "none";
    if (action === Action.Continue) {
      if (this.env.strictLifetimes) d.headersLive = false;
      d.headersForwarded = true;
      this.passed(d, "headers");
    } else {
      d.stoppedAt = "headers";
    }
    this.vm.flush();
    return action;
  }

  private bodyIn(d: Direction, dir: number, chunk: Buffer, eos: boolean): number {
    this.checkUsable(dir === 0 ? "requestBody" : "responseBody");
    if (this.ignored(dir)) return Action.Pause;
    if (!d.headersSeen) throw new Error(`http stream ${this.ctx.id}: ${dir === 0 ? "request" : "response"} body before its headers`);
    if (d.endSeen) throw new Error(`http stream ${this.ctx.id}: ${dir === 0 ? "request" : "response"} body after end of stream`);
    d.endSeen = eos;
    if (d.stoppedAt === "headers") {
      // StopAllIteration: Envoy buffers the data and delivers it on proxy_continue_stream.
      d.pendingBody.push(Buffer.from(chunk));
      d.pendingEos = d.pendingEos || eos;
      return Action.Pause;
    }
    return this.deliverBody(d, dir, Buffer.from(chunk), eos);
  }

  private deliverBody(d: Direction, dir: number, chunk: Buffer, eos: boolean): number {
    if (this.bypassed) {
      d.held = { data: chunk, mutable: true };
      this.passed(d, "body", d.forward());
      return Action.Continue;
    }
    d.held = { data: d.stoppedAt === "body" ? Buffer.concat([d.held.data, chunk]) : chunk, mutable: true };
    this.phase = dir === 0 ? "request_body" : "response_body";
    d.bodyLive = true;
    const action = this.invoke(this.cbName(dir, "body"), this.ctx.id, d.held.data.length, eos ? 1 : 0);
    this.phase = "none";
    if (action === Action.Continue) {
      const out = d.forward();
      d.stoppedAt = null;
      if (this.env.strictLifetimes) d.bodyLive = false;
      this.passed(d, "body", out);
    } else {
      d.stoppedAt = "body";
    }
    this.vm.flush();
    return action;
  }

  private trailersIn(d: Direction, dir: number, pairs: PairsInput): number {
    this.checkUsable(dir === 0 ? "requestTrailers" : "responseTrailers");
    if (this.ignored(dir)) return Action.Pause;
    if (!d.headersSeen) throw new Error(`http stream ${this.ctx.id}: ${dir === 0 ? "request" : "response"} trailers before its headers`);
    if (d.endSeen) throw new Error(`http stream ${this.ctx.id}: ${dir === 0 ? "request" : "response"} trailers after end of stream`);
    d.endSeen = true;
    d.trailers = HeaderMap.from(pairs);
    if (d.stoppedAt === "headers") {
      d.pendingTrailers = d.trailers;
      return Action.Pause;
    }
    return this.deliverTrailers(d, dir);
  }

  private deliverTrailers(d: Direction, dir: number): number {
    if (this.bypassed) {
      this.passed(d, "body", d.forward());
      return Action.Continue;
    }
    this.phase = dir === 0 ? "request_trailers" : "response_trailers";
    d.trailersLive = true;
    const action = this.invoke(this.cbName(dir, "trailers"), this.ctx.id, d.trailers!.size);
    this.phase = "none";
    if (action === Action.Continue) {
      const out = d.forward();
      d.stoppedAt = null;
      if (this.env.strictLifetimes) d.trailersLive = false;
      this.passed(d, "body", out);
    } else {
      d.stoppedAt = "trailers";
    }
    this.vm.flush();
    return action;
  }

  /** After a local response (or a reset), upstream data is never seen by the filter. */
  private ignored(dir: number): boolean {
    if (this.deliveringLocal) return false;
    return dir === 0 ? this.ended : this.sentHttpResponse !== null || this.resetReason !== null;
  }

  /** Deferred proxy_continue_stream: resume iteration and deliver what the host held. */
  private resume(d: Direction, dir: number): void {
    if (this.completed) return;
    const at = d.stoppedAt;
    if (at === null) return;
    if (dir === 0 && this.ended) return;
    d.stoppedAt = null;
    if (at === "headers") {
      d.headersForwarded = true;
      this.passed(d, "headers");
      if (d.pendingBody.length > 0 || d.pendingEos) {
        const chunk = Buffer.concat(d.pendingBody);
        d.pendingBody = [];
        const eos = d.pendingEos && d.pendingTrailers === null;
        this.deliverBody(d, dir, chunk, eos);
      }
      // Envoy's commonContinue delivers the held trailers even when the body callback above
      // buffered (StopIterationAndBuffer): the trailers end the stream, and their CONTINUE lets
      // the buffered body through. Only a stop that ends this direction (a local reply, a reset,
      // a failed stream) keeps them back; those clear pendingTrailers or end the direction.
      if (d.pendingTrailers && (d.stoppedAt === null || d.stoppedAt === "body") && !this.directionOver(dir)) {
        d.pendingTrailers = null;
        this.deliverTrailers(d, dir);
      }
      return;
    }
    this.passed(d, "body", d.forward());
  }

  /** This direction takes no more from upstream: a local reply or reset ended it, or the stream failed closed. */
  private directionOver(dir: number): boolean {
    if (this.failedStream) return true;
    return dir === 0 ? this.ended : this.resetReason !== null;
  }

  /** Reports passed data to onPass, then "trailers" and "end" once the direction is complete. */
  private passed(d: Direction, what: "headers" | "body", chunk?: Buffer): void {
    const cb = this.onPass;
    if (!cb || d.passedEnd) return;
    const dir = d === this.req ? 0 : 1;
    if (what === "headers" || (chunk !== undefined && chunk.length > 0)) cb(dir, what, chunk);
    if (d.headersForwarded && d.endSeen && d.stoppedAt === null && d.pendingBody.length === 0 && d.pendingTrailers === null) {
      d.passedEnd = true;
      if (d.trailers !== null && d.trailers.size > 0) cb(dir, "trailers");
      cb(dir, "end");
    }
  }

  // ------------------------------------------------------------ StreamHandler (for host calls)

  inLogPhase(): boolean {
    return this.phase === "log";
  }

  map(type: number, write: boolean): HeaderMap | null {
    return streamMap(this.req, this.resp, this.phase, this.env.strictLifetimes, type, write);
  }

  buffer(type: number): BufferSlot | null {
    return streamBuffer(this.req, this.resp, this.env.strictLifetimes, type);
  }

  continueStream(type: number): number {
    if (type === StreamType.HttpRequest || type === StreamType.HttpResponse) {
      const d = type === StreamType.HttpRequest ? this.req : this.resp;
      if (this.env.strictLifetimes) {
        // Envoy forgets the maps and buffer right away (context.cc continueStream).
        d.headersLive = false;
        d.bodyLive = false;
        d.trailersLive = false;
      }
      this.vm.defer(() => this.resume(d, type));
      return Status.Ok;
    }
    if (type === StreamType.Downstream) return Status.Ok;
    return Status.Unimplemented;
  }

  closeStream(type: number): number {
    if (type === StreamType.HttpRequest || type === StreamType.HttpResponse) {
      this.vm.defer(() => {
        if (this.resetReason === null) this.resetReason = "wasm_close_stream";
        this.ended = true;
      });
    }
    return Status.Ok;
  }

  sendHttpResponse(r: SentHttpResponse): void {
    this.vm.defer(() => this.applySentResponse(r));
  }

  private applySentResponse(r: SentHttpResponse): void {
    if (this.completed) return;
    if (this.sentHttpResponse) {
      this.env.log(
        3,
        `proxy_send_local_response called again on stream ${this.ctx.id}; the first response stands (Envoy misbehaves here: envoy#28826)`,
        this.ctx.id,
        this.vm.index,
      );
      return;
    }
    this.sentHttpResponse = r;
    this.ended = true;
    this.req.stoppedAt = this.req.stoppedAt ?? "headers";
    this.req.pendingBody = [];
    this.req.pendingTrailers = null;
    const { headers, body } = this.prepare(r);
    if (this.resp.headersForwarded) {
      // Response headers already went downstream: Envoy can only reset the stream (go#364).
      this.resetReason = "local response after response headers were sent";
      return;
    }
    if (this.resp.headersSeen) {
      // Sent from the response path before the headers went on: the reply replaces the response.
      // Nothing of the upstream response follows the reply (Envoy's direct local reply).
      this.resp.replaceWith(headers, body);
      this.resp.stoppedAt = null;
      if (this.onPass && !this.resp.passedEnd) {
        this.resp.passedEnd = true;
        this.onPass(1, "headers");
        if (body.length > 0) this.onPass(1, "body", body);
        this.onPass(1, "end");
      }
      return;
    }
    // Envoy sends the local reply through the encoder filters, this one included.
    this.deliveringLocal = true;
    try {
      const hasBody = body.length > 0;
      this.headersIn(this.resp, 1, headers, !hasBody);
      if (hasBody && !this.vm.failed) this.bodyIn(this.resp, 1, body, true);
    } finally {
      this.deliveringLocal = false;
    }
  }

  guestSetProperty(key: string, value: Buffer): number {
    // Envoy keeps it as filter state "wasm.<path>" on the stream.
    this.filterState.set(key, value);
    return Status.Ok;
  }

  property(key: string): PropertyValue | undefined {
    const o = lookupIn(this.overrides, key);
    if (o !== undefined) return o;
    const c = httpStreamProperty(this, key);
    if (c !== undefined) return c;
    return lookupIn(this.filterState, key);
  }
}
