// A TCP connection through the plugin, driven like Envoy's network filter (envoy context.cc
// onNewConnection / onData / onWrite / onEvent): data the filter stops on stays held and the
// next data callback sees all of it; proxy_continue_stream(DOWNSTREAM) passes it on; the context
// ends (done, log, delete) when the downstream side closes, or the upstream side closes after it.
import { Action, BufferType, PeerType, Status, StreamType } from "../abi.js";
import { toBuffer, type Bytesish } from "./bytes.js";
import type { HeaderMap } from "./headers.js";
import {
  encodeInt64,
  encodeProperty,
  lookupIn,
  propertyBytes,
  propertyPath,
  type PropertyInput,
  type PropertyValue,
} from "./properties.js";
import type { StreamEnv } from "./http.js";
import type { BufferSlot, SentHttpResponse, StreamContext, StreamHandler } from "./types.js";
import type { Vm } from "./vm.js";

const EMPTY = Buffer.alloc(0);

class Side {
  forwarded: Buffer[] = [];
  held: BufferSlot = { data: EMPTY, mutable: true };
  live = false;
  stopped = false;
  closed = false;

  forward(): void {
    if (this.held.data.length > 0) this.forwarded.push(this.held.data);
    this.held = { data: EMPTY, mutable: true };
  }
}

export class TcpSideView {
  constructor(private readonly s: Side) {}
  /** Everything the filter passed on plus what it holds. */
  get data(): Buffer {
    return Buffer.concat([...this.s.forwarded, this.s.held.data]);
  }
  /** Only what the filter passed on. */
  get forwardedData(): Buffer {
    return Buffer.concat(this.s.forwarded);
  }
  get paused(): boolean {
    return this.s.stopped;
  }
  get closed(): boolean {
    return this.s.closed;
  }
}

export class TcpConnection implements StreamHandler {
  readonly protocol = "tcp";
  readonly downstream: TcpSideView;
  readonly upstream: TcpSideView;
  /** The action proxy_on_new_connection returned. */
  newConnectionAction: number = Action.Continue;
  /** Set when the plugin asked to close a side (proxy_close_stream) or a failure closed it. */
  closedBy: { downstream?: string; upstream?: string } = {};
  bypassed = false;
  readonly actions: Array<[string, number]> = [];
  private readonly down = new Side();
  private readonly up = new Side();
  private finished = false;
  private inLog = false;
  private failedConn = false;
  readonly filterState = new Map<string, PropertyValue>();
  readonly overrides = new Map<string, PropertyValue>();

  constructor(
    readonly vm: Vm,
    readonly ctx: StreamContext,
    private readonly env: StreamEnv,
    readonly connectionId: number,
  ) {
    this.downstream = new TcpSideView(this.down);
    this.upstream = new TcpSideView(this.up);
  }

  get id(): number {
    return this.ctx.id;
  }

  get isComplete(): boolean {
    return this.finished;
  }

  /** proxy_on_new_connection (called by host.tcpConnection()). */
  start(): number {
    this.newConnectionAction = this.invoke("proxy_on_new_connection", this.ctx.id);
    this.vm.flush();
    return this.newConnectionAction;
  }

  /** Data from the client (proxy_on_downstream_data). */
  downstreamData(chunk: Bytesish, endOfStream = false): number {
    return this.data(this.down, "proxy_on_downstream_data", toBuffer(chunk), endOfStream);
  }

  /** Data from the server (proxy_on_upstream_data); end of stream also reports the upstream close. */
  upstreamData(chunk: Bytesish, endOfStream = false): number {
    const r = this.data(this.up, "proxy_on_upstream_data", toBuffer(chunk), endOfStream);
    if (endOfStream && !this.finished) this.closeUpstream(PeerType.Unknown);
    return r;
  }

  /** The client side closed: proxy_on_downstream_connection_close, then the context ends. */
  closeDownstream(peer: number = PeerType.Remote): void {
    this.check("closeDownstream");
    if (this.down.closed) return;
    this.down.closed = true;
    if (!this.vm.failed) this.vm.call("proxy_on_downstream_connection_close", this.ctx, this.ctx.id, peer);
    this.vm.flush();
    this.finish();
  }

  /** The server side closed: proxy_on_upstream_connection_close; the context ends if downstream closed too. */
  closeUpstream(peer: number = PeerType.Remote): void {
    this.check("closeUpstream");
    if (this.up.closed) return;
    this.up.closed = true;
    if (!this.vm.failed) this.vm.call("proxy_on_upstream_connection_close", this.ctx, this.ctx.id, peer);
    this.vm.flush();
    if (this.down.closed) this.finish();
  }

