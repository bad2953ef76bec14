// One worker thread of `proxy-wasm-as envoy --concurrency N`: the whole configuration with its own
// VM per filter, accepting on the listening sockets worker 0 bound (every worker's event loop
// accepts on the same descriptors), shared data and queues in the main thread's store.
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { UserError } from "../../errors.js";
import { type EnvoyOptions, startEnvoy } from "../server.js";
import { RemoteSharedState } from "./remote-shared.js";

export interface WorkerData {
  index: number;
  options: Pick<EnvoyOptions, "config" | "logLevel" | "watch" | "color">;
  listenFds: number[] | null;
  port: MessagePort;
  flag: SharedArrayBuffer;
}

export type ToMain =
  | { type: "ready"; listeners: Array<{ name: string; host: string; port: number; url: string }>; admin: null; fds: number[] }
  | { type: "error"; message: string; user: boolean }
  | { type: "log" | "stdout"; line: string }
  | { type: "stats"; id: number; snapshot: unknown }
  | { type: "reload"; id: number; ev: { ok: boolean; generation: number; error?: string } }
  | { type: "closed" };

export type ToWorker =
  | { type: "stats"; id: number }
  | { type: "queue-ready"; token: number }
  | { type: "reload"; id: number }
  | { type: "close" };

const data = workerData as WorkerData;
const post = (m: ToMain) => parentPort!.postMessage(m);
const shared = new RemoteSharedState(data.port, new Int32Array(data.flag));

try {
  const envoy = await startEnvoy(
    { ...data.options, log: (line) => post({ type: "log", line }), stdout: (line) => post({ type: "stdout", line }) },
    { shared, listenFds: data.listenFds, services: data.index === 0 },
  );
  parentPort!.on("message", (m: ToWorker) => {
    if (m.type === "stats") post({ type: "stats", id: m.id, snapshot: envoy.stats.snapshot() });
    else if (m.type === "queue-ready") shared.queueReady(m.token);
    else if (m.type === "reload") void envoy.reload().then((ev) => post({ type: "reload", id: m.id, ev }));
    else if (m.type === "close") {
      void envoy.close().then(() => {
        post({ type: "closed" });
        parentPort!.close();
        data.port.close();
      });
    }
  });
  post({ type: "ready", listeners: envoy.listeners, admin: null, fds: envoy.fds });
} catch (e) {
  post({ type: "error", message: e instanceof UserError ? e.message : String((e as Error)?.stack ?? e), user: e instanceof UserError });
  parentPort!.close();
  data.port.close();
}
