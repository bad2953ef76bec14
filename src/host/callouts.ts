// Callouts the guest dispatched (proxy_http_call, proxy_grpc_call, proxy_grpc_stream) as a test
// sees them: what was asked, and the methods that deliver the answer back to the VM.
import { byteStringToText, toBuffer, toByteString, type Bytesish } from "./bytes.js";
import type { GrpcCallRequest, HttpCallRequest } from "./calls/state.js";
import { HeaderMap, type PairsInput } from "./headers.js";
import type { RootContext } from "./types.js";
import { VirtualClock, type Clock } from "./clock.js";
import type { Vm } from "./vm.js";

/** Who keeps the list of pending callouts (the host). */
export interface CalloutOwner {
  removeCallout(c: HttpCallout | GrpcCallout): void;
  readonly clock: Clock;
}

/** Envoy's router answers for a callout that got no response headers (what the filter then sees). */
export const CALLOUT_TIMEOUT_BODY = "upstream request timeout";
export const CALLOUT_CONNECT_FAILURE_BODY =
  "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: ";

const STATUS_BROKEN_CONNECTION = 11; // WasmResult::BrokenConnection, set by Envoy on a failed HTTP call

/** A dispatched proxy_http_call, waiting for the test to answer it. */
export class HttpCallout {
  /** Still waiting for respond() / fail()? */
  pending = true;
  constructor(
    private readonly owner: CalloutOwner,
    private readonly vm: Vm,
    private readonly root: RootContext,
    private readonly req: HttpCallRequest,
    /** The context that was running when the call was dispatched (the root id gets the answer). */
    readonly callerContextId: number,
  ) {}
  get token(): number {
    return this.req.token;
  }
  /** The root context id the response is delivered on. */
  get contextId(): number {
    return this.root.id;
  }
  get upstream(): string {
    return byteStringToText(this.req.upstream);
  }
  get headers(): Array<[string, string]> {
    return this.req.headers.toPairs();
  }
  header(name: string): string | undefined {
    const v = this.req.headers.get(toByteString(name.toLowerCase()));
    return v === undefined ? undefined : byteStringToText(v);
  }
  get body(): Buffer {
    return this.req.body;
  }
  get trailers(): Array<[string, string]> {
    return this.req.trailers.toPairs();
  }
  get timeoutMs(): number {
    return this.req.timeoutMs;
  }
  /** Delivers a response: proxy_on_http_call_response(root, token, headers, body size, trailers). */
  respond(response: { headers?: PairsInput; body?: Bytesish; trailers?: PairsInput } = {}): void {
    this.take();
    const headers = HeaderMap.from(response.headers ?? [[":status", "200"]]);
    const body = toBuffer(response.body);
    const trailers = HeaderMap.from(response.trailers);
    if (this.vm.failed) return;
    this.root.httpCallResponse = { headers, body, trailers };
    this.vm.call("proxy_on_http_call_response", this.root, this.root.id, this.token, headers.size, body.length, trailers.size);
    this.root.httpCallResponse = null;
    this.vm.flush();
  }
  /** Envoy's router answering instead of the upstream: `status` with a text/plain `body`, as a response. */
  routerReply(status: number, body: string): void {
    const headers: PairsInput = [
      [":status", String(status)],
      ["content-length", String(Buffer.byteLength(body))],
      ["content-type", "text/plain"],
    ];
    this.respond({ headers, body });
  }

  /** No response headers within the timeout: Envoy answers 504 "upstream request timeout" (a response, not a failure). */
  timeout(): void {
    this.routerReply(504, CALLOUT_TIMEOUT_BODY);
  }

  /** The cluster could not be reached: Envoy answers 503 "upstream connect error ..." (a response, not a failure). */
  connectFailure(reason = "Connection refused"): void {
    this.routerReply(503, CALLOUT_CONNECT_FAILURE_BODY + reason);
  }

  /** The stream was reset after the response started: the same as fail(). */
  reset(): void {
    this.fail();
  }

  /**
   * With a virtual clock: answers `ms` from now (when host.advanceTime gets there), unless the call's
   * own timeout comes first, which then answers 504 and the late response is dropped.
   */
  respondAfter(ms: number, response: { headers?: PairsInput; body?: Bytesish; trailers?: PairsInput } = {}): void {
    const clock = this.owner.clock;
    if (!(clock instanceof VirtualClock)) throw new Error('respondAfter needs a virtual clock: createHost({ clock: "virtual" })');
    if (!this.pending) throw new Error(`http call ${this.token} was already answered`);
    this.cancelLate?.();
    this.cancelLate = clock.schedule(clock.nowMs() + ms, () => this.respond(response));
  }

  /** @internal Cancels the virtual clock's timeout (set by the host). */
  cancelTimeout: (() => void) | null = null;
  private cancelLate: (() => void) | null = null;

