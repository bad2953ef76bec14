// One instance of a proxy-wasm module, with the host functions Envoy gives it (proxy-wasm-cpp-host
// src/exports.cc and Envoy's source/extensions/common/wasm/context.cc are the reference).
//
// The guest is untrusted: every pointer and length is checked against the current memory, and
// any trap, proc_exit or error while guest code runs marks this VM failed without throwing out
// of the host. Hot paths avoid allocation: one Buffer/DataView over memory, refreshed only when
// the memory grew (the old ArrayBuffer is then detached and has length 0).
import { MODULE_EXPORTS, type AbiVersion } from "../abi.js";
import type { HeaderMap } from "./headers.js";
import { GuestExit } from "./calls/guest-exit.js";
import { buildImports } from "./imports.js";
import { formatPosition, type SourceTrace } from "../sourcemap/index.js";
import { CalloutIds, MetricIds, type GrpcCallRequest, type HostCallState, type HostServices, type HttpCallRequest } from "./calls/state.js";
import { FUEL_GLOBAL_EXPORT, FUEL_TABLE_EXPORT } from "./instrument.js";
import { TimeLimitError } from "./limits.js";
import { GuestClock } from "./time-limit.js";
import type { Context, Failure, Plugin, RootContext, StreamContext, StreamHandler, VmContext } from "./types.js";

/** What a VM needs from the host that owns it. */
export interface VmHost extends HostServices {
  readonly hostCallCounts: Float64Array;
  recordFailure(f: Failure): void;
  /** The filter's source positions for a trap's V8 stack, when the host has a source map. */
  sourceTrace(stack: string): SourceTrace | null;
  onHttpCall(vm: Vm, root: RootContext, call: HttpCallRequest, callerContextId: number): void;
  onGrpc(vm: Vm, root: RootContext, call: GrpcCallRequest, callerContextId: number): void;
  onGrpcSend(vm: Vm, token: number, message: Buffer, endStream: boolean): number;
  onGrpcCancelOrClose(vm: Vm, token: number, how: "cancel" | "close"): number;
}

type GuestFn = (...args: number[]) => unknown;

const EXPORT_NAMES = MODULE_EXPORTS.map((f) => f.name);

export class Vm implements HostCallState {
  readonly instance: WebAssembly.Instance;
  readonly memory: WebAssembly.Memory;
  /** Guest exports by name (only the proxy-wasm ones). */
  readonly fns: Partial<Record<string, GuestFn>> = {};
  private readonly malloc: GuestFn;
  private buf: Buffer;
  private dv: DataView;

  failed = false;
  failure: Failure | null = null;
  readonly contexts = new Map<number, RootContext | StreamContext>();
  private nextContextId = 1;
  private readonly vmContext: VmContext = { kind: "vm", id: 0 };
  private current: Context = this.vmContext;
  private effective: RootContext | StreamContext | null = null;
  private currentCallback = "";
  private errorLogDuringCall: string | undefined;
  /** Set by proxy_send_local_response: the running callback's result is forced to "stop". */
  stopNext = false;
  /** True while _initialize / main / _start (or the start function) run: most host calls trap then. */
  restricted = false;
  private afterCall: Array<() => void> = [];
  private depth = 0;
  /** The time limit's clock (limit 0: none); attached to the instance when the module was instrumented. */
  readonly clock: GuestClock;
  /** Log bytes kept during the current outermost call, for logs outside a stream. */
  callLogBytes = 0;

  readonly metrics = new MetricIds();
  readonly calloutIds = new CalloutIds();
  /** VM_CONFIGURATION (buffer 6). */
  vmConfig: Buffer = Buffer.alloc(0);
  /** The vm_id as a byte string (shared data and queues are scoped by it). */
  vmIdBytes = "";

