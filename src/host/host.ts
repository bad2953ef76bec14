// The embedder side: loads a module, checks it the way Envoy does, runs its VMs and drives the
// plugin (lifecycle, streams, timers, callouts, queues). This is what tests use.
import { readFile } from "node:fs/promises";
import {
  ABI_MARKERS,
  ABI_VERSIONS,
  HOST_FUNCTIONS,
  LogLevel,
  WASI_FUNCTIONS,
  ENV_EXTRAS,
  WASI_MODULES,
  hostFunctionsFor,
  type AbiVersion,
} from "../abi.js";
import { UserError } from "../errors.js";
import { capMemory } from "./binary.js";
import { byteStringToText, toBuffer, toByteString, type Bytesish } from "./bytes.js";
import { HeaderMap, type PairsInput } from "./headers.js";
import { HttpStream, type HttpStreamOptions, type StreamEnv } from "./http.js";
import {
  STREAM_ATTRIBUTES,
  encodeProperty,
  lookupIn,
  propertyBytes,
  propertyPath,
  type PropertyInput,
  type PropertyValue,
} from "./properties.js";
import { SharedState, type Metric } from "./shared.js";
import { TcpConnection } from "./tcp.js";
import type { Failure, LogEntry, Plugin, RootContext, StreamContext } from "./types.js";
import type { GrpcCallRequest, HttpCallRequest } from "./calls/state.js";
import { HOST_FUNCTION_NAMES, Vm, type VmHost } from "./vm.js";

export type FailurePolicy = "fail-closed" | "fail-open";
export type ForeignFunction = (args: Uint8Array) => Uint8Array | number;

export interface HostOptions {
  /** The module: bytes, a path to a .wasm file, or a compiled WebAssembly.Module. */
  wasm: Uint8Array | string | WebAssembly.Module;
  /** PLUGIN_CONFIGURATION buffer (what Envoy's `configuration` / Istio's pluginConfig carries). */
  pluginConfig?: Bytesish;
  /** VM_CONFIGURATION buffer. */
  vmConfig?: Bytesish;
  /** plugin_root_id property (Envoy `root_id`). Default "". */
  rootId?: string;
  /** plugin_vm_id property and the key of shared data and queues. Default "". */
  vmId?: string;
  /** plugin_name property. Default "". */
  pluginName?: string;
  /** Properties, keys are path segments joined by "." (e.g. "source.address", "xds.cluster_name"). */
  properties?: Record<string, PropertyInput>;
  /** WASI environment (Envoy vm_config.environment_variables). */
  env?: Record<string, string>;
  /** Messages below this level are not recorded; also what proxy_get_log_level returns. Default Trace. */
  logLevel?: number;
  /** What a stream gets when the VM has failed: a 503 (default) or the filter is skipped. */
  failurePolicy?: FailurePolicy;
  /** Give new streams a fresh VM after a failure (Envoy's FAIL_RELOAD). Default true. */
  reloadOnFailure?: boolean;
  /** Functions for proxy_call_foreign_function: return bytes (OK) or a status number. */
  foreignFunctions?: Record<string, ForeignFunction>;
  /** Ceiling for the guest's linear memory, in 64 KiB pages (needs the module bytes). */
  memoryLimitPages?: number;
  /** Enforce Envoy's header/body lifetimes (default true). false = every map and body always reachable. */
  strictLifetimes?: boolean;
  /** Cluster names proxy_http_call / proxy_grpc_* accept; others get BAD_ARGUMENT like an unknown cluster. Default: any. */
  upstreams?: string[];
  /** Process-wide state (shared data, queues, metrics) to share with other hosts of the same vm_id. */
  shared?: SharedState;
  /** Called for every recorded log entry (e.g. to print them). */
  onLog?: (entry: LogEntry) => void;
}

const STATUS_BROKEN_CONNECTION = 11; // WasmResult::BrokenConnection, set by Envoy on a failed HTTP call

