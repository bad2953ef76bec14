// Further plugins on one host's VM (Host.addPlugin): each has its own root context.
import type { HttpStream, HttpStreamOptions } from "./http.js";
import type { TcpConnection } from "./tcp.js";
import type { Plugin, RootContext } from "./types.js";
import type { Vm } from "./vm.js";

/** What a HostPlugin needs from its host. */
export interface PluginDriver {
  extraRoot(extra: ExtraPlugin): { vm: Vm; root: RootContext } | null;
  openHttp(vm: Vm, root: RootContext, opts: HttpStreamOptions): HttpStream;
  openTcp(vm: Vm, root: RootContext, opts: HttpStreamOptions): TcpConnection;
  tickRoot(vm: Vm | null, root: RootContext | null): boolean;
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
    private readonly host: PluginDriver,
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
