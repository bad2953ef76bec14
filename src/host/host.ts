// The embedder side: runs a module's VMs the way Envoy does and drives the plugin (lifecycle,
// reloads, canary configuration checks, streams, timers, foreign functions, queues). This is what
// tests use; createHost (create-host.ts) makes one. What it records is in host-records.ts.
import type { AbiVersion } from "../abi.js";
import { UserError } from "../errors.js";
import { toBuffer, toByteString, type Bytesish } from "./bytes.js";
import type { FailurePolicy, ForeignFunction, HostOptions } from "./host-options.js";
import { HostPlugin, type ExtraPlugin } from "./host-plugin.js";
import { resolveHostProperty } from "./host-properties.js";
import { CanaryCache, runCanary } from "./canary.js";
import { HostRecords } from "./host-records.js";
import { HttpStream, type HttpStreamOptions, type StreamEnv } from "./http.js";
import { encodeProperty, propertyBytes, propertyPath, type PropertyInput, type PropertyValue } from "./properties.js";
import { TcpConnection } from "./tcp.js";
import type { Failure, Plugin, RootContext, StreamContext } from "./types.js";
import { Vm, type VmHost } from "./vm.js";
import { VirtualClock } from "./clock.js";
import { sourceTrace, type ModuleSourceMap, type SourceTrace } from "../sourcemap/index.js";

let connectionIds = 1;

export class Host extends HostRecords implements VmHost, StreamEnv {
  readonly env: ReadonlyArray<readonly [string, string]>;
  readonly foreignFunctions: Readonly<Record<string, ForeignFunction>>;
  readonly upstreams: ReadonlySet<string> | null;
  readonly failurePolicy: FailurePolicy;
  readonly strictLifetimes: boolean;
  readonly reloadOnFailure: boolean;
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

  protected get vmIdBytes(): string {
    return this.plugin.vmId;
  }

  constructor(
    readonly module: WebAssembly.Module,
    readonly abiVersion: AbiVersion,
    private readonly options: HostOptions,
    private readonly sourceMap: ModuleSourceMap | null = null,
  ) {
    super(options);
    this.env = Object.entries(options.env ?? {});
    this.foreignFunctions = options.foreignFunctions ?? {};
    this.upstreams = options.upstreams ? new Set(options.upstreams) : null;
    this.failurePolicy = options.failurePolicy ?? "fail-closed";
    if (this.failurePolicy !== "fail-closed" && this.failurePolicy !== "fail-open") {
      throw new UserError(`failurePolicy must be "fail-closed" or "fail-open", not ${JSON.stringify(this.failurePolicy)}`);
    }
    this.strictLifetimes = options.strictLifetimes ?? true;
    this.reloadOnFailure = options.reloadOnFailure ?? true;
    this.vmConfig = toBuffer(options.vmConfig);
    this.plugin = {
      name: toByteString(options.pluginName ?? ""),
      rootId: toByteString(options.rootId ?? ""),
      vmId: toByteString(options.vmId ?? ""),
      config: toBuffer(options.pluginConfig),
    };
    for (const [k, v] of Object.entries(options.properties ?? {})) this.properties.set(propertyPath(k), encodeProperty(v));
  }

  /** The filter's source positions for a trap's V8 stack (null without a source map). */
  sourceTrace(stack: string): SourceTrace | null {
    return this.sourceMap ? sourceTrace(stack, this.sourceMap, 8, (o) => this.originalOffset(o)) : null;
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
      this.startFailure(
        "proxy_on_configure",
        "proxy_on_configure returned false (configuration rejected)",
        "configure_failed",
        this.root.id,
      );
    }
    // Envoy ran this configuration through its canary before using it: an update back to it
    // needs no new canary (plugin_canary_cache_).
    if (r) this.canaryCache.accepted(this.plugin);
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
  /** @internal */
  startRoot(vm: Vm, plugin: Plugin): RootContext | null {
    if (!vm.runStart()) return null;
    const root = vm.newRootContext(plugin);
    vm.call("proxy_on_context_create", root, root.id, 0);
    if (vm.failed) return root;
    const ok = vm.fns.proxy_on_vm_start ? vm.call("proxy_on_vm_start", root, root.id, this.vmConfig.length) : 1;
    vm.flush();
    if (!vm.failed && ok === 0) this.startFailure("proxy_on_vm_start", "proxy_on_vm_start returned false", "start_failed", root.id, vm);
    return root;
  }

