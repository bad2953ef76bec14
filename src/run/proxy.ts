// `proxy-wasm-as run` as a library: a real HTTP/1.1 reverse proxy on node:http with one proxy-wasm
// filter in front of one upstream, the filter run by the Envoy-like host (src/host). See docs/run.md.
// startProxy checks the options, then puts together the pieces: the filter's builds
// (generations.ts), the server (server.ts), one Exchange per request (exchange.ts) and the watch
// (filter-source.ts).
import { EventEmitter } from "node:events";
import http from "node:http";
import https from "node:https";
import { LogLevel } from "../abi.js";
import { UserError } from "../errors.js";
import { Exchange } from "./exchange.js";
import type { ExchangeEnv, ExchangeSummary } from "./exchange-legs.js";
import { filterNameOf, loadFilter, watchFilter } from "./filter-source.js";
import { FilterGenerations, type ReloadEvent } from "./generations.js";
import type { InstanceEnv } from "./instance.js";
import { Logger } from "./log.js";
import {
  DEFAULT_BUFFER_LIMIT,
  DEFAULT_LISTEN,
  DEFAULT_TIMEOUT_MS,
  parseBytes,
  parseClusters,
  parseDuration,
  parseListen,
  parseLogLevel,
  parseTarget,
  readConfigArg,
  type LogLevelName,
} from "./options.js";
import { createProxyServer, listenOn } from "./server.js";
import { parseLimits, type LimitFlags } from "./limit-options.js";

export { MAX_HEADER_BYTES } from "./server.js";
export type { ReloadEvent } from "./generations.js";

export interface ProxyOptions extends LimitFlags {
  /** The filter: a .wasm module, an AssemblyScript entry (.ts, built first), or module bytes. */
  filter: string | Uint8Array;
  /** Where requests the filter lets through go: http(s)://HOST:PORT. None: they get a 503. */
  upstream?: string;
  /** HOST:PORT to listen on (default 127.0.0.1:10000; port 0 picks a free port). */
  listen?: string;
  /** Plugin configuration (PLUGIN_CONFIGURATION): text, bytes, or "@file". */
  config?: string | Uint8Array;
  /** VM configuration (VM_CONFIGURATION): text, bytes, or "@file". */
  vmConfig?: string | Uint8Array;
  rootId?: string;
  vmId?: string;
  /** Clusters proxy_http_call can reach: name -> http(s)://HOST:PORT (or "NAME=URL" strings). */
  clusters?: Record<string, string> | readonly string[];
  /** Let requests through when the VM has failed (Envoy fail_open); default: 503. */
  failOpen?: boolean;
  /** Lowest level printed, and what proxy_get_log_level answers (default "info"). */
  logLevel?: LogLevelName | string;
  /** Route timeout (ms, or "15s"): from the end of the request to the end of the upstream response; 0 = none. Default 15 s like Envoy. */
  timeout?: number | string;
  /** Bytes the filter may hold per direction before the proxy stops reading / answers 413 (default 1 MiB, Envoy's). */
  bufferLimit?: number | string;
  /** Rebuild (a .ts) or reload (a .wasm) when the files change; requests in flight finish on the old VM. */
  watch?: boolean;
  /** Build a .ts entry without optimization (faster rebuilds, names in traces). */
  debug?: boolean;
  /** Where log lines go (default stderr). */
  log?: (line: string) => void;
  /** ANSI colours in log lines (default: stderr is a terminal). */
  color?: boolean;
  /** One line per finished request at info level (default true). */
  accessLog?: boolean;
  /** How long close() waits for requests in flight before closing their connections (ms, default 2000). */
  drainTimeoutMs?: number;
}

export interface RunningProxy {
  /** http://HOST:PORT the proxy listens on. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The upstream (scheme://host:port), or null. */
  readonly upstream: string | null;
  /** What the filter was given as (path or "<bytes>"). */
  readonly filter: string;
  /** "reload" (ReloadEvent) and "exchange" (ExchangeSummary) events. */
  readonly events: EventEmitter;
  /** Requests being served now. */
  readonly active: number;
  /** The build serving new requests (1, then +1 per successful reload). */
  readonly generation: number;
  /** Rebuilds or reloads the filter now (what --watch does on a change). */
  reload(): Promise<ReloadEvent>;
  /** Stops accepting, lets requests in flight finish (up to drainTimeoutMs), ends the plugin. */
  close(): Promise<void>;
}