  constructor(
    readonly host: VmHost,
    module: WebAssembly.Module,
    readonly version: AbiVersion,
    readonly index: number,
  ) {
    this.clock = new GuestClock(host.limits.timeLimitMs);
    const imports = buildImports(this, version);
    // Instantiation runs the module's start function (if any) under the startup restriction.
    this.restricted = true;
    this.currentCallback = "(start function)";
    try {
      this.host.shared.depth++;
      this.instance = new WebAssembly.Instance(module, imports);
    } catch (e) {
      this.restricted = false;
      this.host.shared.depth--;
      throw e;
    }
    this.host.shared.depth--;
    this.restricted = false;
    const ex = this.instance.exports;
    const mem = ex.memory;
    if (!(mem instanceof WebAssembly.Memory)) {
      throw new Error('the module does not export its memory as "memory"; Envoy cannot run it');
    }
    this.memory = mem;
    this.buf = Buffer.from(mem.buffer);
    this.dv = new DataView(mem.buffer);
    for (const name of EXPORT_NAMES) {
      const f = ex[name];
      if (typeof f === "function") this.fns[name] = f as GuestFn;
    }
    // Envoy looks up malloc first, then proxy_on_memory_allocate (wasm.cc getFunctions).
    const alloc = this.fns.malloc ?? this.fns.proxy_on_memory_allocate;
    if (!alloc) {
      throw new Error(
        'the module exports neither malloc nor proxy_on_memory_allocate; Envoy fails it ("Wasm module is missing malloc function")',
      );
    }
    this.malloc = alloc;
    if (host.limits.timeLimitMs > 0 && ex[FUEL_TABLE_EXPORT]) this.clock.attach(ex, FUEL_TABLE_EXPORT, FUEL_GLOBAL_EXPORT);
  }

  // ---------------------------------------------------------------- memory

  /** The current memory as a Buffer (refreshed when the memory grew). */
  mem(): Buffer {
    // memory.grow detaches the old ArrayBuffer, so a view of length 0 means "refresh".
    if (this.buf.length === 0) {
      this.buf = Buffer.from(this.memory.buffer);
      this.dv = new DataView(this.memory.buffer);
    }
    return this.buf;
  }

  inBounds(ptr: number, len: number): boolean {
    return ptr + len <= this.mem().length;
  }

  setU32(ptr: number, v: number): boolean {
    if (ptr + 4 > this.mem().length) return false;
    this.dv.setUint32(ptr, v >>> 0, true);
    return true;
  }

