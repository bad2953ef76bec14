// One loaded configuration: its plugins (a host per Wasm filter and service), route tables, cluster
// clients and access logs. --watch builds a new generation and sends new streams to it; streams in
// flight finish on the old one, which then shuts down.
import http from "node:http";
import https from "node:https";
import { LogLevel } from "../abi.js";
import type { SharedState } from "../host/index.js";
import type { Logger } from "../run/log.js";
import { parseTarget, type Target } from "../run/options.js";
import { AccessLog, type LogSinks } from "./access-log.js";
import type { EnvoyConfig, ListenerConfig } from "./config/types.js";
import { GrpcCallouts } from "./grpc.js";
import { RouteTable } from "./http/routes.js";
import { ClusterClient } from "./http/upstream.js";
import { WasmPlugin, type PluginEnv } from "./plugin.js";

export interface ListenerRuntime {
  config: ListenerConfig;
  plugins: WasmPlugin[];
  routes: RouteTable | null;
  accessLogs: AccessLog[];
}

export interface GenerationEnv {
  level: number;
  write: (line: string) => void;
  color?: boolean;
  shared: SharedState;
  sinks: LogSinks;
  logger: Logger;
  /** Start the bootstrap services (with workers, only one worker does). */
  services: boolean;
}

export class Generation {
  readonly listeners: ListenerRuntime[] = [];
  readonly services: WasmPlugin[] = [];
  readonly clusters = new Map<string, ClusterClient>();
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true, rejectUnauthorized: false }),
  };
  private closed = false;

  private constructor(
    readonly config: EnvoyConfig,
    readonly number: number,
  ) {}

  get plugins(): WasmPlugin[] {
    return [...this.services, ...this.listeners.flatMap((l) => l.plugins)];
  }

  static async load(config: EnvoyConfig, number: number, env: GenerationEnv): Promise<Generation> {
    const g = new Generation(config, number);
    try {
      await g.start(env);
    } catch (e) {
      g.close();
      throw e;
    }
    return g;
  }

  private async start(env: GenerationEnv): Promise<void> {
    const targets = new Map<string, Target>();
    for (const c of this.config.clusters.values()) {
      this.clusters.set(c.name, new ClusterClient(c));
      const e = c.endpoints[0];
      targets.set(c.name, parseTarget(`http://${e.host.includes(":") ? `[${e.host}]` : e.host}:${e.port}`, `cluster ${c.name}`));
    }
    const grpc = new GrpcCallouts(this.clusters, env.logger);
    const pluginEnv: PluginEnv = {
      level: env.level,
      write: env.write,
      color: env.color,
      shared: env.shared,
      instanceEnv: { clusters: targets, agents: this.agents, grpc: (g, inst) => grpc.start(g, inst) },
      clusterNames: [...this.config.clusters.keys()],
    };
    if (env.services) for (const s of this.config.services) this.services.push(await WasmPlugin.start(s, pluginEnv, this.number));
    for (const l of this.config.listeners) {
      const plugins: WasmPlugin[] = [];
      const rt: ListenerRuntime = { config: l, plugins, routes: null, accessLogs: [] };
      this.listeners.push(rt);
      for (const f of l.chain.filters) plugins.push(await WasmPlugin.start(f, pluginEnv, this.number));
      if (l.chain.kind === "http") rt.routes = new RouteTable(l.chain);
      rt.accessLogs = l.chain.accessLogs.map((a) => new AccessLog(a, env.sinks));
    }
  }

  /** Stops taking new streams: each plugin shuts down once what it serves is done. */
  retire(logger: Logger): void {
    for (const p of this.plugins) p.instance.retire();
    logger.proxy(LogLevel.Debug, `configuration ${this.number} retired; it shuts down when its streams finish`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.plugins) p.close();
    for (const c of this.clusters.values()) c.close();
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
