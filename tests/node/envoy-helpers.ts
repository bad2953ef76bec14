// Running Envoy configurations under `proxy-wasm-as envoy` in tests: an example's envoy.yaml as it
// ships, with only its fixed ports moved to free ones, next to a build/ folder holding the built
// modules it names.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { startEnvoy, type RunningEnvoy, type EnvoyOptions } from "../../src/envoy/server.js";
import { built, repoRoot } from "./helpers.js";

/**
 * A port free on 127.0.0.1 now, below Linux's ephemeral range (32768-60999): a port the kernel picked
 * for listen(0) goes back to that range once closed, where any outgoing connection of the test files
 * running beside this one can take it before the server listens on it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once("error", () => r(false));
      s.listen(port, "127.0.0.1", () => r(true));
    });
    if (!ok) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
}

export interface StagedConfig {
  dir: string;
  file: string;
  /** Original port in the configuration -> the free port it was moved to. */
  ports: Map<number, number>;
}

/** Writes `yaml` (every port_value moved to a free port) into a new folder with build/<name>.wasm for each example named. */
export async function stage(yaml: string, examples: readonly string[]): Promise<StagedConfig> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "pwas-envoy-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, "build"));
  for (const name of examples) {
    const { outFile } = await built(`examples/${name}/index.ts`);
    copyFileSync(outFile, path.join(dir, "build", `${name}.wasm`));
  }
  const ports = new Map<number, number>();
  for (const m of yaml.matchAll(/port_value: (\d+)/g)) {
    const p = Number(m[1]);
    if (!ports.has(p)) ports.set(p, await freePort());
  }
  const text = yaml
    .replace(/port_value: (\d+)/g, (_m, p) => `port_value: ${ports.get(Number(p))}`)
    .replace(/address: 0\.0\.0\.0/g, "address: 127.0.0.1");
  const file = path.join(dir, "envoy.yaml");
  writeFileSync(file, text);
  return { dir, file, ports };
}

/** An example's envoy.yaml, staged. */
export function stageExample(name: string): Promise<StagedConfig> {
  return stage(readFileSync(path.join(repoRoot, "examples", name, "envoy.yaml"), "utf8"), [name]);
}

export interface Started {
  envoy: RunningEnvoy;
  staged: StagedConfig;
  stdout: string[];
  logs: string[];
  /** http://127.0.0.1:PORT for the configuration's original port. */
  url(port: number): string;
}

export async function run(staged: StagedConfig, options: Partial<EnvoyOptions> = {}): Promise<Started> {
  const stdout: string[] = [];
  const logs: string[] = [];
  const envoy = await startEnvoy({
    config: staged.file,
    stdout: (l) => stdout.push(l),
    log: (l) => logs.push(l),
    color: false,
    ...options,
  });
  return { envoy, staged, stdout, logs, url: (p) => `http://127.0.0.1:${staged.ports.get(p)}` };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  trailers: Record<string, string | undefined>;
}

/** One HTTP/1.1 request (no keep-alive, so nothing outlives the test). */
export function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), trailers: res.trailers }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** One HTTP/2 prior-knowledge (h2c) request, with request trailers if given. */
export function request2(
  url: string,
  opts: { method?: string; path?: string; headers?: Record<string, string>; body?: string; trailers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request(
      { ":method": opts.method ?? "GET", ":path": opts.path ?? "/", ...opts.headers },
      { endStream: opts.body === undefined && !opts.trailers, waitForTrailers: !!opts.trailers },
    );
    if (opts.trailers) stream.on("wantTrailers", () => stream.sendTrailers(opts.trailers!));
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let trailers: Record<string, string | undefined> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      headers = h as http.IncomingHttpHeaders;
    });
    stream.on("trailers", (t) => (trailers = t as Record<string, string>));
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      session.close();
      resolve({ status, headers, body: Buffer.concat(chunks).toString(), trailers });
    });
    stream.on("error", (e) => {
      session.destroy();
      reject(e);
    });
    stream.setTimeout(5000, () => stream.close());
    if (opts.body !== undefined) stream.end(opts.body);
    else if (opts.trailers) stream.end();
  });
}
