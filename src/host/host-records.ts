// What a host keeps about its VMs for tests and the run command: log entries, failures, host-call
// counts, metrics and the callouts the guest dispatched. Host (host.ts) extends it with the driving
// of the VMs.
import { LogLevel, Status } from "../abi.js";
import { UserError } from "../errors.js";
import { VirtualClock, realClock, type Clock } from "./clock.js";
import { FaultPlan } from "./faults.js";
import { byteStringToText, toBuffer, toByteString, type Bytesish } from "./bytes.js";
import { GrpcCallout, HttpCallout } from "./callouts.js";
import type { GrpcCallRequest, HttpCallRequest } from "./calls/state.js";
import type { HostOptions, MetricView } from "./host-options.js";
import { SharedState, type Metric } from "./shared.js";
import { resolveLimits, type HostLimits } from "./limits.js";
import type { Failure, LogEntry, LogSource, RootContext } from "./types.js";
import { HOST_FUNCTION_NAMES } from "./imports.js";
import type { Vm } from "./vm.js";

const HISTORY_LIMIT = 10_000;
const MAX_LOG_ENTRIES = 1_000_000;
/** Characters of log messages kept (with the per-stream caps, a log loop cannot exhaust memory through the record). */
const MAX_LOG_CHARS = 64 * 1024 * 1024;

export abstract class HostRecords {
  readonly shared: SharedState;
  readonly logs: LogEntry[] = [];
  readonly failures: Failure[] = [];
  readonly hostCallCounts = new Float64Array(HOST_FUNCTION_NAMES.length);
  readonly logLevel: number;
  readonly limits: HostLimits;
  /** HTTP calls dispatched and not answered yet. */
  readonly httpCalls: HttpCallout[] = [];
  /** gRPC calls and streams not finished yet. */
  readonly grpcCalls: GrpcCallout[] = [];
  /** HTTP calls dispatched so far, answered or not (the most recent 10,000). */
  readonly httpCallHistory: HttpCallout[] = [];
  readonly grpcCallHistory: GrpcCallout[] = [];
  /** @internal The canary VM while it runs: its callouts are never dispatched (Envoy cancels them when it is destroyed). */
  canaryVm: Vm | null = null;
  /** What the filter reads time from (HostOptions.clock). */
  readonly clock: Clock;
  /** Faults armed by failNext / injectCasMismatch. */
  readonly faults = new FaultPlan();
  private readonly onLog?: (entry: LogEntry) => void;
  private logChars = 0;

  constructor(options: HostOptions) {
    this.shared = options.shared ?? new SharedState();
    this.logLevel = options.logLevel ?? LogLevel.Trace;
    this.clock = options.clock === "virtual" ? new VirtualClock() : options.clock instanceof VirtualClock ? options.clock : realClock;
    this.onLog = options.onLog;
    this.limits = resolveLimits(options);
  }

  // ------------------------------------------------------------ logs and failures

  /** Records a log entry at or above the host's level (and passes it to onLog). */
  log(level: number, message: string, contextId: number, vm: number, source: LogSource = "host"): void {
    if (level < this.logLevel) return;
    const e: LogEntry = { level, message, contextId, vm, source };
    // Bounded, so a module logging in a loop cannot exhaust memory: the oldest half goes.
    if (this.logs.length >= MAX_LOG_ENTRIES || this.logChars > MAX_LOG_CHARS) {
      this.logs.splice(0, this.logs.length >> 1);
      this.logChars = this.logs.reduce((n, x) => n + x.message.length, 0);
    }
    this.logs.push(e);
    this.logChars += message.length;
    this.onLog?.(e);
  }

  /** Set by createHost when it instrumented the module for the time limit. */
  codeOffsetMap: ((offset: number) => number) | null = null;

