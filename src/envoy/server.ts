// `proxy-wasm-as envoy -c envoy.yaml` as a library: reads the configuration, starts its plugins,
// listeners and admin listener, and (with watch) swaps in a changed module or configuration for new
// streams while streams in flight finish on the old one. See docs/envoy.md.
import { EventEmitter } from "node:events";
import { watch, type FSWatcher } from "node:fs";
import type http from "node:http";
import net from "node:net";
import path from "node:path";
import { LogLevel } from "../abi.js";
import { UserError } from "../errors.js";
import { SharedState } from "../host/index.js";
import { Logger } from "../run/log.js";
import { parseLogLevel } from "../run/options.js";
import { createAdminServer } from "./admin.js";
import { readBootstrap } from "./config/bootstrap.js";
import type { Address, EnvoyConfig, HttpManagerConfig } from "./config/types.js";
import { Generation } from "./generation.js";
import { HttpExchange } from "./http/exchange.js";
import { HttpCodec } from "./http/listener.js";
import { getJoined } from "./http/pairs.js";
import { Stats } from "./stats.js";
import { serveTcp } from "./tcp.js";

export interface EnvoyOptions {
  /** The configuration file (YAML or JSON), as Envoy's -c. */
  config: string;
  /** Lowest log level printed and reported to filters (default "info"). */
  logLevel?: string;
  /** Reload when the configuration or a module changes. */
  watch?: boolean;
  /** Where access logs with path /dev/stdout or the stdout logger go (default: process.stdout). */
  stdout?: (line: string) => void;
  /** Where the proxy's and the filters' log lines go (default: stderr). */
  log?: (line: string) => void;
  color?: boolean;
  /** Worker threads (Envoy's --concurrency); more than 1 runs startWorkers. */
  concurrency?: number;
}

/** What a worker thread passes to startEnvoy (see workers/). */
export interface WorkerRole {
  /** Shared data and queues in the main thread's store. */
  shared: SharedState;
  /** Listening sockets to accept on, by listener index (worker 0 binds them and reports its own). */
  listenFds: number[] | null;
  /** Run the bootstrap services (one worker does). */
  services: boolean;
}

export interface ListeningAddress {
  name: string;
  host: string;
  port: number;
  url: string;
}

export interface RunningEnvoy {
  readonly listeners: ListeningAddress[];
  readonly admin: ListeningAddress | null;
  /** "reload" events: { ok, generation, error? }. */
  readonly events: EventEmitter;
  readonly generation: number;
  reload(): Promise<{ ok: boolean; generation: number; error?: string }>;
  close(): Promise<void>;
  /** The listening sockets' descriptors, by listener (for other workers to accept on). */
  readonly fds: number[];
  readonly stats: Stats;
}

async function listen(server: net.Server, a: Address, what: string, fd?: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          `${what}: cannot listen on ${a.host}:${a.port}: ${e.code === "EADDRINUSE" ? "the port is in use" : e.code === "EACCES" ? "permission denied" : (e.code ?? e.message)}`,
        ),
      );
    server.once("error", onError);
    const done = () => {
      server.off("error", onError);
      resolve();
    };
    if (fd !== undefined) server.listen({ fd }, done);
    else server.listen(a.port, a.host, done);
  });
  const addr = server.address();
  return typeof addr === "object" && addr ? addr.port : a.port;
}

