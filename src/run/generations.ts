// The builds of the filter a proxy serves: the current Instance for new requests, older ones that
// finish what they serve (--watch), and reloads that replace the current one only when the new
// build starts.
import type { FilterModule } from "./filter-source.js";
import { LogLevel } from "../abi.js";
import { checkConfigAgainstModule } from "../config-schema/validate.js";
import { UserError } from "../errors.js";
import { createHost } from "../host/create-host.js";
import type { SharedState } from "../host/shared.js";
import { Instance, type InstanceEnv } from "./instance.js";
import type { Logger } from "./log.js";
import type { RunLimits } from "./limit-options.js";

export interface ReloadEvent {
  ok: boolean;
  /** The build now serving new requests. */
  generation: number;
  error?: string;
}

/** How every build's host is set up. */
export interface PluginSettings {
  pluginConfig: Buffer;
  vmConfig: Buffer;
  rootId: string;
  vmId: string;
  pluginName: string;
  logLevel: number;
  failOpen: boolean;
  /** Cluster names callouts may use. */
  upstreams: string[];
  limits: RunLimits;
}

export class FilterGenerations {
  /** The build serving new requests (set by start()). */
  current!: Instance;
  private readonly instances = new Set<Instance>();
  private generation = 0;
  private closing = false;
  private reloading: Promise<ReloadEvent> | null = null;
  private reloadAgain = false;

  constructor(
    private readonly settings: PluginSettings,
    private readonly instanceEnv: InstanceEnv,
    private readonly logger: Logger,
    /** Loads the filter's module again (rebuilding a .ts entry). */
    private readonly load: () => Promise<FilterModule>,
    private readonly onReload: (ev: ReloadEvent) => void,
  ) {}

  /** The first build; a filter that fails to start is a UserError. */
  async start(filter: FilterModule): Promise<void> {
    this.current = await this.makeInstance(filter);
  }

  /** Rebuilds or reloads now; a reload asked for while one runs runs once more after it. */
  reload(): Promise<ReloadEvent> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      let ev: ReloadEvent;
      do {
        this.reloadAgain = false;
        ev = await this.reloadOnce();
      } while (this.reloadAgain && !this.closing);
      this.reloading = null;
      return ev;
    })();
    return this.reloading;
  }

  /** No more reloads take effect from now on. */
  stopReloading(): void {
    this.closing = true;
  }

  /** Waits for a reload in progress, then shuts every build down. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.reloading) await this.reloading.catch(() => undefined);
    for (const inst of [...this.instances]) inst.close();
  }

  private async makeInstance({ wasm, sourceMap }: FilterModule, shared?: SharedState): Promise<Instance> {
    const s = this.settings;
    checkConfigAgainstModule(wasm, s.pluginConfig, "--config", s.pluginName);
    const host = await createHost({
      wasm,
      sourceMap: sourceMap ?? false,
      pluginConfig: s.pluginConfig,
      vmConfig: s.vmConfig,
      rootId: s.rootId,
      vmId: s.vmId,
      pluginName: s.pluginName,
      logLevel: s.logLevel,
      failurePolicy: s.failOpen ? "fail-open" : "fail-closed",
      upstreams: s.upstreams,
      reloadOnFailure: true,
      // Past the time limit the VM fails like a trap (503 or fail-open) and the proxy keeps serving.
      timeLimitMs: s.limits.timeLimitMs,
      onTimeLimit: "fail",
      memoryLimitPages: s.limits.memoryLimitPages,
      logBytesPerMessage: s.limits.logBytesPerMessage,
      logBytesPerStream: s.limits.logBytesPerStream,
      shared,
      onLog: (e) => this.logger.filter(e),
    });
    if (!host.startPlugin()) {
      const f = host.failures[host.failures.length - 1];
      throw new UserError(
        `the filter failed to start: ${f ? `${f.callback}: ${f.message}` : "unknown reason"} (Envoy would reject this configuration)`,
      );
    }
    const inst = new Instance(host, ++this.generation, this.instanceEnv);
    inst.onDrained = () => this.instances.delete(inst);
    this.instances.add(inst);
    inst.afterAction();
    return inst;
  }

  private async reloadOnce(): Promise<ReloadEvent> {
    let ev: ReloadEvent;
    const closingEvent = (): ReloadEvent => ({ ok: false, generation: this.current.generation, error: "the proxy is closing" });
    try {
      const filter = await this.load();
      if (this.closing) return closingEvent();
      const inst = await this.makeInstance(filter, this.current.host.shared);
      if (this.closing) {
        inst.close();
        return closingEvent();
      }
      const old = this.current;
      this.current = inst;
      old.retire();
      this.logger.proxy(
        LogLevel.Info,
        `reloaded the filter (build ${inst.generation}); requests in flight finish on build ${old.generation}`,
      );
      ev = { ok: true, generation: inst.generation };
    } catch (e) {
      const msg = e instanceof UserError ? e.message : ((e as Error)?.stack ?? String(e));
      this.logger.proxy(LogLevel.Error, `reload failed, still serving build ${this.current.generation}: ${msg}`);
      ev = { ok: false, generation: this.current.generation, error: msg };
    }
    this.onReload(ev);
    return ev;
  }
}
