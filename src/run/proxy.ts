// `proxy-wasm-as run` as a library: a real HTTP/1.1 reverse proxy on node:http with one proxy-wasm
// filter in front of one upstream, the filter run by the Envoy-like host (src/host). See docs/run.md.
import { EventEmitter } from "node:events";
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import path from "node:path";
import { LogLevel } from "../abi.js";
import { buildFilter, defaultOutFile } from "../build/build.js";
import { UserError } from "../errors.js";
import { createHost } from "../host/create-host.js";
import { Exchange } from "./exchange.js";
import type { ExchangeEnv, ExchangeSummary } from "./exchange-legs.js";
import { Instance, type InstanceEnv } from "./instance.js";
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
  type Target,
} from "./options.js";
import { formatAddress } from "./wire.js";

/** Envoy's default max_request_headers_kb (60 KiB); larger request heads get 431. */
export const MAX_HEADER_BYTES = 60 * 1024;

export interface ProxyOptions {
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

export interface ReloadEvent {
  ok: boolean;
  /** The build now serving new requests. */
  generation: number;
  error?: string;
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

interface Loaded {
  wasm: Uint8Array;
  /** Files whose change means a rebuild: the .wasm itself, or the entry's folder. */
  watchDir: string | null;
  watchFile: string | null;
  ignoreDir: string | null;
}

async function loadFilter(filter: string | Uint8Array, debug: boolean, logger: Logger, log: (s: string) => void): Promise<Loaded> {
  if (filter instanceof Uint8Array) return { wasm: filter, watchDir: null, watchFile: null, ignoreDir: null };
  const file = path.resolve(filter);
  if (filter.endsWith(".ts")) {
    const out = defaultOutFile(file, debug);
    const r = await buildFilter({ entry: file, debug }, (text) => log(text.endsWith("\n") ? text : text + "\n"));
    const rel = path.relative(process.cwd(), r.outFile) || r.outFile;
    logger.proxy(LogLevel.Info, `built ${rel} (${r.wasm.byteLength} bytes${debug ? ", debug" : ""}) in ${(r.durationMs / 1000).toFixed(1)}s`);
    return { wasm: r.wasm, watchDir: path.dirname(file), watchFile: null, ignoreDir: path.dirname(out) };
  }
  if (!filter.endsWith(".wasm")) {
    throw new UserError(`${filter}: give a filter module (.wasm) or its AssemblyScript entry (.ts)`);
  }
  let wasm: Uint8Array;
  try {
    wasm = new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${filter}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message}`);
  }
  return { wasm, watchDir: path.dirname(file), watchFile: path.basename(file), ignoreDir: null };
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  if (!options || options.filter === undefined) throw new UserError("startProxy needs { filter }: a .wasm path, a .ts entry or module bytes");
  // Check every flag before building anything.
  const listen = parseListen(options.listen ?? DEFAULT_LISTEN);
  const upstream: Target | null = options.upstream ? parseTarget(options.upstream, "--upstream") : null;
  const clusters = parseClusters(options.clusters);
  const level = parseLogLevel(options.logLevel ?? "info");
  const timeoutMs = options.timeout === undefined ? DEFAULT_TIMEOUT_MS : parseDuration(options.timeout, "--timeout");
  const bufferLimit = options.bufferLimit === undefined ? DEFAULT_BUFFER_LIMIT : parseBytes(options.bufferLimit, "--buffer-limit");
  const pluginConfig = await readConfigArg(options.config, "--config");
  const vmConfig = await readConfigArg(options.vmConfig, "--vm-config");
  const watching = options.watch === true;
  if (watching && options.filter instanceof Uint8Array) throw new UserError("--watch needs a file to watch (a .ts entry or a .wasm path), not module bytes");
  const filterLabel = typeof options.filter === "string" ? options.filter : "<bytes>";
  const filterName =
    typeof options.filter === "string"
      ? (() => {
          const base = path.basename(options.filter, path.extname(options.filter));
          return base === "index" ? path.basename(path.dirname(path.resolve(options.filter))) : base;
        })()
      : "filter";
  const write = options.log ?? ((line: string) => process.stderr.write(line));
  const logger = new Logger({ level, write, color: options.color, filterName, accessLog: options.accessLog });

  const agents = {
    http: new http.Agent({ keepAlive: true }),
    // Envoy checks upstream certificates only when a validation_context is configured.
    https: new https.Agent({ keepAlive: true, rejectUnauthorized: false }),
  };
  const events = new EventEmitter();
  const instanceEnv: InstanceEnv = { logger, clusters, agents };
  const instances = new Set<Instance>();
  let current: Instance;
  let generation = 0;
  let active = 0;
  let drainWaiters: Array<() => void> = [];

  const makeInstance = async (wasm: Uint8Array, shared?: import("../host/shared.js").SharedState): Promise<Instance> => {
    const host = await createHost({
      wasm,
      pluginConfig,
      vmConfig,
      rootId: options.rootId ?? "",
      vmId: options.vmId ?? "",
      pluginName: filterName,
      logLevel: level,
      failurePolicy: options.failOpen ? "fail-open" : "fail-closed",
      upstreams: [...clusters.keys()],
      reloadOnFailure: true,
      shared,
      onLog: (e) => logger.filter(e),
    });
    if (!host.startPlugin()) {
      const f = host.failures[host.failures.length - 1];
      throw new UserError(`the filter failed to start: ${f ? `${f.callback}: ${f.message}` : "unknown reason"} (Envoy would reject this configuration)`);
    }
    const inst = new Instance(host, ++generation, instanceEnv);
    inst.onDrained = () => instances.delete(inst);
    instances.add(inst);
    inst.afterAction();
    return inst;
  };

  const loaded = await loadFilter(options.filter, options.debug === true, logger, write);
  current = await makeInstance(loaded.wasm);

  const exchangeEnv: ExchangeEnv = {
    logger,
    upstream,
    agents,
    failOpen: options.failOpen === true,
    timeoutMs,
    bufferLimit,
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

  const connectionIds = new WeakMap<Socket, number>();
  let nextConnectionId = 1;
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    active++;
    let id = connectionIds.get(req.socket);
    if (id === undefined) connectionIds.set(req.socket, (id = nextConnectionId++));
    const upgrade = req.headers.upgrade;
    if (upgrade !== undefined && upgrade.toLowerCase() !== "h2c") {
      // Envoy without upgrade_configs refuses upgrades (WebSocket) with 403 before any filter runs.
      logger.proxy(LogLevel.Debug, `refused an upgrade to ${JSON.stringify(upgrade)} (not supported; Envoy answers 403 without upgrade_configs)`);
      res.writeHead(403, { "content-length": "0" }).end();
      res.on("close", () => exchangeEnv.onFinished({ method: req.method ?? "", path: req.url ?? "", status: 403, outcome: "upgrade_failed", ms: 0, generation: 0 }));
      return;
    }
    new Exchange(exchangeEnv, current, req, res, id).start();
  });
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's HTTP/1 parser rejected the request before any filter ran (Envoy: http1.codec_error).
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
    const body = http.STATUS_CODES[status] ?? "Bad Request";
    logger.proxy(LogLevel.Debug, `rejected a malformed request from ${formatAddress(socket.remoteAddress, socket.remotePort)}: ${err.code ?? err.message} -> ${status}`);
    socket.end(`HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off("listening", onListening);
      const where = `${listen.host}:${listen.port}`;
      if (e.code === "EADDRINUSE") reject(new UserError(`cannot listen on ${where}: the port is in use; pick another with --listen ${listen.host}:PORT`));
      else if (e.code === "EACCES") reject(new UserError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges); pick another with --listen`));
      else if (e.code === "EADDRNOTAVAIL" || e.code === "ENOTFOUND" || e.code === "EAI_AGAIN") reject(new UserError(`cannot listen on ${where}: no such local address`));
      else reject(new UserError(`cannot listen on ${where}: ${e.code ?? e.message}`));
    };
    const onListening = () => {
      server.off("error", onError);
      resolve();
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(listen.port, listen.host);
  }).catch((e) => {
    for (const inst of instances) inst.close();
    agents.http.destroy();
    agents.https.destroy();
    throw e;
  });
  server.on("error", (e) => logger.proxy(LogLevel.Error, `server error: ${e.message}`));
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : listen.port;
  const urlHost = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  const url = `http://${urlHost}:${port}`;

  // ---------------------------------------------------------------- reloads
  let closing = false;
  let reloading: Promise<ReloadEvent> | null = null;
  let reloadAgain = false;

  const doReload = async (): Promise<ReloadEvent> => {
    let ev: ReloadEvent;
    try {
      const next = await loadFilter(options.filter, options.debug === true, logger, write);
      if (closing) return { ok: false, generation: current.generation, error: "the proxy is closing" };
      const inst = await makeInstance(next.wasm, current.host.shared);
      if (closing) {
        inst.close();
        return { ok: false, generation: current.generation, error: "the proxy is closing" };
      }
      const old = current;
      current = inst;
      old.retire();
      logger.proxy(LogLevel.Info, `reloaded the filter (build ${inst.generation}); requests in flight finish on build ${old.generation}`);
      ev = { ok: true, generation: inst.generation };
    } catch (e) {
      const msg = e instanceof UserError ? e.message : ((e as Error)?.stack ?? String(e));
      logger.proxy(LogLevel.Error, `reload failed, still serving build ${current.generation}: ${msg}`);
      ev = { ok: false, generation: current.generation, error: msg };
    }
    events.emit("reload", ev);
    return ev;
  };
  const reload = (): Promise<ReloadEvent> => {
    if (reloading) {
      reloadAgain = true;
      return reloading;
    }
    reloading = (async () => {
      let ev: ReloadEvent;
      do {
        reloadAgain = false;
        ev = await doReload();
      } while (reloadAgain && !closing);
      reloading = null;
      return ev;
    })();
    return reloading;
  };

  let watcher: FSWatcher | null = null;
  let debounce: NodeJS.Timeout | null = null;
  if (watching && loaded.watchDir) {
    const dir = loaded.watchDir;
    const onChange = (filename: string | null) => {
      if (closing) return;
      if (filename) {
        const abs = path.resolve(dir, filename);
        if (loaded.watchFile && path.basename(abs) !== loaded.watchFile) return;
        if (!loaded.watchFile && !abs.endsWith(".ts")) return;
        if (loaded.ignoreDir && (abs + path.sep).startsWith(loaded.ignoreDir + path.sep)) return;
        if (abs.split(path.sep).includes("node_modules")) return;
      }
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(() => {
        debounce = null;
        logger.proxy(LogLevel.Info, `${filename ?? "a file"} changed; ${loaded.watchFile ? "reloading" : "rebuilding"}`);
        void reload();
      }, 100);
    };
    try {
      watcher = watch(dir, { recursive: !loaded.watchFile }, (_event, filename) => onChange(filename ? String(filename) : null));
    } catch {
      watcher = watch(dir, (_event, filename) => onChange(filename ? String(filename) : null));
    }
    watcher.on("error", (e) => logger.proxy(LogLevel.Warn, `watching ${dir}: ${e.message}`));
  }

  // ---------------------------------------------------------------- close
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    if (closed) return closed;
    closing = true;
    closed = (async () => {
      watcher?.close();
      if (debounce) clearTimeout(debounce);
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        const drainMs = options.drainTimeoutMs ?? 2000;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, drainMs);
          drainWaiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      server.closeAllConnections();
      await serverClosed;
      // Let exchanges finishing on this turn complete their streams first.
      await new Promise((r) => setImmediate(r));
      if (reloading) await reloading.catch(() => undefined);
      for (const inst of [...instances]) inst.close();
      agents.http.destroy();
      agents.https.destroy();
    })();
    return closed;
  };

  return {
    url,
    host: listen.host,
    port,
    upstream: upstream?.display ?? null,
    filter: filterLabel,
    events,
    get active() {
      return active;
    },
    get generation() {
      return current.generation;
    },
    reload,
    close,
  };
}
