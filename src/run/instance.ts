// One loaded module (a Host: its VM, FAIL_RELOAD replacements, root context) and what the proxy
// runs around it: the tick timer, the HTTP callouts it dispatched and the requests it serves.
// After every call into the host, afterAction() looks at what changed (new callouts, a new tick
// period, streams the guest resumed, replied to, reset or left in a failed VM).
import type { GrpcCallout, HttpCallout } from "../host/callouts.js";
import type { Host } from "../host/host.js";
import { LogLevel } from "../abi.js";
import { startHttpCallout, type CalloutAgents } from "./callouts.js";
import type { Logger } from "./log.js";
import type { Target } from "./options.js";

/** The part of an exchange the instance drives. */
export interface InstanceMember {
  check(): void;
}

/** A gRPC callout an embedder carries out (see InstanceEnv.grpc). */
export interface GrpcHandle {
  /** Stops it without answering (the proxy shuts down). */
  cancel(): void;
  /** Called after every call into the host: picks up messages sent, half-close and cancel. */
  sync(): void;
}

export interface InstanceEnv {
  logger: Logger;
  clusters: ReadonlyMap<string, Target>;
  agents: CalloutAgents;
  /** Carries out gRPC callouts; `deliver` calls into the host on a later turn. Without it they get UNAVAILABLE. */
  grpc?: (g: GrpcCallout, deliver: (fn: () => void) => void) => GrpcHandle;
}

export class Instance {
  readonly exchanges = new Set<InstanceMember>();
  /** Replaced by a newer build (--watch): finishes what it serves, then shuts down. */
  retired = false;
  closed = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private tickPeriod = 0;
  private readonly seen = new WeakSet<object>();
  private readonly inFlight = new Map<object, () => void>();
  private readonly grpcLive = new Map<GrpcCallout, GrpcHandle>();
  private syncing = false;
  private again = false;
  private grpcWarned = false;
  /** > 0 while a call into the host runs (stream hooks fire then; they must not call in again). */
  hostDepth = 0;
  onDrained: (() => void) | null = null;

  constructor(
    readonly host: Host,
    /** 1 for the first build, +1 per reload. */
    readonly generation: number,
    private readonly env: InstanceEnv,
  ) {}

  /** Run after every call into the host (stream data, callout answers, ticks). */
  afterAction(): void {
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = true;
    try {
      do {
        this.again = false;
        this.trim();
        if (this.closed) break;
        this.dispatchCallouts();
        this.syncTick();
        for (const ex of [...this.exchanges]) ex.check();
      } while (this.again);
    } finally {
      this.syncing = false;
    }
    this.maybeDrained();
  }

  /** The host keeps logs and callout history for tests; a long-running proxy must not. */
  private trim(): void {
    const h = this.host;
    if (h.logs.length > 0) h.clearLogs();
    if (h.httpCallHistory.length > 0) h.httpCallHistory.length = 0;
    if (h.grpcCallHistory.length > 0) h.grpcCallHistory.length = 0;
    if (h.failures.length > 20) h.failures.splice(0, h.failures.length - 20);
  }

  private dispatchCallouts(): void {
    for (const call of this.host.httpCalls) {
      if (this.seen.has(call)) continue;
      this.seen.add(call);
      this.startCallout(call);
    }
    for (const g of this.host.grpcCalls) {
      if (this.seen.has(g)) continue;
      this.seen.add(g);
      const start = this.env.grpc;
      if (!start) {
        this.refuseGrpc(g);
        continue;
      }
      const handle = start(g, (fn) => this.laterCall(fn));
      this.grpcLive.set(g, handle);
      this.inFlight.set(g, () => handle.cancel());
    }
    for (const [g, handle] of this.grpcLive) {
      handle.sync();
      if (g.pending && !g.cancelled) continue;
      this.grpcLive.delete(g);
      this.inFlight.delete(g);
    }
  }