  /** Closes both sides (downstream first) if still open. */
  complete(): void {
    if (this.finished) return;
    if (!this.down.closed) this.closeDownstream(PeerType.Local);
    this.finish();
  }

  setProperty(path: string | readonly string[], value: PropertyInput): void {
    this.overrides.set(propertyPath(path), encodeProperty(value));
  }

  getProperty(path: string | readonly string[]): Buffer | undefined {
    const key = propertyPath(path);
    const v = this.property(key) ?? this.env.hostProperty(key, this.ctx);
    return v === undefined ? undefined : propertyBytes(v);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    const id = this.ctx.id;
    if (!this.vm.failed) {
      this.vm.call("proxy_on_done", this.ctx, id);
      this.inLog = true;
      this.vm.call("proxy_on_log", this.ctx, id);
      this.inLog = false;
      this.vm.call("proxy_on_delete", this.ctx, id);
    }
    this.vm.contexts.delete(id);
    this.env.release(id);
    this.vm.flush();
  }

  private check(what: string): void {
    if (this.finished) throw new Error(`tcp connection ${this.ctx.id}: ${what}() after the connection ended`);
    if (this.vm.busy) throw new Error(`tcp connection ${this.ctx.id}: ${what}() called from inside a guest call`);
  }

  private failureAction(): number {
    if (this.env.failurePolicy === "fail-open") {
      this.bypassed = true;
      return Action.Continue;
    }
    if (!this.failedConn) {
      this.failedConn = true;
      this.closedBy.downstream ??= "wasm VM failed";
      this.closedBy.upstream ??= "wasm VM failed";
    }
    return Action.Pause;
  }

  private invoke(name: string, a: number, b = 0, c = 0): number {
    const vm = this.vm;
    if (vm.failed) return this.failureAction();
    if (!vm.fns[name]) return Action.Continue;
    const r = vm.call(name, this.ctx, a, b, c);
    if (vm.failed || r === undefined) return this.failureAction();
    const action = r === 0 ? Action.Continue : Action.Pause;
    this.actions.push([name, action]);
    return action;
  }

  private data(side: Side, name: string, chunk: Buffer, eos: boolean): number {
    this.check(name === "proxy_on_downstream_data" ? "downstreamData" : "upstreamData");
    const data = Buffer.from(chunk);
    side.held = { data: side.stopped ? Buffer.concat([side.held.data, data]) : data, mutable: true };
    if (this.bypassed || this.failedConn) {
      if (this.bypassed) side.forward();
      return this.bypassed ? Action.Continue : Action.Pause;
    }
    side.live = true;
    const action = this.invoke(name, this.ctx.id, side.held.data.length, eos ? 1 : 0);
    if (action === Action.Continue) {
      side.forward();
      side.stopped = false;
      side.live = false;
    } else {
      side.stopped = true;
    }
    this.vm.flush();
    return action;
  }

  // StreamHandler
  map(): HeaderMap | null {
    return null;
  }
  inLogPhase(): boolean {
    return this.inLog;
  }
  buffer(type: number): BufferSlot | null {
    const strict = this.env.strictLifetimes;
    if (type === BufferType.DownstreamData) return !strict || this.down.live ? this.down.held : { data: EMPTY, mutable: false };
    if (type === BufferType.UpstreamData) return !strict || this.up.live ? this.up.held : { data: EMPTY, mutable: false };
    return { data: EMPTY, mutable: false };
  }
  continueStream(type: number): number {
    if (type === StreamType.Downstream) {
      this.vm.defer(() => {
        if (this.down.stopped) {
          this.down.stopped = false;
          this.down.live = false;
          this.down.forward();
        }
      });
      return Status.Ok;
    }
    if (type === StreamType.Upstream) return Status.Unimplemented;
    return Status.Ok;
  }
  closeStream(type: number): number {
    if (type === StreamType.Downstream) this.vm.defer(() => void (this.closedBy.downstream ??= "wasm_downstream_close"));
    if (type === StreamType.Upstream) this.vm.defer(() => void (this.closedBy.upstream ??= "wasm_upstream_close"));
    return Status.Ok;
  }
  sendHttpResponse(_r: SentHttpResponse): void {
    // No HTTP on a TCP connection: Envoy has no decoder callbacks and ignores it.
  }
  guestSetProperty(key: string, value: Buffer): number {
    this.filterState.set(key, value);
    return Status.Ok;
  }
  property(key: string): PropertyValue | undefined {
    const o = lookupIn(this.overrides, key);
    if (o !== undefined) return o;
    if (key === "connection\0id" || key === "connection_id") return encodeInt64(BigInt(this.connectionId));
    return lookupIn(this.filterState, key);
  }
}