  /**
   * The module's own code offset for an offset in the module the host runs (the `0x...` of a
   * trap's `wasm-function[i]:0x...` stack frame): the time limit instruments the code, which moves
   * it. The same number when the module was not instrumented.
   */
  originalOffset(offset: number): number {
    return this.codeOffsetMap ? this.codeOffsetMap(offset) : offset;
  }

  // ------------------------------------------------------------ time and faults

  /** Roots with a tick period, and how to fire their tick (Host). */
  protected abstract tickingRoots(): Array<{ root: RootContext; fire(): void }>;

  /**
   * With a virtual clock (createHost({ clock: "virtual" })): moves time forward by `ms`. Ticks fire
   * once per elapsed period and pending HTTP callouts time out (504) or get their respondAfter
   * answer, each at its own time, in order. Returns how many of these ran.
   */
  advanceTime(ms: number): number {
    const clock = this.clock;
    if (!(clock instanceof VirtualClock)) throw new UserError('advanceTime needs a virtual clock: createHost({ ..., clock: "virtual" })');
    if (!Number.isFinite(ms) || ms < 0) throw new UserError(`advanceTime takes milliseconds >= 0, not ${ms}`);
    return clock.advanceTo(clock.nowMs() + ms, () => {
      let next: { at: number; run(): void } | null = null;
      for (const { root, fire } of this.tickingRoots()) {
        const at = root.nextTickAt;
        if (root.tickPeriod > 0 && at !== undefined && (!next || at < next.at)) {
          next = {
            at,
            run: () => {
              root.nextTickAt = at + root.tickPeriod; // before the tick: the tick may set a new period
              fire();
            },
          };
        }
      }
      return next;
    });
  }

