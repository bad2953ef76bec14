// `--concurrency N`: N worker threads, each serving the whole configuration with its own VMs, as
// Envoy runs one VM per filter per worker. Worker 0 binds the listeners; the others accept on the
// same listening descriptors (Node 20 has no SO_REUSEPORT; every worker's event loop accepts on the
// shared socket and the kernel hands each connection to one of them). The main thread keeps the
// shared-data store, the admin listener (stats summed across workers) and the log output.
import { EventEmitter } from "node:events";
import type http from "node:http";
import { MessageChannel, Worker } from "node:worker_threads";
import { UserError } from "../../errors.js";
import { createAdminServer } from "../admin.js";
import { readBootstrap } from "../config/bootstrap.js";
import type { EnvoyOptions, ListeningAddress, RunningEnvoy } from "../server.js";
import { Stats, type StatsSnapshot } from "../stats.js";
import { SharedStore } from "./remote-shared.js";
import type { ToMain, ToWorker, WorkerData } from "./worker.js";

interface WorkerHandle {
  worker: Worker;
  send(m: ToWorker): void;
  ready: Promise<Extract<ToMain, { type: "ready" }>>;
  exited: Promise<void>;
}

export async function startWorkers(options: EnvoyOptions): Promise<RunningEnvoy> {
  const n = options.concurrency ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UserError(`--concurrency ${n}: give a whole number of worker threads from 1 to 64`);
  const config = readBootstrap(options.config); // refuse a bad configuration before any thread starts
  const write = options.log ?? ((line: string) => process.stderr.write(line));
  const stdout = options.stdout ?? ((line: string) => process.stdout.write(line));
  const store = new SharedStore();
  const events = new EventEmitter();
  const pending = new Map<number, (m: ToMain) => void>();
  let nextId = 1;
  const workers: WorkerHandle[] = [];

  const spawn = (index: number, listenFds: number[] | null): WorkerHandle => {
    const { port1, port2 } = new MessageChannel();
    const flag = new SharedArrayBuffer(4);
    const data: WorkerData = {
      index,
      options: { config: options.config, logLevel: options.logLevel, watch: options.watch, color: options.color },
      listenFds,
      port: port2,
      flag,
    };
    const worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: data, transferList: [port2] });
    store.serve(port1, new Int32Array(flag), (token) => worker.postMessage({ type: "queue-ready", token } satisfies ToWorker));
    let resolveReady!: (m: Extract<ToMain, { type: "ready" }>) => void;
    let rejectReady!: (e: Error) => void;
    const ready = new Promise<Extract<ToMain, { type: "ready" }>>((res, rej) => ((resolveReady = res), (rejectReady = rej)));
    worker.on("message", (m: ToMain) => {
      if (m.type === "log") write(m.line.replace(/^(\S+ \S+\s+)/, `$1[worker ${index}] `));
      else if (m.type === "stdout") stdout(m.line);
      else if (m.type === "ready") resolveReady(m);
      else if (m.type === "error") rejectReady(m.user ? new UserError(m.message) : new Error(m.message));
      else if (m.type === "stats" || m.type === "reload") pending.get(m.id)?.(m);
    });
    worker.on("error", (e) => rejectReady(e));
    const exited = new Promise<void>((res) => worker.once("exit", () => (port1.close(), res())));
    void exited.then(() => rejectReady(new Error(`worker ${index} exited before it started`)));
    return { worker, send: (m) => worker.postMessage(m), ready, exited };
  };

  const ask = <T extends ToMain>(w: WorkerHandle, make: (id: number) => ToWorker): Promise<T> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, (m) => {
        pending.delete(id);
        resolve(m as T);
      });
      w.send(make(id));
    });

  let listeners: ListeningAddress[] = [];
  try {
    const first = spawn(0, null);
    workers.push(first);
    const r0 = await first.ready;
    listeners = r0.listeners;
    for (let i = 1; i < n; i++) workers.push(spawn(i, r0.fds));
    await Promise.all(workers.map((w) => w.ready));
  } catch (e) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw e;
  }

  const stats = async (): Promise<Stats> => {
    const snaps = await Promise.all(workers.map((w) => ask<Extract<ToMain, { type: "stats" }>>(w, (id) => ({ type: "stats", id }))));
    return Stats.merged(
      snaps.map((s) => s.snapshot as StatsSnapshot),
      config.statsTags,
    );
  };
  let closing = false;
  let admin: ListeningAddress | null = null;
  let adminServer: http.Server | null = null;
  if (config.admin) {
    adminServer = createAdminServer(stats, () => !closing);
    const a = config.admin;
    await new Promise<void>((resolve, reject) => {
      adminServer!.once("error", (e: NodeJS.ErrnoException) =>
        reject(new UserError(`admin: cannot listen on ${a.host}:${a.port}: ${e.code ?? e.message}`)),
      );
      adminServer!.listen(a.port, a.host, () => resolve());
    }).catch(async (e) => {
      await Promise.all(workers.map((w) => w.worker.terminate()));
      throw e;
    });
    const port = (adminServer.address() as { port: number }).port;
    admin = { name: "admin", host: a.host, port, url: `http://${a.host === "0.0.0.0" ? "127.0.0.1" : a.host}:${port}` };
  }
  write(`${new Date().toISOString().slice(11, 23)} info     proxy: ${n} workers, each with its own VM per filter\n`);

  let generation = 1;
  let closed: Promise<void> | null = null;
  return {
    listeners,
    admin,
    events,
    fds: [],
    stats: Stats.merged([], config.statsTags),
    get generation() {
      return generation;
    },
    async reload() {
      const evs = await Promise.all(workers.map((w) => ask<Extract<ToMain, { type: "reload" }>>(w, (id) => ({ type: "reload", id }))));
      const bad = evs.find((e) => !e.ev.ok);
      const ev = bad ? bad.ev : evs[0].ev;
      if (ev.ok) generation = ev.generation;
      events.emit("reload", ev);
      return ev;
    },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        for (const w of workers) w.send({ type: "close" });
        await Promise.race([Promise.all(workers.map((w) => w.exited)), new Promise((r) => setTimeout(r, 4000))]);
        await Promise.all(workers.map((w) => w.worker.terminate()));
        if (adminServer) {
          adminServer.closeAllConnections();
          await new Promise<void>((r) => adminServer!.close(() => r()));
        }
      })()),
  };
}