/** A dispatched proxy_http_call, waiting for the test to answer it. */
export class HttpCallout {
  /** Still waiting for respond() / fail()? */
  pending = true;
  constructor(
    private readonly host: Host,
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
    this.host.removeCallout(this);
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
    private readonly host: Host,
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
    this.host.removeCallout(this);
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
    this.host.removeCallout(this);
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

export interface MetricView {
  name: string;
  type: "counter" | "gauge" | "histogram";
  /** Counter/gauge value (histogram: number of values), as a number. */
  value: number;
  /** The exact u64 value. */
  exact: bigint;
  /** Histogram values recorded (first 100,000). */
  values: number[];
}

let connectionIds = 1;
const HISTORY_LIMIT = 10_000;
const MAX_LOG_ENTRIES = 1_000_000;

export class Host implements VmHost, StreamEnv {
  readonly shared: SharedState;
  readonly logs: LogEntry[] = [];
  readonly failures: Failure[] = [];
  readonly hostCallCounts = new Float64Array(HOST_FUNCTION_NAMES.length);
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly logLevel: number;
  readonly foreignFunctions: Readonly<Record<string, ForeignFunction>>;
  readonly upstreams: ReadonlySet<string> | null;
  readonly failurePolicy: FailurePolicy;
  readonly strictLifetimes: boolean;
  readonly reloadOnFailure: boolean;
  /** HTTP calls dispatched and not answered yet. */
  readonly httpCalls: HttpCallout[] = [];
  /** gRPC calls and streams not finished yet. */
  readonly grpcCalls: GrpcCallout[] = [];
  /** HTTP calls dispatched so far, answered or not (the most recent 10,000). */
  readonly httpCallHistory: HttpCallout[] = [];
  readonly grpcCallHistory: GrpcCallout[] = [];
  /** How many VMs this host created (1 + reloads). */
  vmCount = 0;
  private vm: Vm | null = null;
  private root: RootContext | null = null;
  private plugin: Plugin;
  private vmStarted = false;
  private pluginStarted = false;
  private readonly vmConfig: Buffer;
  private readonly properties = new Map<string, PropertyValue>();
  private readonly streams = new Map<number, HttpStream | TcpConnection>();
  private readonly onLog?: (entry: LogEntry) => void;

  constructor(
    readonly module: WebAssembly.Module,
    readonly abiVersion: AbiVersion,
    private readonly options: HostOptions,
  ) {
    this.shared = options.shared ?? new SharedState();
    this.env = Object.entries(options.env ?? {});
    this.logLevel = options.logLevel ?? LogLevel.Trace;
    this.foreignFunctions = options.foreignFunctions ?? {};
    this.upstreams = options.upstreams ? new Set(options.upstreams) : null;
    this.failurePolicy = options.failurePolicy ?? "fail-closed";
    if (this.failurePolicy !== "fail-closed" && this.failurePolicy !== "fail-open") {
      throw new UserError(`failurePolicy must be "fail-closed" or "fail-open", not ${JSON.stringify(this.failurePolicy)}`);
    }
    this.strictLifetimes = options.strictLifetimes ?? true;
    this.reloadOnFailure = options.reloadOnFailure ?? true;
    this.onLog = options.onLog;
    this.vmConfig = toBuffer(options.vmConfig);
    this.plugin = {
      name: toByteString(options.pluginName ?? ""),
      rootId: toByteString(options.rootId ?? ""),
      vmId: toByteString(options.vmId ?? ""),
      config: toBuffer(options.pluginConfig),
    };
    for (const [k, v] of Object.entries(options.properties ?? {})) this.properties.set(propertyPath(k), encodeProperty(v));
  }

  // ------------------------------------------------------------ lifecycle

  /** _initialize (+ main) or _start, then proxy_on_context_create(root, 0) and proxy_on_vm_start. */
  startVm(): boolean {
    if (this.vmStarted) return !!this.vm && !this.vm.failed;
    this.vmStarted = true;
    return this.bootVm();
  }

  /** proxy_on_configure(root, config size) (starting the VM first if needed). */
  startPlugin(): boolean {
    if (!this.vmStarted && !this.startVm()) return false;
    if (this.pluginStarted) return !!this.vm && !this.vm.failed;
    this.pluginStarted = true;
    return this.configureOrFail();
  }

  /** Initial configuration: a rejected one leaves no working plugin (Envoy rejects the filter). */
  private configureOrFail(): boolean {
    const r = this.configureRoot();
    if (r === false && this.vm && !this.vm.failed && this.root) {
      this.startFailure("proxy_on_configure", "proxy_on_configure returned false (configuration rejected)", "configure_failed", this.root.id);
    }
    // Envoy ran this configuration through its canary before using it: an update back to it
    // needs no new canary (plugin_canary_cache_).
    if (r) this.canaryCache.set(canaryKey(this.plugin), true);
    return r;
  }

  private bootVm(): boolean {
    const vm = this.instantiate();
    this.vm = vm;
    if (!vm) return false;
    const root = this.startRoot(vm, this.plugin);
    if (root) this.root = root;
    return root !== null && !vm.failed;
  }

  /** A new instance of the module (counted in vmCount), or null when instantiation fails (recorded). */
  private instantiate(): Vm | null {
    const index = this.vmCount++;
    let vm: Vm;
    try {
      vm = new Vm(this, this.module, this.abiVersion, index);
    } catch (e) {
      const message = (e as Error)?.message ?? String(e);
      const f: Failure = { callback: "instantiate", message, kind: "start_failed", contextId: 0, vm: index };
      this.log(5, `wasm VM failed to instantiate: ${message}`, 0, index);
      this.failures.push(f);
      return null;
    }
    vm.vmConfig = this.vmConfig;
    vm.vmIdBytes = this.plugin.vmId;
    return vm;
  }

  /**
   * Envoy's WasmBase::start on a fresh VM: _initialize/main or _start, a root context for `plugin`
   * (proxy_on_context_create), then proxy_on_vm_start. Returns the root context, or null when the
   * VM failed before it existed. A false proxy_on_vm_start fails the VM (the root is returned).
   */
  private startRoot(vm: Vm, plugin: Plugin): RootContext | null {
    if (!vm.runStart()) return null;
    const root = vm.newRootContext(plugin);
    vm.call("proxy_on_context_create", root, root.id, 0);
    if (vm.failed) return root;
    const ok = vm.fns.proxy_on_vm_start ? vm.call("proxy_on_vm_start", root, root.id, this.vmConfig.length) : 1;
    vm.flush();
    if (!vm.failed && ok === 0) this.startFailure("proxy_on_vm_start", "proxy_on_vm_start returned false", "start_failed", root.id, vm);
    return root;
  }

  private configureRoot(root: RootContext | null = this.root, vm: Vm | null = this.vm): boolean {
    if (!vm || !root || vm.failed) return false;
    if (!vm.fns.proxy_on_configure) return true;
    root.configuring = true;
    const r = vm.call("proxy_on_configure", root, root.id, root.plugin.config.length);
    root.configuring = false;
    vm.flush();
    return !vm.failed && r !== 0;
  }

  private startFailure(callback: string, message: string, kind: Failure["kind"], contextId: number, vm: Vm = this.vm!): void {
    vm.failed = true;
    const f: Failure = { callback, message, kind, contextId, vm: vm.index };
    vm.failure = f;
    this.log(4, `wasm plugin failed to start: ${message}`, contextId, vm.index);
    this.failures.push(f);
  }

  /** Starts the plugin if needed and reloads a failed VM (FAIL_RELOAD) before a new stream. */
  private ensureVm(): { vm: Vm; root: RootContext } | null {
    if (!this.pluginStarted) this.startPlugin();
    if (this.vm && this.vm.failed && this.reloadOnFailure) {
      this.log(3, `wasm VM ${this.vm.index} failed; starting a new VM for the next stream (FAIL_RELOAD)`, 0, this.vm.index);
      if (this.bootVm() && this.configureOrFail()) {
        for (const extra of this.extraPlugins) this.attachPlugin(extra);
      }
    }
    if (!this.vm || !this.root) return null;
    return { vm: this.vm, root: this.root };
  }

  /**
   * Envoy's offline check of a configuration: proxy_validate_configuration(root, size) with the
   * config as PLUGIN_CONFIGURATION. True when the module does not export it (Envoy accepts then).
   */
  validateConfiguration(pluginConfig: Bytesish): boolean {
    this.assertIdle("validateConfiguration");
    if (!this.vmStarted && !this.startVm()) return false;
    const vm = this.vm;
    const root = this.root;
    if (!vm || !root || vm.failed) return false;
    if (!vm.fns.proxy_validate_configuration) return true;
    const config = toBuffer(pluginConfig);
    const saved = root.plugin;
    root.plugin = { ...saved, config };
    root.configuring = true;
    const r = vm.call("proxy_validate_configuration", root, root.id, config.length);
    root.configuring = false;
    root.plugin = saved;
    vm.flush();
    return !vm.failed && r !== 0;
  }

  /**
   * Applies a new plugin configuration the way Envoy applies a new filter config: a new root
   * context is created and configured; the old one gets proxy_on_done (and proxy_on_delete).
   */
  reconfigure(pluginConfig: Bytesish): boolean {
    if (!this.pluginStarted) {
      this.plugin = { ...this.plugin, config: toBuffer(pluginConfig) };
      return this.startPlugin();
    }
    this.assertIdle("reconfigure");
    const candidate: Plugin = { ...this.plugin, config: toBuffer(pluginConfig) };
    // Envoy tries every new configuration on a throwaway clone of the VM first (the canary); a
    // refused one never reaches the running VM, which keeps its configuration, and so does any
    // VM reloaded later (FAIL_RELOAD configures it with the plugin of the running filter config).
    if (!this.canary(candidate)) {
      this.log(3, `plugin configuration update refused (the canary VM did not accept it); keeping the running configuration`, this.root?.id ?? 0, this.vm?.index ?? 0);
      return false;
    }
    const vm = this.vm;
    const old = this.root;
    this.plugin = candidate;
    if (!vm || !old || vm.failed) return this.ensureVm() !== null && !this.vm!.failed;
    // The update is accepted: the running VM gets a root context for it (Envoy's thread-local
    // plugin), and the old root context is done.
    const root = vm.newRootContext(candidate);
    this.root = root;
    vm.call("proxy_on_context_create", root, root.id, 0);
    const ok = this.configureRoot();
    // A trap here fails the running VM; the next stream reloads it with the accepted configuration.
    if (vm.failed) return false;
    if (!ok) {
      // The canary accepted it but this VM did not (a configuration judged on changing state):
      // keep serving with the running root context.
      this.log(3, `plugin configuration rejected by proxy_on_configure; keeping the previous one`, root.id, vm.index);
      this.root = old;
      this.plugin = old.plugin;
      this.finishRoot(vm, root);
      return false;
    }
    this.finishRoot(vm, old);
    return true;
  }

  /** Envoy's plugin_canary_cache_: what the canary said about a configuration already tried. */
  private readonly canaryCache = new Map<string, boolean>();
  /** The canary VM while it runs: its callouts are never dispatched (Envoy cancels them when it is destroyed). */
  private canaryVm: Vm | null = null;

  /**
   * Envoy's WasmHandleBase::canary: a fresh VM of the module is started (_initialize, root
   * context, proxy_on_vm_start) and configured with `plugin`, then thrown away. A trap there is
   * recorded in `failures` (with the canary's VM index) and fails nothing else. Each canary counts
   * in vmCount, as Envoy counts it among the created VMs. Shared data, metrics and logs it
   * produced stay (they are process-wide in Envoy too); queues it registered go back to the VMs
   * that had them.
   */
  private canary(plugin: Plugin): boolean {
    const key = canaryKey(plugin);
    const cached = this.canaryCache.get(key);
    if (cached !== undefined) return cached;
    const vm = this.instantiate();
    if (!vm) return false;
    const queues = this.shared.queueOwners();
    this.canaryVm = vm;
    let configured: boolean | null = null;
    try {
      const root = this.startRoot(vm, plugin);
      if (root && !vm.failed) {
        configured = this.configureRoot(root, vm);
        if (!configured && !vm.failed) {
          this.log(3, `the canary VM rejected the configuration: proxy_on_configure returned false`, root.id, vm.index);
        }
      }
    } finally {
      this.canaryVm = null;
      // Destroyed: nothing reaches it any more (queue notifications, callout answers).
      vm.failed = true;
      this.shared.restoreQueueOwners(vm, queues);
    }
    // Like Envoy, only the configure result is remembered; a canary that failed to start is retried.
    if (configured !== null) this.canaryCache.set(key, configured);
    return configured === true;
  }

  private finishRoot(vm: Vm, root: RootContext): void {
    if (vm.failed || root.deleted) return;
    const done = vm.fns.proxy_on_done ? vm.call("proxy_on_done", root, root.id) : 1;
    if (done === 0) root.pendingDone = true;
    else vm.deleteRoot(root);
    vm.flush();
  }

  /** Ends the plugin: proxy_on_done on the root context, then proxy_on_delete (or when it calls proxy_done). */
  shutdown(): void {
    this.assertIdle("shutdown");
    if (this.vm && this.root) this.finishRoot(this.vm, this.root);
  }

  /** True when the root context answered proxy_on_done with false and has not called proxy_done yet. */
  get rootPendingDone(): boolean {
    return !!this.root?.pendingDone;
  }

  // ------------------------------------------------------------ streams

  /** A new HTTP stream: proxy_on_context_create(id, root). */
  httpStream(opts: HttpStreamOptions = {}): HttpStream {
    this.assertIdle("httpStream");
    const r = this.ensureVm();
    if (!r) throw new Error(this.unusableMessage());
    return this.openHttp(r.vm, r.root, opts);
  }

  /** A new TCP connection: proxy_on_context_create(id, root) then proxy_on_new_connection. */
  tcpConnection(opts: HttpStreamOptions = {}): TcpConnection {
    this.assertIdle("tcpConnection");
    const r = this.ensureVm();
    if (!r) throw new Error(this.unusableMessage());
    return this.openTcp(r.vm, r.root, opts);
  }

  /** @internal */
  openHttp(vm: Vm, root: RootContext, opts: HttpStreamOptions): HttpStream {
    const ctx = vm.newStreamContext(root);
    const stream = new HttpStream(vm, ctx, this, connectionIds++);
    ctx.handler = stream;
    for (const [k, v] of Object.entries(opts.properties ?? {})) stream.setProperty(k, v);
    this.streams.set(ctx.id, stream);
    vm.call("proxy_on_context_create", ctx, ctx.id, root.id);
    ctx.createdInVm = true;
    vm.flush();
    return stream;
  }

  /** @internal */
  openTcp(vm: Vm, root: RootContext, opts: HttpStreamOptions): TcpConnection {
    const ctx = vm.newStreamContext(root);
    const conn = new TcpConnection(vm, ctx, this, connectionIds++);
    ctx.handler = conn;
    for (const [k, v] of Object.entries(opts.properties ?? {})) conn.setProperty(k, v);
    this.streams.set(ctx.id, conn);
    vm.call("proxy_on_context_create", ctx, ctx.id, root.id);
    ctx.createdInVm = true;
    vm.flush();
    conn.start();
    return conn;
  }

  // ------------------------------------------------------------ more plugins on this VM

  private readonly extraPlugins: ExtraPlugin[] = [];

  /**
   * Another plugin on the same VM (Envoy shares a VM between plugins with the same vm_id and
   * code): its own root context (proxy_on_context_create(root, 0), proxy_on_configure) with its
   * own root_id, name and configuration. proxy_on_vm_start is not called again.
   */
  addPlugin(opts: { rootId?: string; pluginName?: string; pluginConfig?: Bytesish } = {}): HostPlugin {
    this.assertIdle("addPlugin");
    const extra: ExtraPlugin = {
      plugin: {
        name: toByteString(opts.pluginName ?? ""),
        rootId: toByteString(opts.rootId ?? ""),
        vmId: this.plugin.vmId,
        config: toBuffer(opts.pluginConfig),
      },
      root: null,
      configured: false,
      vm: null,
    };
    this.extraPlugins.push(extra);
    const r = this.ensureVm();
    if (r && !r.vm.failed) this.attachPlugin(extra);
    return new HostPlugin(this, extra);
  }

  private attachPlugin(extra: ExtraPlugin): void {
    const vm = this.vm;
    if (!vm || vm.failed) return;
    const root = vm.newRootContext(extra.plugin);
    extra.root = root;
    extra.vm = vm;
    vm.call("proxy_on_context_create", root, root.id, 0);
    extra.configured = this.configureRoot(root);
  }

  /** @internal The VM and root of an extra plugin, reloading a failed VM first. */
  extraRoot(extra: ExtraPlugin): { vm: Vm; root: RootContext } | null {
    this.ensureVm();
    if (!extra.root || !extra.vm || extra.vm !== this.vm) return null;
    return { vm: extra.vm, root: extra.root };
  }

  /** @internal */
  tickRoot(vm: Vm | null, root: RootContext | null): boolean {
    this.assertIdle("tick");
    if (!vm || !root || vm.failed || root.tickPeriod === 0 || root.deleted) return false;
    vm.call("proxy_on_tick", root, root.id);
    vm.flush();
    return true;
  }

  /** Streams and connections not completed yet. */
  get activeStreams(): Array<HttpStream | TcpConnection> {
    return [...this.streams.values()];
  }

  release(id: number): void {
    this.streams.delete(id);
  }

  private unusableMessage(): string {
    const f = this.failures[this.failures.length - 1];
    return `the plugin could not start${f ? `: ${f.callback}: ${f.message}` : ""}`;
  }

  private assertIdle(what: string): void {
    if (this.vm?.busy) throw new Error(`host.${what}() called from inside a guest call; call it after the callback returns`);
  }

  // ------------------------------------------------------------ timers, foreign functions, queues

  /** Fires proxy_on_tick on every root context that set a tick period. Returns whether any did. */
  tick(): boolean {
    let any = this.tickRoot(this.vm, this.root);
    for (const extra of this.extraPlugins) if (extra.vm === this.vm) any = this.tickRoot(extra.vm, extra.root) || any;
    return any;
  }

  /** The tick period the plugin set, in milliseconds (0 = none). */
  get tickPeriod(): number {
    return this.root?.tickPeriod ?? 0;
  }

  /** Calls proxy_on_foreign_function(root, id, size) with FOREIGN_FUNCTION_ARGUMENTS = args. */
  callForeignFunction(functionId: number, args: Bytesish = ""): void {
    this.assertIdle("callForeignFunction");
    const vm = this.vm;
    const root = this.root;
    if (!vm || !root || vm.failed) return;
    root.callData = toBuffer(args);
    vm.call("proxy_on_foreign_function", root, root.id, functionId >>> 0, root.callData.length);
    root.callData = null;
    vm.flush();
  }

  /** Reads shared data of this vm_id: value and CAS, or undefined. */
  sharedData(key: Bytesish): { value: Buffer; cas: number } | undefined {
    const v = this.shared.getData(this.plugin.vmId, toByteString(key));
    return v ? { value: v.value, cas: v.cas } : undefined;
  }

  /** Writes shared data as another VM would (cas 0 = unconditional). Returns false on CAS mismatch. */
  setSharedData(key: Bytesish, value: Bytesish, cas = 0): boolean {
    return this.shared.setData(this.plugin.vmId, toByteString(key), Buffer.from(toBuffer(value)), cas);
  }

  /** A shared queue of this vm_id (or another vm_id) by name: its token and waiting messages. */
  queue(name: string, vmId?: string): { token: number; messages: Buffer[] } | undefined {
    const q = this.shared.findQueue(toByteString(vmId ?? byteStringToText(this.plugin.vmId)), toByteString(name));
    return q ? { token: q.token, messages: q.messages } : undefined;
  }

  /** Enqueues a message (as another VM would); the registering VM gets proxy_on_queue_ready. */
  enqueue(nameOrToken: string | number, message: Bytesish, vmId?: string): boolean {
    this.assertIdle("enqueue");
    const token = typeof nameOrToken === "number" ? nameOrToken : this.queue(nameOrToken, vmId)?.token;
    if (!token) return false;
    return this.shared.enqueue(token, Buffer.from(toBuffer(message)));
  }

  // ------------------------------------------------------------ metrics, logs, failures, counts

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

  /** Log messages (optionally only one level). */
  logMessages(level?: number): string[] {
    return this.logs.filter((e) => level === undefined || e.level === level).map((e) => e.message);
  }

  clearLogs(): void {
    this.logs.length = 0;
  }

  /** Whether the current VM has failed (trap, proc_exit, failed start). */
  get failed(): boolean {
    return !this.vm || this.vm.failed;
  }

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

  /** The guest's linear memory size in bytes (current VM). */
  get memoryBytes(): number {
    return this.vm ? this.vm.memory.buffer.byteLength : 0;
  }

  /** The current VM index and context ids, for diagnostics. */
  get rootContextId(): number {
    return this.root?.id ?? 0;
  }

  /** Sets a host-level property (all streams see it unless they override it). */
  setProperty(path: string | readonly string[], value: PropertyInput): void {
    this.properties.set(propertyPath(path), encodeProperty(value));
  }

  /** Reads a property as a root context would see it. */
  getProperty(path: string | readonly string[]): Buffer | undefined {
    const v = this.hostProperty(propertyPath(path), this.plugin, false);
    return v === undefined ? undefined : propertyBytes(v);
  }

  /** Another VM of the same module and vm_id (shares shared data, queues and metrics). */
  async addVm(overrides: Partial<HostOptions> = {}): Promise<Host> {
    return new Host(this.module, this.abiVersion, { ...this.options, ...overrides, wasm: this.module, shared: this.shared });
  }

  // ------------------------------------------------------------ VmHost / StreamEnv

  log(level: number, message: string, contextId: number, vm: number): void {
    if (level < this.logLevel) return;
    const e: LogEntry = { level, message, contextId, vm };
    // Bounded, so a module logging in a loop cannot exhaust memory: the oldest half goes.
    if (this.logs.length >= MAX_LOG_ENTRIES) this.logs.splice(0, MAX_LOG_ENTRIES / 2);
    this.logs.push(e);
    this.onLog?.(e);
  }

  recordFailure(f: Failure): void {
    this.failures.push(f);
  }

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

  hostProperty(key: string, pluginOrCtx: Plugin | StreamContext | null, inStream?: boolean): PropertyValue | undefined {
    let plugin: Plugin | null;
    if (pluginOrCtx && "kind" in pluginOrCtx) {
      plugin = pluginOrCtx.root.plugin;
      inStream = true;
    } else {
      plugin = pluginOrCtx;
    }
    const sep = key.indexOf("\0");
    const top = sep < 0 ? key : key.slice(0, sep);
    if (!inStream && STREAM_ATTRIBUTES.has(top)) return undefined;
    const v = lookupIn(this.properties, key);
    if (v !== undefined) return v;
    if (plugin) {
      if (key === "plugin_name") return Buffer.from(plugin.name, "latin1");
      if (key === "plugin_root_id") return Buffer.from(plugin.rootId, "latin1");
      if (key === "plugin_vm_id") return Buffer.from(plugin.vmId, "latin1");
    }
    if (inStream) return lookupIn(STREAM_DEFAULTS, key);
    return undefined;
  }
}

/** @internal */
export interface ExtraPlugin {
  plugin: Plugin;
  root: RootContext | null;
  vm: Vm | null;
  configured: boolean;
}

/** A further plugin on a host's VM (see Host.addPlugin). */
export class HostPlugin {
  constructor(
    private readonly host: Host,
    private readonly extra: ExtraPlugin,
  ) {}
  /** Whether its proxy_on_configure accepted the configuration (on the current VM). */
  get configured(): boolean {
    return this.extra.configured;
  }
  get rootContextId(): number {
    return this.extra.root?.id ?? 0;
  }
  get tickPeriod(): number {
    return this.extra.root?.tickPeriod ?? 0;
  }
  httpStream(opts: HttpStreamOptions = {}): HttpStream {
    const r = this.host.extraRoot(this.extra);
    if (!r) throw new Error("this plugin is not running (its VM failed to start)");
    return this.host.openHttp(r.vm, r.root, opts);
  }
  tcpConnection(opts: HttpStreamOptions = {}): TcpConnection {
    const r = this.host.extraRoot(this.extra);
    if (!r) throw new Error("this plugin is not running (its VM failed to start)");
    return this.host.openTcp(r.vm, r.root, opts);
  }
  /** proxy_on_tick on this plugin's root context, if it set a period. */
  tick(): boolean {
    return this.host.tickRoot(this.extra.vm, this.extra.root);
  }
}

/** Envoy's plugin key, for the canary cache: what tells two configurations of one plugin apart. */
function canaryKey(p: Plugin): string {
  return `${p.name}\0${p.rootId}\0${p.vmId}\0${p.config.toString("latin1")}`;
}

/** Addresses a stream has when the embedder sets none. */
const STREAM_DEFAULTS = new Map<string, PropertyValue>([
  [propertyPath("source.address"), encodeProperty("127.0.0.1:50000")],
  [propertyPath("source.port"), encodeProperty(50000)],
  [propertyPath("destination.address"), encodeProperty("127.0.0.1:10000")],
  [propertyPath("destination.port"), encodeProperty(10000)],
  [propertyPath("connection.mtls"), encodeProperty(false)],
]);

function metricView(m: Metric): MetricView {
  return { name: m.name, type: m.type, value: Number(m.value), exact: m.value, values: m.values.map(Number) };
}

// ------------------------------------------------------------ loading and checking modules

/** Reads the ABI version from the marker export, like Envoy (first marker function export wins). */
export function detectAbiVersion(module: WebAssembly.Module): AbiVersion | undefined {
  const markers = new Map<string, AbiVersion>(ABI_VERSIONS.map((v) => [ABI_MARKERS[v], v]));
  for (const e of WebAssembly.Module.exports(module)) {
    if (e.kind === "function" && markers.has(e.name)) return markers.get(e.name);
  }
  return undefined;
}

/** Every import the host will not satisfy for `version`, as one-line reasons. */
export function checkImports(module: WebAssembly.Module, version: AbiVersion): string[] {
  const env = new Set([...hostFunctionsFor(version), ...ENV_EXTRAS].map((f) => f.name));
  const wasi = new Set(WASI_FUNCTIONS.map((f) => f.name));
  const problems: string[] = [];
  for (const imp of WebAssembly.Module.imports(module)) {
    const name = `${imp.module}.${imp.name}`;
    if (imp.kind !== "function") {
      problems.push(`${name} (an imported ${imp.kind}; Envoy provides none)`);
      continue;
    }
    if (imp.module === "env") {
      if (env.has(imp.name)) continue;
      const other = HOST_FUNCTIONS.find((f) => f.name === imp.name);
      if (other) {
        problems.push(`${name} (ABI ${version} does not have it; it exists in ${other.since}${other.until ? `..${other.until}` : "+"} only)`);
      } else if (imp.name === "abort") {
        problems.push(`env.abort (AssemblyScript's default abort handler; Envoy does not provide it: build with --use abort=<your handler>, as proxy-wasm-as build does)`);
      } else {
        problems.push(`${name} (not a proxy-wasm host function)`);
      }
      continue;
    }
    if ((WASI_MODULES as readonly string[]).includes(imp.module)) {
      if (!wasi.has(imp.name)) problems.push(`${name} (a WASI function this host does not provide)`);
      continue;
    }
    problems.push(`${name} (unknown import module "${imp.module}")`);
  }
  return problems;
}

async function loadBytes(wasm: Uint8Array | string): Promise<Uint8Array> {
  if (typeof wasm !== "string") return wasm;
  try {
    return new Uint8Array(await readFile(wasm));
  } catch (e) {
    throw new UserError(`cannot read the module ${wasm}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Compiles and checks a module and returns a host for it (nothing runs until startVm/startPlugin). */
export async function createHost(options: HostOptions): Promise<Host> {
  if (!options || options.wasm === undefined) throw new UserError("createHost needs { wasm }: module bytes, a .wasm path or a WebAssembly.Module");
  let module: WebAssembly.Module;
  const where = typeof options.wasm === "string" ? options.wasm : "the module";
  if (options.wasm instanceof WebAssembly.Module) {
    if (options.memoryLimitPages !== undefined) {
      throw new UserError("memoryLimitPages needs the module's bytes or path, not a compiled WebAssembly.Module");
    }
    module = options.wasm;
  } else {
    let bytes = await loadBytes(options.wasm);
    if (options.memoryLimitPages !== undefined) {
      const limit = options.memoryLimitPages;
      if (!Number.isInteger(limit) || limit < 0 || limit > 65536) {
        throw new UserError(`memoryLimitPages must be an integer from 0 to 65536, not ${limit}`);
      }
      try {
        bytes = capMemory(bytes, limit).bytes;
      } catch (e) {
        throw new UserError(`${where}: ${(e as Error).message}`);
      }
    }
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new UserError(`${where} is not a valid WebAssembly module: ${(e as Error).message}`);
    }
  }
  const version = detectAbiVersion(module);
  if (!version) {
    throw new UserError(`${where}: Missing or unknown Proxy-Wasm ABI version (no proxy_abi_version_0_2_0 or proxy_abi_version_0_2_1 export); Envoy refuses it`);
  }
  if (version === "0.1.0") {
    throw new UserError(`${where} targets ABI 0.1.0, which this host does not run; rebuild it for 0.2.1`);
  }
  const problems = checkImports(module, version);
  if (problems.length > 0) {
    const more = problems.length > 3 ? ` and ${problems.length - 3} more` : "";
    throw new UserError(`${where}: Failed to load Wasm module due to a missing import: ${problems.slice(0, 3).join("; ")}${more}`);
  }
  return new Host(module, version, options);
}
