// What a host keeps about its VMs for tests and the run command: log entries, failures, host-call
// counts, metrics and the callouts the guest dispatched. Host (host.ts) extends it with the driving
// of the VMs.
import { LogLevel } from "../abi.js";
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
  private readonly onLog?: (entry: LogEntry) => void;
  private logChars = 0;

  constructor(options: HostOptions) {
    this.shared = options.shared ?? new SharedState();
    this.logLevel = options.logLevel ?? LogLevel.Trace;
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
