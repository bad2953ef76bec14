// One instance of a proxy-wasm module, with the host functions Envoy gives it (proxy-wasm-cpp-host
// src/exports.cc and Envoy's source/extensions/common/wasm/context.cc are the reference).
//
// The guest is untrusted: every pointer and length is checked against the current memory, and
// any trap, proc_exit or error while guest code runs marks this VM failed without throwing out
// of the host. Hot paths avoid allocation: one Buffer/DataView over memory, refreshed only when
// the memory grew (the old ArrayBuffer is then detached and has length 0).
import {
  BufferType,
  HOST_FUNCTIONS,
  MAX_RANDOM_BYTES,
  MODULE_EXPORTS,
  MapType,
  Status,
  WASI_FUNCTIONS,
  WASI_MODULES,
  WASI_ENOSYS,
  ENV_EXTRAS,
  hostFunctionsFor,
  type AbiVersion,
} from "../abi.js";
import { randomFillSync } from "node:crypto";
import { lowerAscii } from "./bytes.js";
import { HeaderMap } from "./headers.js";
import { decodePairs } from "./pairs.js";
import { canonicalPath, propertyBytes, type PropertyValue } from "./properties.js";
import type { SharedState, QueueOwner } from "./shared.js";
import { LocalReply, type BufferSlot, type Context, type Failure, type Plugin, type RootContext, type StreamContext, type StreamHandler, type VmContext } from "./types.js";

/** Thrown by proc_exit and by restricted calls to unwind the guest's stack. */
export class GuestExit extends Error {
  constructor(
    message: string,
    readonly kind: "proc_exit" | "trap",
  ) {
    super(message);
  }
}

/** A proxy_http_call as dispatched by the guest. */
export interface HttpCallRequest {
  token: number;
  upstream: string;
  headers: HeaderMap;
  body: Buffer;
  trailers: HeaderMap;
  timeoutMs: number;
}

export interface GrpcCallRequest {
  token: number;
  kind: "call" | "stream";
  upstream: string;
  service: string;
  method: string;
  metadata: HeaderMap;
  message: Buffer | null;
  timeoutMs: number;
}

/** What a VM needs from the host that owns it. */
export interface VmHost {
  readonly shared: SharedState;
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly logLevel: number;
  readonly foreignFunctions: Readonly<Record<string, (args: Uint8Array) => Uint8Array | number>>;
  readonly upstreams: ReadonlySet<string> | null;
  readonly hostCallCounts: Float64Array;
  log(level: number, message: string, contextId: number, vm: number): void;
  recordFailure(f: Failure): void;
  onHttpCall(vm: Vm, root: RootContext, call: HttpCallRequest, callerContextId: number): void;
  onGrpc(vm: Vm, root: RootContext, call: GrpcCallRequest, callerContextId: number): void;
  onGrpcSend(vm: Vm, token: number, message: Buffer, endStream: boolean): number;
  onGrpcCancelOrClose(vm: Vm, token: number, how: "cancel" | "close"): number;
  /** Host-level properties (embedder-set and plugin_*), for any context. */
  hostProperty(key: string, plugin: Plugin | null, inStream: boolean): PropertyValue | undefined;
}

/** Host function names, in HOST_FUNCTIONS order; index = slot in hostCallCounts. */
export const HOST_FUNCTION_NAMES: readonly string[] = [
  ...HOST_FUNCTIONS.map((f) => f.name),
  ...WASI_FUNCTIONS.map((f) => f.name),
  ...ENV_EXTRAS.map((f) => f.name),
];
const INDEX = new Map(HOST_FUNCTION_NAMES.map((n, i) => [n, i]));

/** Imports Envoy allows while _initialize / main / _start run (wasm.cc startVm). */
const ALLOWED_DURING_START = new Set([
  "proxy_log",
  "fd_write",
  "args_sizes_get",
  "args_get",
  "environ_sizes_get",
  "environ_get",
  "clock_time_get",
  "clock_res_get",
  "random_get",
  "poll_oneoff",
  "fd_fdstat_get",
  "fd_prestat_get",
  "fd_prestat_dir_name",
]);

type GuestFn = (...args: number[]) => unknown;

const EXPORT_NAMES = MODULE_EXPORTS.map((f) => f.name);

const WASI_BADF = 8;
const WASI_FAULT = 21;
const WASI_INVAL = 28;
const WASI_NOSYS = 52;
const WASI_NOTSUP = 58;

const MONO_ORIGIN = process.hrtime.bigint();

/**
 * Limits that keep a runaway module from exhausting the Node process through the host (Envoy
 * has its own: buffer watermarks and max_request_headers_kb, at most 8 MiB).
 */
export const MAX_BUFFER_BYTES = 64 * 1024 * 1024;
export const MAX_HEADER_MAP_BYTES = 8 * 1024 * 1024;

export class Vm implements QueueOwner {
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
  private restricted = false;
  private afterCall: Array<() => void> = [];
  private depth = 0;

  // Metric ids as Envoy allocates them: type in the low 2 bits, +4 per metric.
  private nextMetric = [0, 1, 2];
  private readonly metricIds = new Map<number, ReturnType<SharedState["metricFor"]>>();
  private nextHttpCallId = 0;
  private nextGrpcCallId = 1;
  private nextGrpcStreamId = 2;