  /** The call failed (reset / timeout): the callback gets 0 headers; proxy_get_status gives 11 "reset". */
  fail(): void {
    this.take();
    if (this.vm.failed) return;
    this.root.status = { code: STATUS_BROKEN_CONNECTION, message: "reset" };
    this.vm.call("proxy_on_http_call_response", this.root, this.root.id, this.token, 0, 0, 0);
    this.root.status = { code: STATUS_BROKEN_CONNECTION, message: "" };
    this.vm.flush();
  }
  private take(): void {
    if (!this.pending) throw new Error(`http call ${this.token} was already answered`);
    if (this.vm.busy) throw new Error(`http call ${this.token}: answer it after the current callback returns`);
    this.pending = false;
    this.cancelTimeout?.();
    this.cancelLate?.();
    this.owner.removeCallout(this);
  }
}

/** A dispatched gRPC call (unary) or stream. */
export class GrpcCallout {
  pending = true;
  /** Messages the plugin sent on a stream (proxy_grpc_send). */
  readonly sent: Buffer[] = [];
  /** The plugin half-closed (end_stream or proxy_grpc_close on a stream). */
  localClosed = false;
  /** The plugin cancelled it (proxy_grpc_cancel, or proxy_grpc_close on a unary call). */
  cancelled = false;
  constructor(
    private readonly owner: CalloutOwner,
    private readonly vm: Vm,
    private readonly root: RootContext,
    private readonly req: GrpcCallRequest,
    readonly callerContextId: number,
  ) {}
  get token(): number {
    return this.req.token;
  }
  get kind(): "call" | "stream" {
    return this.req.kind;
  }
  get contextId(): number {
    return this.root.id;
  }
  get upstream(): string {
    return byteStringToText(this.req.upstream);
  }
  get service(): string {
    return byteStringToText(this.req.service);
  }
  get method(): string {
    return byteStringToText(this.req.method);
  }
  get metadata(): Array<[string, string]> {
    return this.req.metadata.toPairs();
  }
  /** The request message of a unary call. */
  get message(): Buffer | null {
    return this.req.message;
  }
  get timeoutMs(): number {
    return this.req.timeoutMs;
  }
  /** Unary success: proxy_on_grpc_receive(root, token, size); the call is then over. */
  respond(message: Bytesish): void {
    if (this.kind !== "call") throw new Error(`grpc ${this.token} is a stream; use receive() and close()`);
    this.check();
    this.pending = false;
    this.owner.removeCallout(this);
    this.deliverMessage(toBuffer(message));
  }
  /** Stream: initial metadata (proxy_on_grpc_receive_initial_metadata). */
  receiveInitialMetadata(pairs: PairsInput): void {
    this.check();
    this.withMap("grpcInitialMetadata", HeaderMap.from(pairs), "proxy_on_grpc_receive_initial_metadata");
  }
  /** Stream: a message (proxy_on_grpc_receive). */
  receive(message: Bytesish): void {
    if (this.kind !== "stream") throw new Error(`grpc ${this.token} is a unary call; use respond() or close()`);
    this.check();
    this.deliverMessage(toBuffer(message));
  }
  /** Stream: trailing metadata (proxy_on_grpc_receive_trailing_metadata). */
  receiveTrailingMetadata(pairs: PairsInput): void {
    this.check();
    this.withMap("grpcTrailingMetadata", HeaderMap.from(pairs), "proxy_on_grpc_receive_trailing_metadata");
  }
  /** Remote close / unary failure: proxy_on_grpc_close(root, token, status); proxy_get_status gives status and message. */
  close(status: number, message = ""): void {
    this.check();
    this.pending = false;
    this.owner.removeCallout(this);
    if (this.vm.failed) return;
    this.root.status = { code: status >>> 0, message };
    this.vm.call("proxy_on_grpc_close", this.root, this.root.id, this.token, status >>> 0);
    this.root.status = { code: status >>> 0, message: "" };
    this.vm.flush();
  }
  /** @internal */
  belongsTo(vm: Vm): boolean {
    return this.vm === vm;
  }
  private deliverMessage(m: Buffer): void {
    if (this.vm.failed) return;
    this.root.grpcMessage = m;
    this.vm.call("proxy_on_grpc_receive", this.root, this.root.id, this.token, m.length);
    this.root.grpcMessage = null;
    this.vm.flush();
  }
  private withMap(field: "grpcInitialMetadata" | "grpcTrailingMetadata", m: HeaderMap, cb: string): void {
    if (this.vm.failed) return;
    this.root[field] = m;
    this.vm.call(cb, this.root, this.root.id, this.token, m.size);
    this.root[field] = null;
    this.vm.flush();
  }
  private check(): void {
    if (!this.pending) throw new Error(`grpc ${this.token} is over`);
    if (this.vm.busy) throw new Error(`grpc ${this.token}: deliver after the current callback returns`);
  }
}