function urlOf(host: string, port: number): string {
  const h = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "[::1]" : host.includes(":") ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

export async function startEnvoy(options: EnvoyOptions, role?: WorkerRole): Promise<RunningEnvoy> {
  if ((options.concurrency ?? 1) > 1 && !role) {
    const { startWorkers } = await import("./workers/main.js");
    return startWorkers(options);
  }
  const level = parseLogLevel(options.logLevel ?? "info");
  const write = options.log ?? ((line: string) => process.stderr.write(line));
  const stdout = options.stdout ?? ((line: string) => process.stdout.write(line));
  const logger = new Logger({ level, write, color: options.color, filterName: "envoy", accessLog: false });
  const shared = role?.shared ?? new SharedState();
  const genEnv = { level, write, color: options.color, shared, sinks: { stdout, stderr: write }, logger, services: role?.services ?? true };
  let config: EnvoyConfig = readBootstrap(options.config);
  const stats = new Stats(() => shared.metrics.values(), config.statsTags);
  let current = await Generation.load(config, 1, genEnv);
  const old = new Set<Generation>();
  const servers: net.Server[] = [];
  const codecs: HttpCodec[] = [];
  const listeners: ListeningAddress[] = [];
  let active = 0;
  let closing = false;

  const closeAll = () => {
    for (const s of servers) s.close();
    for (const c of codecs) c.close(true);
    current.close();
  };
  try {
    for (let i = 0; i < config.listeners.length; i++) {
      const lc = config.listeners[i];
      const name = lc.name || `listener_${i}`;
      let server: net.Server;
      if (lc.chain.kind === "http") {
        const codec = new HttpCodec(
          lc.chain.codec,
          {
            request: (req, res, connectionId, socket) => {
              const gen = current;
              const rt = gen.listeners[i];
              const hcm = rt.config.chain as HttpManagerConfig;
              active++;
              const x = new HttpExchange(
                {
                  plugins: rt.plugins,
                  routes: rt.routes!,
                  clusters: gen.clusters,
                  logger,
                  finished: (done) => {
                    active--;
                    stats.httpRequest(hcm.statPrefix, done.status, done.cluster || null);
                    if (rt.accessLogs.length > 0) {
                      const reqHeaders = done.finalRequestHeaders;
                      const ctx = {
                        req: (n: string) => getJoined(reqHeaders, n),
                        resp: (n: string) => getJoined(done.responseHeaders, n),
                        status: done.status,
                        flags: done.flags,
                        details: done.details,
                        startTime: done.startTime,
                        protocol: done.protocol,
                        bytesReceived: done.bytesReceived,
                        bytesSent: done.bytesSent,
                        durationMs: done.durationMs,
                        upstreamHost: done.upstreamHost,
                        cluster: done.cluster,
                        routeName: done.routeName,
                        remoteAddress: done.remoteAddress,
                        localAddress: done.localAddress,
                        filterState: (k: string) => done.filterState(k),
                      };
                      for (const log of rt.accessLogs) log.log(ctx);
                    }
                  },
                },
                req,
                res,
                connectionId,
                socket,
              );
              x.start();
            },
          },
          logger,
        );
        codecs.push(codec);
        server = net.createServer({ allowHalfOpen: true }, (s) => codec.accept(s));
      } else {
        const tcp = lc.chain;
        server = net.createServer({ allowHalfOpen: true }, (s) => {
          const rt = current.listeners[i];
          serveTcp(
            {
              config: tcp,
              cluster: current.config.clusters.get(tcp.cluster)!,
              plugins: () => rt.plugins,
              logger,
              stats,
              accessLogs: rt.accessLogs,
            },
            s,
          );
        });
      }
      servers.push(server);
      const port = await listen(server, lc.address, `static_resources.listeners[${i}] (${name})`, role?.listenFds?.[i]);
      listeners.push({ name, host: lc.address.host, port, url: urlOf(lc.address.host, port) });
      logger.proxy(
        LogLevel.Info,
        `listener ${name} on ${lc.address.host}:${port} (${lc.chain.kind === "http" ? `HTTP, ${lc.chain.filters.length} Wasm filter(s)` : `TCP to ${lc.chain.cluster}, ${lc.chain.filters.length} Wasm filter(s)`})`,
      );
    }
  } catch (e) {
    closeAll();
    throw e;
  }
  let admin: ListeningAddress | null = null;
  let adminServer: http.Server | null = null;
  if (config.admin && !role) {
    adminServer = createAdminServer(
      async () => stats,
      () => !closing,
    );
    try {
      const port = await listen(adminServer, config.admin, "admin");
      admin = { name: "admin", host: config.admin.host, port, url: urlOf(config.admin.host, port) };
    } catch (e) {
      closeAll();
      throw e;
    }
  }

  const events = new EventEmitter();
  let generation = 1;
  let reloading: Promise<{ ok: boolean; generation: number; error?: string }> | null = null;
  const doReload = async () => {
    try {
      const next = readBootstrap(options.config);
      const addr = (c: EnvoyConfig) =>
        JSON.stringify([c.admin, c.listeners.map((l) => [l.address, l.chain.kind, l.chain.kind === "http" ? l.chain.codec : ""])]);
      if (addr(next) !== addr(config)) throw new UserError("listener or admin addresses changed; restart to use them");
      const gen = await Generation.load(next, generation + 1, genEnv);
      if (closing) {
        gen.close();
        throw new UserError("shutting down");
      }
      const prev = current;
      current = gen;
      config = next;
      generation = gen.number;
      old.add(prev);
      prev.retire(logger);
      logger.proxy(
        LogLevel.Info,
        `reloaded ${path.basename(options.config)} (configuration ${generation}); streams in flight finish on the previous one`,
      );
      const ev = { ok: true, generation };
      events.emit("reload", ev);
      return ev;
    } catch (e) {
      const msg = e instanceof UserError ? e.message : String((e as Error)?.stack ?? e);
      logger.proxy(LogLevel.Error, `reload failed, still serving configuration ${generation}: ${msg}`);
      const ev = { ok: false, generation, error: msg };
      events.emit("reload", ev);
      return ev;
    }
  };
  const reload = () => (reloading ??= doReload().finally(() => (reloading = null)));

  const watchers: FSWatcher[] = [];
  let debounce: NodeJS.Timeout | null = null;
  if (options.watch) {
    const files = () => new Set([path.resolve(options.config), ...current.plugins.map((p) => p.config.file)]);
    const dirs = new Set([...files()].map((f) => path.dirname(f)));
    for (const dir of dirs) {
      try {
        const w = watch(dir, (_ev, name) => {
          if (closing || !name || !files().has(path.join(dir, String(name)))) return;
          if (debounce) clearTimeout(debounce);
          debounce = setTimeout(() => {
            debounce = null;
            logger.proxy(LogLevel.Info, `${name} changed; reloading`);
            void reload();
          }, 100);
        });
        w.on("error", () => undefined);
        watchers.push(w);
      } catch (e) {
        logger.proxy(LogLevel.Warn, `cannot watch ${dir}: ${(e as Error).message}`);
      }
    }
  }

  let closed: Promise<void> | null = null;
  const close = () =>
    (closed ??= (async () => {
      closing = true;
      for (const w of watchers) w.close();
      if (debounce) clearTimeout(debounce);
      const done = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const c of codecs) c.close(false);
      const deadline = Date.now() + 2000;
      while (active > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const c of codecs) c.close(true);
      await done;
      if (adminServer) {
        adminServer.closeAllConnections();
        await new Promise<void>((r) => adminServer!.close(() => r()));
      }
      if (reloading) await reloading;
      await new Promise((r) => setImmediate(r));
      current.close();
      for (const g of old) g.close();
    })());

  return {
    listeners,
    admin,
    events,
    get generation() {
      return generation;
    },
    reload,
    close,
    stats,
    get fds() {
      return servers.map((s) => (s as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1);
    },
  };
}