  private startCallout(call: HttpCallout): void {
    const { logger } = this.env;
    const target = this.env.clusters.get(call.upstream);
    if (!target) {
      // The host was told the cluster names, so this only happens for names it accepted without a
      // URL (none today); answer like Envoy for a cluster that vanished: a reset.
      this.laterCall(() => call.fail());
      return;
    }
    const started = performance.now();
    logger.proxy(
      LogLevel.Debug,
      `http call ${call.token} to ${call.upstream} (${target.display}): ${call.header(":method") ?? "?"} ${call.header(":path") ?? "?"}`,
    );
    const cancel = startHttpCallout(call, target, this.env.agents, (deliver, result) => {
      this.inFlight.delete(call);
      const ms = Math.round(performance.now() - started);
      if (result.kind === "failure") {
        logger.proxy(
          LogLevel.Warn,
          `http call ${call.token} to ${call.upstream} failed after ${ms}ms: ${result.note}; the filter gets 0 headers`,
        );
      } else if (result.note) {
        logger.proxy(
          LogLevel.Warn,
          `http call ${call.token} to ${call.upstream} (${target.display}): ${result.note}; the filter gets a ${result.status} like Envoy's router answer`,
        );
      } else {
        logger.proxy(LogLevel.Debug, `http call ${call.token} to ${call.upstream}: ${result.status} in ${ms}ms`);
      }
      if (this.closed) return;
      this.deliver(deliver);
    });
    this.inFlight.set(call, cancel);
  }

  private refuseGrpc(g: GrpcCallout): void {
    if (!this.grpcWarned) {
      this.grpcWarned = true;
      this.env.logger.proxy(
        LogLevel.Warn,
        `gRPC callouts are not supported by proxy-wasm-as run yet; ${g.upstream}/${g.service}/${g.method} gets UNAVAILABLE (14)`,
      );
    }
    this.laterCall(() => {
      if (g.pending) g.close(14, "gRPC callouts are not supported by proxy-wasm-as run");
    });
  }

  /** Runs `fn` on a later turn, outside any call into the host, then afterAction. */
  later(fn: () => void): void {
    setImmediate(() => {
      if (this.closed) return;
      try {
        fn();
      } catch (e) {
        this.env.logger.proxy(LogLevel.Error, `internal error: ${(e as Error)?.stack ?? e}`);
      }
      this.afterAction();
    });
  }

  /** A call into the host on a later turn. */
  private laterCall(fn: () => void): void {
    setImmediate(() => {
      if (!this.closed) this.deliver(fn);
    });
  }

  private deliver(fn: () => void): void {
    this.call(fn, (e) => this.env.logger.proxy(LogLevel.Error, `internal error while answering the filter: ${(e as Error)?.message ?? e}`));
  }

  /** Calls into the host, then looks at what changed. Not re-entrant: check hostDepth first. */
  call(fn: () => void, onError: (e: unknown) => void): void {
    this.hostDepth++;
    try {
      fn();
    } catch (e) {
      onError(e);
    } finally {
      this.hostDepth--;
    }
    this.afterAction();
  }

  private syncTick(): void {
    const period = this.host.failed ? 0 : this.host.tickPeriod;
    if (period === this.tickPeriod) return;
    this.tickPeriod = period;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (period > 0) {
      this.tickTimer = setInterval(() => this.deliver(() => this.host.tick()), period);
      this.tickTimer.unref();
    }
  }

  /** HTTP calls sent and not answered yet. */
  get pendingCallouts(): number {
    return this.inFlight.size;
  }

  retire(): void {
    this.retired = true;
    this.maybeDrained();
  }

  private maybeDrained(): void {
    if (!this.retired || this.closed) return;
    if (this.exchanges.size > 0 || this.inFlight.size > 0) return;
    this.close();
    this.onDrained?.();
  }

  /** Stops timers and callouts and ends the plugin (proxy_on_done on the root context). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    for (const cancel of this.inFlight.values()) cancel();
    this.inFlight.clear();
    this.grpcLive.clear();
    try {
      this.host.shutdown();
    } catch (e) {
      this.env.logger.proxy(LogLevel.Debug, `shutting the plugin down: ${(e as Error)?.message ?? e}`);
    }
    this.trim();
  }
}