/** Every flag checked, before anything is built or bound. */
async function checkOptions(options: ProxyOptions) {
  if (!options || options.filter === undefined)
    throw new UserError("startProxy needs { filter }: a .wasm path, a .ts entry or module bytes");
  const watching = options.watch === true;
  const parsed = {
    listen: parseListen(options.listen ?? DEFAULT_LISTEN),
    upstream: options.upstream ? parseTarget(options.upstream, "--upstream") : null,
    clusters: parseClusters(options.clusters),
    level: parseLogLevel(options.logLevel ?? "info"),
    timeoutMs: options.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(options.timeout, "--timeout"),
    bufferLimit: options.bufferLimit === undefined ? DEFAULT_BUFFER_LIMIT : parseBytes(options.bufferLimit, "--buffer-limit"),
    pluginConfig: await readConfigArg(options.config, "--config"),
    vmConfig: await readConfigArg(options.vmConfig, "--vm-config"),
    limits: parseLimits(options),
    watching,
  };
  if (watching && options.filter instanceof Uint8Array)
    throw new UserError("--watch needs a file to watch (a .ts entry or a .wasm path), not module bytes");
  return parsed;
}

/** Starts the proxy; rejects with a UserError for bad options, a filter that does not start or an address it cannot bind. */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const o = await checkOptions(options);
  const filterName = filterNameOf(options.filter);
  const write = options.log ?? ((line: string) => process.stderr.write(line));
  const logger = new Logger({ level: o.level, write, color: options.color, filterName, accessLog: options.accessLog });
  const agents = {
    http: new http.Agent({ keepAlive: true }),
    // Envoy checks upstream certificates only when a validation_context is configured.
    https: new https.Agent({ keepAlive: true, rejectUnauthorized: false }),
  };
  const events = new EventEmitter();
  const instanceEnv: InstanceEnv = { logger, clusters: o.clusters, agents };
  const debug = options.debug === true;
  const settings = {
    pluginConfig: o.pluginConfig,
    vmConfig: o.vmConfig,
    rootId: options.rootId ?? "",
    vmId: options.vmId ?? "",
    pluginName: filterName,
    logLevel: o.level,
    failOpen: options.failOpen === true,
    upstreams: [...o.clusters.keys()],
    limits: o.limits,
  };
  const builds = new FilterGenerations(
    settings,
    instanceEnv,
    logger,
    () => loadFilter(options.filter, debug, logger, write),
    (ev) => events.emit("reload", ev),
  );
  const loaded = await loadFilter(options.filter, debug, logger, write);
  await builds.start(loaded);

  let active = 0;
  let drainWaiters: Array<() => void> = [];
  const exchangeEnv: ExchangeEnv = {
    logger,
    upstream: o.upstream,
    agents,
    failOpen: settings.failOpen,
    timeoutMs: o.timeoutMs,
    bufferLimit: o.bufferLimit,
    onFinished: (s) => {
      active--;
      logger.access(s.method, s.path, s.status || "-", s.outcome, s.ms);
      events.emit("exchange", s satisfies ExchangeSummary);
      if (active === 0) {
        const w = drainWaiters;
        drainWaiters = [];
        for (const f of w) f();
      }
    },
  };
  const server = createProxyServer(
    logger,
    {
      arrived: () => active++,
      serve: (req, res, connectionId) => new Exchange(exchangeEnv, builds.current, req, res, connectionId).start(),
      refused: (s) => exchangeEnv.onFinished(s),
    },
    o.limits,
  );
  const port = await listenOn(server, o.listen).catch(async (e) => {
    await builds.close();
    agents.http.destroy();
    agents.https.destroy();
    throw e;
  });
  server.on("error", (e) => logger.proxy(LogLevel.Error, `server error: ${e.message}`));
  const urlHost = o.listen.host.includes(":") ? `[${o.listen.host}]` : o.listen.host;
  const watcher = o.watching ? watchFilter(loaded, logger, () => void builds.reload()) : null;

  /** Waits until no request is in flight, or drainMs passed. */
  const drained = (drainMs: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, drainMs);
      drainWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    if (closed) return closed;
    builds.stopReloading();
    closed = (async () => {
      watcher?.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) await drained(options.drainTimeoutMs ?? 2000);
      server.closeAllConnections();
      await serverClosed;
      // Let exchanges finishing on this turn complete their streams first.
      await new Promise((r) => setImmediate(r));
      await builds.close();
      agents.http.destroy();
      agents.https.destroy();
    })();
    return closed;
  };

  return {
    url: `http://${urlHost}:${port}`,
    host: o.listen.host,
    port,
    upstream: o.upstream?.display ?? null,
    filter: typeof options.filter === "string" ? options.filter : "<bytes>",
    events,
    get active() {
      return active;
    },
    get generation() {
      return builds.current.generation;
    },
    reload: () => builds.reload(),
    close,
  };
}