  /**
   * Makes host call `call` answer `status` instead of running, the next `times` times (after `skip`
   * calls), as Envoy answers when the thing is missing or the call fails: NotFound from
   * proxy_get_header_map_value, Empty from proxy_dequeue_shared_queue, BadArgument from
   * proxy_http_call, ... FAULTABLE_CALLS lists the calls and statuses.
   */
  failNext(call: string, status: number, options: { times?: number; skip?: number } = {}): void {
    try {
      this.faults.add(call, status, options);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
  }

  /** The next `times` proxy_set_shared_data calls with a CAS value get CasMismatch, as if another VM wrote first. */
  injectCasMismatch(times = 1): void {
    this.faults.add("proxy_set_shared_data", Status.CasMismatch, { times, when: (args) => args[4] !== 0 });
  }

  recordFailure(f: Failure): void {
    this.failures.push(f);
  }

  /** Log messages (optionally only one level). */
  /** Log messages, optionally only one level and one source (the filter's own, or the host's). */
  logMessages(level?: number, source?: LogSource): string[] {
    return this.logs
      .filter((e) => (level === undefined || e.level === level) && (source === undefined || e.source === source))
      .map((e) => e.message);
  }

  clearLogs(): void {
    this.logs.length = 0;
    this.logChars = 0;
  }

  // ------------------------------------------------------------ host-call counts

  /** Host calls made so far by name (only the ones called). */
  hostCalls(): Record<string, number> {
    const out: Record<string, number> = {};
    HOST_FUNCTION_NAMES.forEach((n, i) => {
      if (this.hostCallCounts[i] > 0) out[n] = this.hostCallCounts[i];
    });
    return out;
  }

  get totalHostCalls(): number {
    let t = 0;
    for (const c of this.hostCallCounts) t += c;
    return t;
  }

  resetHostCalls(): void {
    this.hostCallCounts.fill(0);
  }

  // ------------------------------------------------------------ shared data and queues

  /** The vm_id (as a byte string) whose shared data and queues this host sees. */
  protected abstract get vmIdBytes(): string;

  /** Reads shared data of this vm_id: value and CAS, or undefined. */
  getSharedData(key: Bytesish): { value: Buffer; cas: number } | undefined {
    const v = this.shared.getData(this.vmIdBytes, toByteString(key));
    return v ? { value: v.value, cas: v.cas } : undefined;
  }

  /** Writes shared data as another VM would (cas 0 = unconditional). Returns false on CAS mismatch. */
  setSharedData(key: Bytesish, value: Bytesish, cas = 0): boolean {
    return this.shared.setData(this.vmIdBytes, toByteString(key), Buffer.from(toBuffer(value)), cas);
  }

  /** A shared queue of this vm_id (or another vm_id) by name: its token and waiting messages. */
  queue(name: string, vmId?: string): { token: number; messages: Buffer[] } | undefined {
    const q = this.shared.findQueue(toByteString(vmId ?? byteStringToText(this.vmIdBytes)), toByteString(name));
    return q ? { token: q.token, messages: q.messages } : undefined;
  }

  // ------------------------------------------------------------ metrics

  /** A metric by the name the plugin defined it with. */
  metric(name: string, type?: "counter" | "gauge" | "histogram"): MetricView | undefined {
    const key = toByteString(name);
    const types = type ? [type] : (["counter", "gauge", "histogram"] as const);
    for (const t of types) {
      const m = this.shared.metrics.get(t + "\0" + key);
      if (m) return metricView(m);
    }
    return undefined;
  }

  get metrics(): MetricView[] {
    return [...this.shared.metrics.values()].map(metricView);
  }

  // ------------------------------------------------------------ callouts (VmHost)

  removeCallout(c: HttpCallout | GrpcCallout): void {
    const list: Array<HttpCallout | GrpcCallout> = c instanceof HttpCallout ? this.httpCalls : this.grpcCalls;
    const i = list.indexOf(c);
    if (i >= 0) list.splice(i, 1);
  }

  onHttpCall(vm: Vm, root: RootContext, call: HttpCallRequest, callerContextId: number): void {
    if (vm === this.canaryVm) return; // cancelled with the canary
    const c = new HttpCallout(this, vm, root, call, callerContextId);
    // A virtual clock times the call out as Envoy would, when advanceTime passes its timeout.
    if (this.clock instanceof VirtualClock && call.timeoutMs > 0) {
      c.cancelTimeout = this.clock.schedule(this.clock.nowMs() + call.timeoutMs, () => c.pending && c.timeout());
    }
    this.httpCalls.push(c);
    this.httpCallHistory.push(c);
    if (this.httpCallHistory.length > HISTORY_LIMIT) this.httpCallHistory.splice(0, HISTORY_LIMIT / 2);
  }

  onGrpc(vm: Vm, root: RootContext, call: GrpcCallRequest, callerContextId: number): void {
    if (vm === this.canaryVm) return; // cancelled with the canary
    const c = new GrpcCallout(this, vm, root, call, callerContextId);
    this.grpcCalls.push(c);
    this.grpcCallHistory.push(c);
    if (this.grpcCallHistory.length > HISTORY_LIMIT) this.grpcCallHistory.splice(0, HISTORY_LIMIT / 2);
  }

  onGrpcSend(vm: Vm, token: number, message: Buffer, endStream: boolean): number {
    const c = this.grpcCalls.find((g) => g.token === token && g.kind === "stream" && g.belongsTo(vm));
    if (!c) return 1; // NOT_FOUND
    c.sent.push(message);
    if (endStream) c.localClosed = true;
    return 0;
  }

  onGrpcCancelOrClose(vm: Vm, token: number, how: "cancel" | "close"): number {
    const c = this.grpcCalls.find((g) => g.token === token && g.belongsTo(vm));
    if (!c) return 1; // NOT_FOUND
    if (how === "close" && c.kind === "stream") {
      c.localClosed = true;
      return 0;
    }
    c.cancelled = true;
    c.pending = false;
    this.removeCallout(c);
    return 0;
  }
}

function metricView(m: Metric): MetricView {
  return { name: m.name, type: m.type, value: Number(m.value), exact: m.value, values: m.values.map(Number) };
}