  constructor(
    readonly host: VmHost,
    module: WebAssembly.Module,
    readonly version: AbiVersion,
    readonly index: number,
  ) {
    const imports = this.buildImports();
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
      throw new Error("the module exports neither malloc nor proxy_on_memory_allocate; Envoy fails it (\"Wasm module is missing malloc function\")");
    }
    this.malloc = alloc;
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

  private inBounds(ptr: number, len: number): boolean {
    return ptr + len <= this.mem().length;
  }

  private setU32(ptr: number, v: number): boolean {
    if (ptr + 4 > this.mem().length) return false;
    this.dv.setUint32(ptr, v >>> 0, true);
    return true;
  }

  private setU64(ptr: number, v: bigint): boolean {
    if (ptr + 8 > this.mem().length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, v), true);
    return true;
  }

  /** Reads guest bytes as a byte string, or undefined when out of bounds. */
  private str(ptr: number, len: number): string | undefined {
    const b = this.mem();
    if (ptr + len > b.length) return undefined;
    return len === 0 ? "" : b.toString("latin1", ptr, ptr + len);
  }

  /** Copies guest bytes, or undefined when out of bounds. */
  private bytes(ptr: number, len: number): Buffer | undefined {
    const b = this.mem();
    if (ptr + len > b.length) return undefined;
    return Buffer.from(b.subarray(ptr, ptr + len));
  }

  /** Calls the guest allocator; returns the pointer or -1 (allocation failed or out of bounds). */
  allocate(size: number): number {
    const p = (this.malloc(size) as number) >>> 0;
    if (p === 0 || p + size > this.mem().length) return -1;
    return p;
  }

  /** Envoy's copyToPointerSize: empty data gives pointer 0 and size 0 without allocating. */
  private copyOut(data: Buffer | string, ptrPtr: number, sizePtr: number): boolean {
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

  private copyMapOut(map: HeaderMap, ptrPtr: number, sizePtr: number): boolean {
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
    const ctx: StreamContext = { kind: "stream", id: this.allocContextId(), root, handler: null as unknown as StreamHandler, createdInVm: false };
    this.contexts.set(ctx.id, ctx);
    return ctx;
  }

  /** The context host calls act on: the effective one if the guest set it, else the caller. */
  private ctx(): Context {
    return this.effective ?? this.current;
  }

  private rootOf(c: Context): RootContext | null {
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
    this.depth++;
    this.host.shared.depth++;
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
      return typeof r === "number" ? r >>> 0 : 0;
    } catch (e) {
      this.fail(name, e, ctx.id);
      return undefined;
    } finally {
      this.depth--;
      this.host.shared.depth--;
      this.current = savedCurrent;
      this.effective = savedEffective;
      this.currentCallback = savedCallback;
      this.errorLogDuringCall = savedError;
    }
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
    if (e instanceof GuestExit) {
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
    this.failure = f;
    this.host.log(5, `wasm VM failed in ${callback}: ${message}${f.abortMessage ? ` (module said: ${f.abortMessage})` : ""}`, contextId, this.index);
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

  // ---------------------------------------------------------------- imports

  private buildImports(): WebAssembly.Imports {
    const env: Record<string, unknown> = {};
    const impl = this.hostImpl();
    for (const f of hostFunctionsFor(this.version)) {
      const fn = impl[f.name];
      if (!fn) throw new Error(`internal: no implementation of ${f.name}`);
      env[f.name] = this.wrap(f.name, fn, f.params.length);
    }
    // Envoy's emscripten/pthread shims (abi.ts ENV_EXTRAS).
    const extras: Record<string, (...a: number[]) => number | void> = {
      emscripten_notify_memory_growth: () => {},
      pthread_equal: (a: number, b: number) => (a === b ? 1 : 0),
    };
    for (const f of ENV_EXTRAS) env[f.name] = this.wrap(f.name, extras[f.name], f.params.length);
    const wasi: Record<string, unknown> = {};
    const wimpl = this.wasiImpl();
    for (const f of WASI_FUNCTIONS) {
      const fn = wimpl[f.name] ?? (f.stub ? () => WASI_ENOSYS : undefined);
      if (!fn) throw new Error(`internal: no implementation of ${f.name}`);
      wasi[f.name] = this.wrap(f.name, fn, f.params.length);
    }
    const out: WebAssembly.Imports = { env: env as WebAssembly.ModuleImports };
    for (const m of WASI_MODULES) out[m] = wasi as WebAssembly.ModuleImports;
    return out;
  }

  /** Counts the call and applies the startup restriction (V8 in Envoy traps "restricted_callback"). */
  private wrap(name: string, fn: (...a: any[]) => any, arity: number): (...a: any[]) => any {
    const idx = INDEX.get(name)!;
    const counts = this.host.hostCallCounts;
    const allowed = ALLOWED_DURING_START.has(name);
    const restricted = (): never => {
      this.host.log(4, `Attempted call to restricted capability during VM start: ${name} (Envoy only allows logging, clocks, random and environment while _initialize/main/_start run)`, 0, this.index);
      throw new GuestExit(`restricted_callback: ${name} called during VM start`, "trap");
    };
    if (allowed) {
      switch (arity) {
        case 0: return () => (counts[idx]++, fn());
        case 1: return (a: any) => (counts[idx]++, fn(a));
        case 2: return (a: any, b: any) => (counts[idx]++, fn(a, b));
        case 3: return (a: any, b: any, c: any) => (counts[idx]++, fn(a, b, c));
        case 4: return (a: any, b: any, c: any, d: any) => (counts[idx]++, fn(a, b, c, d));
        default: return (...a: any[]) => (counts[idx]++, fn(...a));
      }
    }
    switch (arity) {
      case 0: return () => (counts[idx]++, this.restricted ? restricted() : fn());
      case 1: return (a: any) => (counts[idx]++, this.restricted ? restricted() : fn(a));
      case 2: return (a: any, b: any) => (counts[idx]++, this.restricted ? restricted() : fn(a, b));
      case 3: return (a: any, b: any, c: any) => (counts[idx]++, this.restricted ? restricted() : fn(a, b, c));
      case 4: return (a: any, b: any, c: any, d: any) => (counts[idx]++, this.restricted ? restricted() : fn(a, b, c, d));
      case 5: return (a: any, b: any, c: any, d: any, e: any) => (counts[idx]++, this.restricted ? restricted() : fn(a, b, c, d, e));
      default: return (...a: any[]) => (counts[idx]++, this.restricted ? restricted() : fn(...a));
    }
  }

  private logFromGuest(level: number, message: string): void {
    if (level >= 4) this.errorLogDuringCall = message;
    this.host.log(level, message, this.ctx().id, this.index);
  }

  private mapFor(type: number, write: boolean): HeaderMap | null | "bad" {
    if (type > MapType.HttpCallResponseTrailers) return "bad";
    const c = this.ctx();
    if (type <= MapType.HttpResponseTrailers) {
      return c.kind === "stream" ? c.handler.map(type, write) : null;
    }
    // gRPC and HTTP-call maps live on the root context and are read-only (Envoy getMap() has
    // no mutable form of them).
    if (write) return null;
    const root = this.rootOf(c);
    if (!root) return null;
    switch (type) {
      case MapType.GrpcReceiveInitialMetadata:
        return root.grpcInitialMetadata;
      case MapType.GrpcReceiveTrailingMetadata:
        return root.grpcTrailingMetadata;
      case MapType.HttpCallResponseHeaders:
        return root.httpCallResponse?.headers ?? null;
      default:
        return root.httpCallResponse?.trailers ?? null;
    }
  }

  private bufferFor(type: number): BufferSlot | null {
    const c = this.ctx();
    const root = this.rootOf(c);
    switch (type) {
      case BufferType.HttpRequestBody:
      case BufferType.HttpResponseBody:
      case BufferType.DownstreamData:
      case BufferType.UpstreamData:
        return c.kind === "stream" ? c.handler.buffer(type) : { data: EMPTY, mutable: false };
      case BufferType.HttpCallResponseBody:
        return root?.httpCallResponse ? { data: root.httpCallResponse.body, mutable: false } : null;
      case BufferType.GrpcReceiveBuffer:
        return { data: root?.grpcMessage ?? EMPTY, mutable: false };
      case BufferType.VmConfiguration:
        return { data: this.vmConfig, mutable: false };
      case BufferType.PluginConfiguration:
        return root?.configuring ? { data: root.plugin.config, mutable: false } : null;
      case BufferType.ForeignFunctionArguments:
        return { data: root?.callData ?? EMPTY, mutable: false };
      default:
        return null;
    }
  }

  vmConfig: Buffer = Buffer.alloc(0);

  private hostImpl(): Record<string, (...a: any[]) => number> {
    const S = Status;
    const u = (x: number) => x >>> 0;
    const tooBig = (fn: string): number => {
      this.host.log(3, `${fn}: refused to grow a map past ${MAX_HEADER_MAP_BYTES} bytes`, this.ctx().id, this.index);
      return S.BadArgument;
    };
    /** proxy_add_header_map_value and proxy_replace_header_map_value: the same checks, then add or replace. */
    const writeMapValue = (fn: "proxy_add_header_map_value" | "proxy_replace_header_map_value", type: number, kPtr: number, kSize: number, vPtr: number, vSize: number): number => {
      type = u(type);
      if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
      const key = this.str(u(kPtr), u(kSize));
      const value = this.str(u(vPtr), u(vSize));
      if (key === undefined || value === undefined) return S.InvalidMemoryAccess;
      const m = this.mapFor(type, true);
      if (m === null || m === "bad") return S.BadArgument;
      if (m.byteSize() + key.length + value.length > MAX_HEADER_MAP_BYTES) return tooBig(fn);
      if (fn === "proxy_add_header_map_value") m.add(lowerAscii(key), value);
      else m.replace(lowerAscii(key), value);
      return S.Ok;
    };
    const badPairs = (fn: string, reason: string): number => {
      this.host.log(3, `${fn}: rejected a malformed map from the module: ${reason}`, this.ctx().id, this.index);
      return S.BadArgument;
    };
    return {
      proxy_log: (level: number, ptr: number, size: number) => {
        ptr = u(ptr);
        size = u(size);
        const m = this.mem();
        if (ptr + size > m.length) return S.InvalidMemoryAccess;
        level = u(level);
        if (level > 5) return S.BadArgument;
        // Below the host's level nothing is recorded, so nothing is decoded either.
        if (level >= this.host.logLevel || level >= 4) this.logFromGuest(level, m.toString("utf8", ptr, ptr + size));
        return S.Ok;
      },
      proxy_get_log_level: (retPtr: number) => (this.setU32(u(retPtr), this.host.logLevel) ? S.Ok : S.InvalidMemoryAccess),
      proxy_get_current_time_nanoseconds: (retPtr: number) =>
        this.setU64(u(retPtr), BigInt(Date.now()) * 1_000_000n) ? S.Ok : S.InvalidMemoryAccess,
      proxy_set_tick_period_milliseconds: (period: number) => {
        const root = this.rootOf(this.ctx());
        if (!root) return S.BadArgument;
        root.tickPeriod = u(period);
        return S.Ok;
      },
      proxy_set_effective_context: (id: number) => {
        const c = this.contexts.get(u(id));
        if (!c) return S.BadArgument;
        this.effective = c;
        return S.Ok;
      },
      proxy_done: () => {
        const root = this.rootOf(this.ctx());
        if (!root || !root.pendingDone) return S.NotFound;
        root.pendingDone = false;
        this.defer(() => this.deleteRoot(root));
        return S.Ok;
      },
      proxy_call_foreign_function: (nPtr: number, nSize: number, aPtr: number, aSize: number, rPtr: number, rSize: number) => {
        const name = this.str(u(nPtr), u(nSize));
        if (name === undefined) return S.InvalidMemoryAccess;
        const args = this.bytes(u(aPtr), u(aSize));
        if (args === undefined) return S.InvalidMemoryAccess;
        const f = Object.prototype.hasOwnProperty.call(this.host.foreignFunctions, name) ? this.host.foreignFunctions[name] : undefined;
        if (!f) return S.NotFound;
        const r = f(args);
        if (typeof r === "number") return r >>> 0;
        const out = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
        rPtr = u(rPtr);
        rSize = u(rSize);
        if (rPtr === 0) return rSize === 0 || this.setU32(rSize, out.length) ? S.Ok : S.InvalidMemoryAccess;
        return this.copyOut(out, rPtr, rSize) ? S.Ok : S.InvalidMemoryAccess;
      },

      // Buffers
      proxy_get_buffer_bytes: (type: number, start: number, maxSize: number, rPtr: number, rSize: number) => {
        type = u(type);
        if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
        const slot = this.bufferFor(type);
        if (!slot) return S.NotFound;
        const data = slot.data;
        start = u(start);
        let len = u(maxSize);
        if (start > data.length) len = 0;
        else if (start + len > data.length) len = data.length - start;
        if (len === 0) return this.setU32(u(rPtr), 0) && this.setU32(u(rSize), 0) ? S.Ok : S.InvalidMemoryAccess;
        return this.copyOut(data.subarray(start, start + len), u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_get_buffer_status: (type: number, lenPtr: number, flagsPtr: number) => {
        type = u(type);
        if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
        const slot = this.bufferFor(type);
        if (!slot) return S.NotFound;
        // Envoy always reports flags 0 (proxy-wasm-cpp-host exports.cc get_buffer_status).
        return this.setU32(u(lenPtr), slot.data.length) && this.setU32(u(flagsPtr), 0) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_set_buffer_bytes: (type: number, start: number, size: number, dPtr: number, dSize: number) => {
        type = u(type);
        if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
        const slot = this.bufferFor(type);
        if (!slot) return S.NotFound;
        const data = this.bytes(u(dPtr), u(dSize));
        if (data === undefined) return S.InvalidMemoryAccess;
        if (!slot.mutable) return S.BadArgument;
        start = u(start);
        size = u(size);
        const cur = slot.data;
        // Envoy's Buffer::copyFrom: (0,0) prepends, (0, >= length) replaces everything,
        // start >= length appends; any other range is BAD_ARGUMENT.
        const grown = start === 0 && size >= cur.length ? data.length : cur.length + data.length;
        if (grown > MAX_BUFFER_BYTES) {
          this.host.log(3, `proxy_set_buffer_bytes: refused to grow a buffer to ${grown} bytes (the host's limit is ${MAX_BUFFER_BYTES})`, this.ctx().id, this.index);
          return S.BadArgument;
        }
        if (start === 0) {
          if (size === 0) slot.data = Buffer.concat([data, cur]);
          else if (size >= cur.length) slot.data = data;
          else return S.BadArgument;
        } else if (start >= cur.length) {
          slot.data = Buffer.concat([cur, data]);
        } else {
          return S.BadArgument;
        }
        return S.Ok;
      },

      // Header maps
      proxy_get_header_map_pairs: (type: number, rPtr: number, rSize: number) => {
        const m = this.mapFor(u(type), false);
        if (m === "bad") return S.BadArgument;
        // A map that is not available reads as empty (Envoy headerMapToPairs(nullptr)).
        return this.copyMapOut(m ?? EMPTY_MAP, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_set_header_map_pairs: (type: number, ptr: number, size: number) => {
        type = u(type);
        if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
        ptr = u(ptr);
        size = u(size);
        if (!this.inBounds(ptr, size)) return S.InvalidMemoryAccess;
        const parsed = decodePairs(this.mem(), ptr, size);
        if (typeof parsed === "string") return badPairs("proxy_set_header_map_pairs", parsed);
        const m = this.mapFor(type, true);
        if (m === null || m === "bad") return S.BadArgument;
        if (size > MAX_HEADER_MAP_BYTES) return S.BadArgument;
        m.setAll(parsed.keys, parsed.values);
        return S.Ok;
      },
      proxy_get_header_map_size: (type: number, rPtr: number) => {
        const m = this.mapFor(u(type), true);
        if (m === null || m === "bad") return S.BadArgument;
        return this.setU32(u(rPtr), m.byteSize()) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_get_header_map_value: (type: number, kPtr: number, kSize: number, rPtr: number, rSize: number) => {
        type = u(type);
        if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
        const key = this.str(u(kPtr), u(kSize));
        if (key === undefined) return S.InvalidMemoryAccess;
        const m = this.mapFor(type, false);
        if (m === null || m === "bad") {
          const c = this.ctx();
          return c.kind === "stream" && c.handler.inLogPhase() ? S.NotFound : S.BadArgument;
        }
        const v = m.get(lowerAscii(key));
        if (v === undefined) return S.NotFound;
        return this.copyOut(v, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_replace_header_map_value: (type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) =>
        writeMapValue("proxy_replace_header_map_value", type, kPtr, kSize, vPtr, vSize),
      proxy_remove_header_map_value: (type: number, kPtr: number, kSize: number) => {
        type = u(type);
        if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
        const key = this.str(u(kPtr), u(kSize));
        if (key === undefined) return S.InvalidMemoryAccess;
        const m = this.mapFor(type, true);
        if (m === null || m === "bad") return S.BadArgument;
        m.remove(lowerAscii(key));
        return S.Ok;
      },
      proxy_add_header_map_value: (type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) =>
        writeMapValue("proxy_add_header_map_value", type, kPtr, kSize, vPtr, vSize),

      // Streams
      proxy_continue_stream: (type: number) => {
        type = u(type);
        if (type > 3) return S.BadArgument;
        const c = this.ctx();
        if (c.kind !== "stream") return S.Ok; // Envoy: no callbacks on a root context, nothing happens
        return c.handler.continueStream(type);
      },
      proxy_close_stream: (type: number) => {
        type = u(type);
        if (type > 3) return S.BadArgument;
        const c = this.ctx();
        if (c.kind !== "stream") return S.Ok;
        return c.handler.closeStream(type);
      },
      proxy_send_local_response: (
        code: number, dPtr: number, dSize: number, bPtr: number, bSize: number, hPtr: number, hSize: number, grpc: number,
      ) => {
        const details = this.str(u(dPtr), u(dSize));
        const body = this.bytes(u(bPtr), u(bSize));
        hPtr = u(hPtr);
        hSize = u(hSize);
        if (details === undefined || body === undefined || !this.inBounds(hPtr, hSize)) return S.InvalidMemoryAccess;
        const parsed = decodePairs(this.mem(), hPtr, hSize);
        if (typeof parsed === "string") return badPairs("proxy_send_local_response", parsed);
        const headers = new HeaderMap();
        for (let i = 0; i < parsed.keys.length; i++) headers.add(lowerAscii(parsed.keys[i]), parsed.values[i]);
        const c = this.ctx();
        if (c.kind === "stream") {
          // Envoy replaces whitespace in details with "_" (StringUtil::replaceAllEmptySpace).
          const text = details === "" ? "" : Buffer.from(details, "latin1").toString("utf8").replace(/\s/g, "_");
          c.handler.sendLocalResponse(new LocalReply(u(code), headers, body, text, grpc | 0));
        }
        this.stopNext = true;
        return S.Ok;
      },
      proxy_get_status: (codePtr: number, mPtr: number, mSize: number) => {
        const root = this.rootOf(this.ctx());
        const st = root?.status ?? { code: 0, message: "" };
        if (!this.setU32(u(codePtr), st.code)) return S.InvalidMemoryAccess;
        return this.copyOut(Buffer.from(st.message, "utf8"), u(mPtr), u(mSize)) ? S.Ok : S.InvalidMemoryAccess;
      },

      // Properties
      proxy_get_property: (pPtr: number, pSize: number, rPtr: number, rSize: number) => {
        const raw = this.str(u(pPtr), u(pSize));
        if (raw === undefined) return S.InvalidMemoryAccess;
        const v = this.property(canonicalPath(raw));
        if (v === undefined) return S.NotFound;
        return this.copyOut(propertyBytes(v), u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_set_property: (pPtr: number, pSize: number, vPtr: number, vSize: number) => {
        const raw = this.str(u(pPtr), u(pSize));
        const value = this.bytes(u(vPtr), u(vSize));
        if (raw === undefined || value === undefined) return S.InvalidMemoryAccess;
        const c = this.ctx();
        // Envoy stores it as filter state of the stream; a root context has no stream (NOT_FOUND).
        if (c.kind !== "stream") return S.NotFound;
        return c.handler.guestSetProperty(canonicalPath(raw), value);
      },

      // Shared data and queues
      proxy_get_shared_data: (kPtr: number, kSize: number, rPtr: number, rSize: number, casPtr: number) => {
        const key = this.str(u(kPtr), u(kSize));
        if (key === undefined) return S.InvalidMemoryAccess;
        const v = this.host.shared.getData(this.vmId, key);
        if (!v) return S.NotFound;
        if (!this.inBounds(u(casPtr), 4)) return S.InvalidMemoryAccess;
        if (!this.copyOut(v.value, u(rPtr), u(rSize))) return S.InvalidMemoryAccess;
        return this.setU32(u(casPtr), v.cas) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_set_shared_data: (kPtr: number, kSize: number, vPtr: number, vSize: number, cas: number) => {
        const key = this.str(u(kPtr), u(kSize));
        const value = this.bytes(u(vPtr), u(vSize));
        if (key === undefined || value === undefined) return S.InvalidMemoryAccess;
        return this.host.shared.setData(this.vmId, key, value, u(cas)) ? S.Ok : S.CasMismatch;
      },
      proxy_register_shared_queue: (nPtr: number, nSize: number, rPtr: number) => {
        const name = this.str(u(nPtr), u(nSize));
        if (name === undefined) return S.InvalidMemoryAccess;
        if (!this.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
        const root = this.rootOf(this.ctx());
        if (!root) return S.BadArgument;
        const token = this.host.shared.registerQueue(this.vmId, name, this, root.id);
        return this.setU32(u(rPtr), token) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_resolve_shared_queue: (vPtr: number, vSize: number, nPtr: number, nSize: number, rPtr: number) => {
        const vmId = this.str(u(vPtr), u(vSize));
        const name = this.str(u(nPtr), u(nSize));
        if (vmId === undefined || name === undefined) return S.InvalidMemoryAccess;
        const token = this.host.shared.resolveQueue(vmId === "" ? this.vmId : vmId, name);
        if (token === 0) return S.NotFound;
        return this.setU32(u(rPtr), token) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_enqueue_shared_queue: (token: number, vPtr: number, vSize: number) => {
        const value = this.bytes(u(vPtr), u(vSize));
        if (value === undefined) return S.InvalidMemoryAccess;
        return this.host.shared.enqueue(u(token), value) ? S.Ok : S.NotFound;
      },
      proxy_dequeue_shared_queue: (token: number, rPtr: number, rSize: number) => {
        const q = this.host.shared.queue(u(token));
        if (!q) return S.NotFound;
        if (q.messages.length === 0) return S.Empty;
        if (!this.inBounds(u(rPtr), 4) || !this.inBounds(u(rSize), 4)) return S.InvalidMemoryAccess;
        const msg = q.messages.shift()!;
        return this.copyOut(msg, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
      },

      // Metrics (Envoy context.cc defineMetric / incrementMetric / recordMetric / getMetric)
      proxy_define_metric: (type: number, nPtr: number, nSize: number, rPtr: number) => {
        type = u(type);
        const name = this.str(u(nPtr), u(nSize));
        if (name === undefined) return S.InvalidMemoryAccess;
        if (type > 2) return S.BadArgument;
        if (!this.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
        const id = (this.nextMetric[type] += 4);
        this.metricIds.set(id, this.host.shared.metricFor(name, type));
        return this.setU32(u(rPtr), id) ? S.Ok : S.InvalidMemoryAccess;
      },
      proxy_increment_metric: (id: number, offset: bigint) => {
        id = u(id);
        const m = this.metricIds.get(id);
        const type = id & 3;
        if (type === 0) {
          if (!m) return S.NotFound;
          if (offset <= 0n) return S.BadArgument;
          m.value = BigInt.asUintN(64, m.value + offset);
          return S.Ok;
        }
        if (type === 1) {
          if (!m) return S.NotFound;
          m.value = BigInt.asUintN(64, m.value + offset);
          return S.Ok;
        }
        return S.BadArgument;
      },
      proxy_record_metric: (id: number, value: bigint) => {
        id = u(id);
        const m = this.metricIds.get(id);
        if (!m) return S.NotFound;
        const v = BigInt.asUintN(64, value);
        const type = id & 3;
        if (type === 0) m.value = BigInt.asUintN(64, m.value + v);
        else if (type === 1) m.value = v;
        else this.host.shared.recordHistogram(m, v);
        return S.Ok;
      },
      proxy_get_metric: (id: number, rPtr: number) => {
        id = u(id);
        const type = id & 3;
        if (type === 2) return S.BadArgument;
        const m = this.metricIds.get(id);
        if (!m) return S.NotFound;
        return this.setU64(u(rPtr), m.value) ? S.Ok : S.InvalidMemoryAccess;
      },

      // Callouts: they belong to the root context and answer on the root context id.
      proxy_http_call: (
        uPtr: number, uSize: number, hPtr: number, hSize: number, bPtr: number, bSize: number, tPtr: number, tSize: number, timeout: number, rPtr: number,
      ) => {
        const upstream = this.str(u(uPtr), u(uSize));
        const body = this.bytes(u(bPtr), u(bSize));
        hPtr = u(hPtr); hSize = u(hSize); tPtr = u(tPtr); tSize = u(tSize);
        if (upstream === undefined || body === undefined || !this.inBounds(hPtr, hSize) || !this.inBounds(tPtr, tSize)) {
          return S.InvalidMemoryAccess;
        }
        const hp = decodePairs(this.mem(), hPtr, hSize);
        if (typeof hp === "string") return badPairs("proxy_http_call (headers)", hp);
        const tp = decodePairs(this.mem(), tPtr, tSize);
        if (typeof tp === "string") return badPairs("proxy_http_call (trailers)", tp);
        if (!this.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
        const root = this.rootOf(this.ctx());
        if (!root) return S.BadArgument;
        if ((timeout | 0) < 0) return S.BadArgument;
        if (this.host.upstreams && !this.host.upstreams.has(Buffer.from(upstream, "latin1").toString("utf8"))) return S.BadArgument;
        const headers = new HeaderMap();
        for (let i = 0; i < hp.keys.length; i++) headers.add(lowerAscii(hp.keys[i]), hp.values[i]);
        const trailers = new HeaderMap();
        for (let i = 0; i < tp.keys.length; i++) trailers.add(lowerAscii(tp.keys[i]), tp.values[i]);
        if (headers.get(":path") === undefined || headers.get(":method") === undefined || headers.get(":authority") === undefined) {
          return S.BadArgument;
        }
        const token = (this.nextHttpCallId += 4);
        this.host.onHttpCall(this, root, { token, upstream, headers, body, trailers, timeoutMs: u(timeout) }, this.ctx().id);
        this.setU32(u(rPtr), token);
        return S.Ok;
      },
      proxy_grpc_call: (
        uPtr: number, uSize: number, sPtr: number, sSize: number, mPtr: number, mSize: number, mdPtr: number, mdSize: number,
        msgPtr: number, msgSize: number, timeout: number, rPtr: number,
      ) => {
        const upstream = this.str(u(uPtr), u(uSize));
        const service = this.str(u(sPtr), u(sSize));
        const method = this.str(u(mPtr), u(mSize));
        const message = this.bytes(u(msgPtr), u(msgSize));
        mdPtr = u(mdPtr); mdSize = u(mdSize);
        if (upstream === undefined || service === undefined || method === undefined || message === undefined || !this.inBounds(mdPtr, mdSize)) {
          return S.InvalidMemoryAccess;
        }
        const md = decodePairs(this.mem(), mdPtr, mdSize);
        if (typeof md === "string") return badPairs("proxy_grpc_call (metadata)", md);
        const root = this.rootOf(this.ctx());
        if (!root) return S.BadArgument;
        if (this.host.upstreams && !this.host.upstreams.has(Buffer.from(upstream, "latin1").toString("utf8"))) return S.ParseFailure;
        if (!this.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
        const metadata = new HeaderMap();
        for (let i = 0; i < md.keys.length; i++) metadata.add(lowerAscii(md.keys[i]), md.values[i]);
        const token = (this.nextGrpcCallId += 4);
        this.host.onGrpc(this, root, { token, kind: "call", upstream, service, method, metadata, message, timeoutMs: u(timeout) }, this.ctx().id);
        this.setU32(u(rPtr), token);
        return S.Ok;
      },
      proxy_grpc_stream: (
        uPtr: number, uSize: number, sPtr: number, sSize: number, mPtr: number, mSize: number, mdPtr: number, mdSize: number, rPtr: number,
      ) => {
        const upstream = this.str(u(uPtr), u(uSize));
        const service = this.str(u(sPtr), u(sSize));
        const method = this.str(u(mPtr), u(mSize));
        mdPtr = u(mdPtr); mdSize = u(mdSize);
        if (upstream === undefined || service === undefined || method === undefined || !this.inBounds(mdPtr, mdSize)) {
          return S.InvalidMemoryAccess;
        }
        const md = decodePairs(this.mem(), mdPtr, mdSize);
        if (typeof md === "string") return badPairs("proxy_grpc_stream (metadata)", md);
        const root = this.rootOf(this.ctx());
        if (!root) return S.BadArgument;
        if (this.host.upstreams && !this.host.upstreams.has(Buffer.from(upstream, "latin1").toString("utf8"))) return S.ParseFailure;
        if (!this.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
        const metadata = new HeaderMap();
        for (let i = 0; i < md.keys.length; i++) metadata.add(lowerAscii(md.keys[i]), md.values[i]);
        const token = (this.nextGrpcStreamId += 4);
        this.host.onGrpc(this, root, { token, kind: "stream", upstream, service, method, metadata, message: null, timeoutMs: 0 }, this.ctx().id);
        this.setU32(u(rPtr), token);
        return S.Ok;
      },
      proxy_grpc_send: (token: number, mPtr: number, mSize: number, endStream: number) => {
        const msg = this.bytes(u(mPtr), u(mSize));
        if (msg === undefined) return S.InvalidMemoryAccess;
        return this.host.onGrpcSend(this, u(token), msg, u(endStream) !== 0);
      },
      proxy_grpc_cancel: (token: number) => this.host.onGrpcCancelOrClose(this, u(token), "cancel"),
      proxy_grpc_close: (token: number) => this.host.onGrpcCancelOrClose(this, u(token), "close"),

      // 0.1.0-only functions are never registered for 0.2.x modules (hostFunctionsFor filters them).
      proxy_get_configuration: () => S.Unimplemented,
      proxy_continue_request: () => S.Unimplemented,
      proxy_continue_response: () => S.Unimplemented,
      proxy_clear_route_cache: () => S.Unimplemented,
    };
  }

  get vmId(): string {
    return this.vmIdBytes;
  }
  vmIdBytes = "";

  private property(key: string): PropertyValue | undefined {
    const c = this.ctx();
    if (c.kind === "stream") {
      const v = c.handler.property(key);
      if (v !== undefined) return v;
      return this.host.hostProperty(key, c.root.plugin, true);
    }
    return this.host.hostProperty(key, c.kind === "root" ? c.plugin : null, false);
  }

  private wasiImpl(): Record<string, (...a: any[]) => number | void> {
    const u = (x: number) => x >>> 0;
    return {
      fd_write: (fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) => {
        fd = u(fd);
        if (fd !== 1 && fd !== 2) return WASI_BADF;
        iovs = u(iovs);
        iovsLen = u(iovsLen);
        const m = this.mem();
        if (iovs + iovsLen * 8 > m.length) return WASI_FAULT;
        const parts: Buffer[] = [];
        let total = 0;
        for (let i = 0; i < iovsLen; i++) {
          const p = m.readUInt32LE(iovs + i * 8);
          const l = m.readUInt32LE(iovs + i * 8 + 4);
          if (l === 0) continue;
          if (p + l > m.length) return WASI_FAULT;
          parts.push(m.subarray(p, p + l));
          total += l;
        }
        if (!this.inBounds(u(nwrittenPtr), 4)) return WASI_FAULT;
        if (total > 0) {
          let s = Buffer.concat(parts, total).toString("utf8");
          if (s.endsWith("\n")) s = s.slice(0, -1);
          this.logFromGuest(fd === 1 ? 2 : 4, s);
        }
        this.setU32(u(nwrittenPtr), total);
        return 0;
      },
      fd_read: () => WASI_NOSYS,
      fd_seek: () => 0,
      fd_close: () => 0,
      fd_fdstat_get: (fd: number, statPtr: number) => {
        fd = u(fd);
        if (fd !== 1 && fd !== 2) return WASI_BADF;
        statPtr = u(statPtr);
        if (!this.inBounds(statPtr, 24)) return WASI_FAULT;
        const m = this.mem();
        m.fill(0, statPtr, statPtr + 24);
        this.dv.setBigUint64(statPtr + 8, 64n, true); // fs_rights_base = FD_WRITE
        return 0;
      },
      fd_prestat_get: () => WASI_BADF,
      fd_prestat_dir_name: () => WASI_NOSYS,
      environ_sizes_get: (countPtr: number, sizePtr: number) => {
        const env = this.host.env;
        let size = 0;
        for (const [k, v] of env) size += Buffer.byteLength(k) + Buffer.byteLength(v) + 2;
        return this.setU32(u(countPtr), env.length) && this.setU32(u(sizePtr), size) ? 0 : WASI_FAULT;
      },
      environ_get: (arrPtr: number, bufPtr: number) => {
        arrPtr = u(arrPtr);
        bufPtr = u(bufPtr);
        for (const [k, v] of this.host.env) {
          const data = Buffer.from(`${k}=${v}\0`, "utf8");
          if (!this.setU32(arrPtr, bufPtr)) return WASI_FAULT;
          if (!this.inBounds(bufPtr, data.length)) return WASI_FAULT;
          data.copy(this.mem(), bufPtr);
          bufPtr += data.length;
          arrPtr += 4;
        }
        return 0;
      },
      args_sizes_get: (argcPtr: number, sizePtr: number) => (this.setU32(u(argcPtr), 0) && this.setU32(u(sizePtr), 0) ? 0 : WASI_FAULT),
      args_get: () => 0,
      clock_time_get: (id: number, _precision: bigint, retPtr: number) => {
        let t: bigint;
        switch (u(id)) {
          case 0:
            t = BigInt(Date.now()) * 1_000_000n;
            break;
          case 1:
            t = process.hrtime.bigint() - MONO_ORIGIN;
            break;
          default:
            return WASI_NOTSUP;
        }
        return this.setU64(u(retPtr), t) ? 0 : WASI_FAULT;
      },
      clock_res_get: (id: number, retPtr: number) => {
        if (u(id) > 1) return WASI_NOTSUP;
        return this.setU64(u(retPtr), 1n) ? 0 : WASI_FAULT;
      },
      random_get: (ptr: number, len: number) => {
        ptr = u(ptr);
        len = u(len);
        if (len > MAX_RANDOM_BYTES) return WASI_INVAL;
        if (len === 0) return 0;
        if (!this.inBounds(ptr, len)) return WASI_FAULT;
        randomFillSync(this.mem(), ptr, len);
        return 0;
      },
      sched_yield: () => 0,
      poll_oneoff: (_in: number, _out: number, _n: number, neventsPtr: number) => (this.setU32(u(neventsPtr), 0) ? 0 : WASI_FAULT),
      proc_exit: (code: number) => {
        this.host.log(4, `wasi proc_exit(${code | 0})`, this.ctx().id, this.index);
        throw new GuestExit(`proc_exit(${code | 0})`, "proc_exit");
      },
    };
  }

  /** Envoy: proxy_on_delete on a root whose proxy_on_done finished. */
  deleteRoot(root: RootContext): void {
    if (root.deleted) return;
    this.call("proxy_on_delete", root, root.id);
    root.deleted = true;
    this.contexts.delete(root.id);
  }
}

const EMPTY = Buffer.alloc(0);
const EMPTY_MAP = new HeaderMap();