  setU64(ptr: number, v: bigint): boolean {
    if (ptr + 8 > this.mem().length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, v), true);
    return true;
  }

  /** Reads guest bytes as a byte string, or undefined when out of bounds. */
  str(ptr: number, len: number): string | undefined {
    const b = this.mem();
    if (ptr + len > b.length) return undefined;
    return len === 0 ? "" : b.toString("latin1", ptr, ptr + len);
  }

  /** Copies guest bytes, or undefined when out of bounds. */
  bytes(ptr: number, len: number): Buffer | undefined {
    const b = this.mem();
    if (ptr + len > b.length) return undefined;
    return Buffer.from(b.subarray(ptr, ptr + len));
  }

  /** Calls the guest allocator; returns the pointer or -1 (allocation failed or out of bounds). */
  allocate(size: number): number {
    // An allocator that calls a host function that allocates would recurse until the stack overflows.
    if (this.allocating)
      throw new GuestExit(
        `the module's allocator called a host function that allocates (re-entrant ${this.fns.malloc ? "malloc" : "proxy_on_memory_allocate"})`,
        "trap",
      );
    this.allocating = true;
    let p: number;
    try {
      p = (this.malloc(size) as number) >>> 0;
    } finally {
      this.allocating = false;
    }
    if (p === 0 || p + size > this.mem().length) return -1;
    return p;
  }
  private allocating = false;

  /** Envoy's copyToPointerSize: empty data gives pointer 0 and size 0 without allocating. */
  copyOut(data: Buffer | string, ptrPtr: number, sizePtr: number): boolean {
    const b = this.mem();
    if (ptrPtr + 4 > b.length || sizePtr + 4 > b.length) return false;
    const len = data.length;
    let p = 0;
    if (len > 0) {
      p = this.allocate(len);
      if (p < 0) return false;
      const m = this.mem();
      if (typeof data === "string") m.write(data, p, "latin1");
      else data.copy(m, p);
    }
    return this.setU32(ptrPtr, p) && this.setU32(sizePtr, len);
  }

  copyMapOut(map: HeaderMap, ptrPtr: number, sizePtr: number): boolean {
    const b = this.mem();
    if (ptrPtr + 4 > b.length || sizePtr + 4 > b.length) return false;
    if (map.size === 0) return this.setU32(ptrPtr, 0) && this.setU32(sizePtr, 0);
    const size = map.serializedSize();
    const p = this.allocate(size);
    if (p < 0) return false;
    map.writeTo(this.mem(), p);
    return this.setU32(ptrPtr, p) && this.setU32(sizePtr, size);
  }

  // ---------------------------------------------------------------- contexts

  allocContextId(): number {
    return this.nextContextId++;
  }

  newRootContext(plugin: Plugin): RootContext {
    const root: RootContext = {
      kind: "root",
      id: this.allocContextId(),
      plugin,
      tickPeriod: 0,
      pendingDone: false,
      deleted: false,
      configuring: false,
      httpCallResponse: null,
      grpcInitialMetadata: null,
      grpcTrailingMetadata: null,
      grpcMessage: null,
      status: { code: 0, message: "" },
      callData: null,
    };
    this.contexts.set(root.id, root);
    return root;
  }

  /** A stream context; the caller sets `handler` before any guest call. */
  newStreamContext(root: RootContext): StreamContext {
    const ctx: StreamContext = {
      kind: "stream",
      id: this.allocContextId(),
      root,
      handler: null as unknown as StreamHandler,
      createdInVm: false,
      logBytes: 0,
    };
    this.contexts.set(ctx.id, ctx);
    return ctx;
  }

  /** The context host calls act on: the effective one if the guest set it, else the caller. */
  ctx(): Context {
    return this.effective ?? this.current;
  }

  rootOf(c: Context): RootContext | null {
    if (c.kind === "root") return c;
    if (c.kind === "stream") return c.root;
    return null;
  }

  // ---------------------------------------------------------------- calling the guest

  /**
   * Runs guest code for `ctx`. Returns the export's result (as an unsigned number) or undefined
   * when the export is missing or the VM failed (then `failed` is set and the failure recorded).
   */
  call(name: string, ctx: Context, a = 0, b = 0, c = 0, d = 0, e = 0): number | undefined {
    const fn = this.fns[name];
    if (!fn || this.failed) return undefined;
    const savedCurrent = this.current;
    const savedEffective = this.effective;
    const savedCallback = this.currentCallback;
    const savedError = this.errorLogDuringCall;
    this.current = ctx;
    this.effective = null;
    this.currentCallback = name;
    this.errorLogDuringCall = undefined;
    if (this.depth === 0) {
      this.clock.seq++;
      this.callLogBytes = 0;
    }
    this.depth++;
    this.host.shared.depth++;
    let result: number | undefined;
    try {
      // Exact arity keeps V8 on its fast JS-to-Wasm call path.
      let r: unknown;
      switch (fn.length) {
        case 1:
          r = fn(a);
          break;
        case 2:
          r = fn(a, b);
          break;
        case 3:
          r = fn(a, b, c);
          break;
        case 0:
          r = fn();
          break;
        default:
          r = fn(a, b, c, d, e);
      }
      // Past the limit inside a host call, and no loop or call afterwards to trap at: still failed.
      if (this.clock.expired) throw new Error("time limit");
      result = typeof r === "number" ? r >>> 0 : 0;
    } catch (e) {
      this.fail(name, e, ctx.id);
    } finally {
      this.depth--;
      this.host.shared.depth--;
      this.current = savedCurrent;
      this.effective = savedEffective;
      this.currentCallback = savedCallback;
      this.errorLogDuringCall = savedError;
    }
    if (this.depth === 0 && this.clock.expired && this.host.limits.onTimeLimit === "throw" && this.failure?.kind === "time_limit") {
      const f = this.failure;
      // Thrown once: the failed VM runs no guest code again.
      this.clock.expired = false;
      throw new TimeLimitError(`wasm VM failed in ${f.callback}: ${f.message}`, f.callback, this.clock.limitMs);
    }
    return result;
  }

  /** Runs _initialize + main/__main_void, or _start, under the startup restriction. */
  runStart(): boolean {
    const ex = this.instance.exports;
    const run = (name: string): boolean => {
      const f = ex[name];
      if (typeof f !== "function") return true;
      this.fns[name] = f as GuestFn;
      this.call(name, this.vmContext, 0, 0);
      return !this.failed;
    };
    this.restricted = true;
    try {
      if (typeof ex._initialize === "function") {
        if (!run("_initialize")) return false;
        if (typeof ex.main === "function") return run("main");
        if (typeof ex.__main_void === "function") return run("__main_void");
        return true;
      }
      return run("_start");
    } finally {
      this.restricted = false;
    }
  }

  /** Marks the VM failed (Envoy's FailState::RuntimeError) and records why. */
  fail(callback: string, e: unknown, contextId: number): void {
    if (this.failed) return;
    this.failed = true;
    let kind: Failure["kind"] = "trap";
    let message: string;
    if (this.clock.expired) {
      kind = "time_limit";
      message = `ran longer than the time limit of ${this.clock.limitMs} ms (raise it with timeLimitMs or --time-limit; 0 turns it off)`;
    } else if (e instanceof GuestExit) {
      kind = e.kind;
      message = e.message;
    } else if (e instanceof WebAssembly.RuntimeError) {
      message = e.message;
    } else if (e instanceof RangeError && /call stack/i.test(e.message)) {
      message = `stack overflow (${e.message})`;
    } else {
      kind = "host_error";
      message = `host error: ${(e as Error)?.stack ?? String(e)}`;
    }
    const f: Failure = { callback, message, kind, contextId, vm: this.index };
    if (this.errorLogDuringCall !== undefined) f.abortMessage = this.errorLogDuringCall;
    // The author's line, from the module's source map (a trap in the SDK or ~lib names the author's caller).
    const trace = kind === "trap" && e instanceof Error && e.stack ? this.host.sourceTrace(e.stack) : null;
    if (trace?.at) {
      f.at = formatPosition(trace.at);
      f.stack = trace.stack;
    }
    this.failure = f;
    const said = f.abortMessage ? ` (module said: ${f.abortMessage})` : "";
    this.host.log(5, `wasm VM failed in ${callback}: ${message}${f.at ? ` at ${f.at}` : ""}${said}`, contextId, this.index);
    this.host.recordFailure(f);
  }

  /** Queues work for after the outermost guest call (Envoy's addAfterVmCallAction). */
  defer(fn: () => void): void {
    this.afterCall.push(fn);
  }

  /** Runs deferred work and cross-VM notifications once no guest code is on the stack. */
  flush(): void {
    if (this.depth !== 0) return;
    while (this.afterCall.length > 0) {
      const fn = this.afterCall.shift()!;
      fn();
    }
    this.host.shared.flush();
  }

  get busy(): boolean {
    return this.depth !== 0;
  }

  // ---------------------------------------------------------------- callbacks used by drivers

  notifyQueueReady(rootContextId: number, token: number): void {
    const root = this.contexts.get(rootContextId);
    if (!root || root.kind !== "root" || this.failed) return;
    this.call("proxy_on_queue_ready", root, root.id, token);
    this.flush();
  }

  // ---------------------------------------------------------------- host calls

  logFromGuest(level: number, message: string): void {
    if (level >= 4) this.errorLogDuringCall = message;
    this.host.log(level, message, this.ctx().id, this.index, "filter");
  }

  setEffective(c: RootContext | StreamContext): void {
    this.effective = c;
  }

  get vmId(): string {
    return this.vmIdBytes;
  }

  dispatchHttpCall(root: RootContext, call: HttpCallRequest, callerContextId: number): void {
    this.host.onHttpCall(this, root, call, callerContextId);
  }

  dispatchGrpc(root: RootContext, call: GrpcCallRequest, callerContextId: number): void {
    this.host.onGrpc(this, root, call, callerContextId);
  }

  grpcSend(token: number, message: Buffer, endStream: boolean): number {
    return this.host.onGrpcSend(this, token, message, endStream);
  }

  grpcCancelOrClose(token: number, how: "cancel" | "close"): number {
    return this.host.onGrpcCancelOrClose(this, token, how);
  }

  /** Envoy: proxy_on_delete on a root whose proxy_on_done finished. */
  deleteRoot(root: RootContext): void {
    if (root.deleted) return;
    this.call("proxy_on_delete", root, root.id);
    root.deleted = true;
    this.contexts.delete(root.id);
  }
}