  /** @internal */
  configureRoot(root: RootContext | null = this.root, vm: Vm | null = this.vm): boolean {
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
      this.log(
        3,
        `plugin configuration update refused (the canary VM did not accept it); keeping the running configuration`,
        this.root?.id ?? 0,
        this.vm?.index ?? 0,
      );
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
  private readonly canaryCache = new CanaryCache();

  /** Envoy's WasmHandleBase::canary on `plugin`, answered from the cache when it was tried before. */
  private canary(plugin: Plugin): boolean {
    return this.canaryCache.check(plugin, () => {
      const vm = this.instantiate();
      return vm ? runCanary(vm, plugin, this) : null;
    });
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
    return this.open(vm, root, opts, (ctx) => new HttpStream(vm, ctx, this, connectionIds++));
  }

  /** @internal */
  openTcp(vm: Vm, root: RootContext, opts: HttpStreamOptions): TcpConnection {
    const conn = this.open(vm, root, opts, (ctx) => new TcpConnection(vm, ctx, this, connectionIds++));
    conn.start();
    return conn;
  }

  /** A stream context with its driver, its properties set, then proxy_on_context_create(id, root). */
  private open<D extends HttpStream | TcpConnection>(
    vm: Vm,
    root: RootContext,
    opts: HttpStreamOptions,
    driver: (ctx: StreamContext) => D,
  ): D {
    const ctx = vm.newStreamContext(root);
    const d = driver(ctx);
    ctx.handler = d;
    for (const [k, v] of Object.entries(opts.properties ?? {})) d.setProperty(k, v);
    this.streams.set(ctx.id, d);
    vm.call("proxy_on_context_create", ctx, ctx.id, root.id);
    ctx.createdInVm = true;
    vm.flush();
    return d;
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

  protected tickingRoots(): Array<{ root: RootContext; fire(): void }> {
    const roots = [{ root: this.root, vm: this.vm }, ...this.extraPlugins.map((e) => ({ root: e.root, vm: e.vm }))];
    return roots.filter((r) => r.root && r.vm === this.vm).map(({ root, vm }) => ({ root: root!, fire: () => this.tickRoot(vm, root) }));
  }

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

  /** Enqueues a message (as another VM would); the registering VM gets proxy_on_queue_ready. */
  enqueueSharedQueue(nameOrToken: string | number, message: Bytesish, vmId?: string): boolean {
    this.assertIdle("enqueueSharedQueue");
    const token = typeof nameOrToken === "number" ? nameOrToken : this.queue(nameOrToken, vmId)?.token;
    if (!token) return false;
    return this.shared.enqueue(token, Buffer.from(toBuffer(message)));
  }

  // ------------------------------------------------------------ state views

  /** Whether the current VM has failed (trap, proc_exit, failed start). */
  get failed(): boolean {
    return !this.vm || this.vm.failed;
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
    const host = new Host(
      this.module,
      this.abiVersion,
      {
        ...this.options,
        clock: this.clock instanceof VirtualClock ? this.clock : this.options.clock,
        ...overrides,
        wasm: this.module,
        shared: this.shared,
      },
      this.sourceMap,
    );
    host.codeOffsetMap = this.codeOffsetMap;
    return host;
  }

  // ------------------------------------------------------------ properties (VmHost / StreamEnv)

  /** Host-level properties (embedder-set and plugin_*), as a root context or a stream sees them. */
  hostProperty(key: string, pluginOrCtx: Plugin | StreamContext | null, inStream?: boolean): PropertyValue | undefined {
    return resolveHostProperty(this.properties, key, pluginOrCtx, inStream);
  }
}
