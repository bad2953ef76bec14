// `npm run bench:envoy`: throughput of `proxy-wasm-as envoy` with 1 and with 2 worker threads, the
// add-header filter in front of a loopback upstream (its own process), loaded with autocannon.
//
//   npm run bench:envoy                       5 s per run, 2 runs per worker count
//   npm run bench:envoy -- --seconds 10 --runs 3 --connections 32 --workers 1,2,4
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { buildFilter } from "../src/build/build.js";

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

type Autocannon = (
  opts: Record<string, unknown>,
) => Promise<{ requests: { total: number }; duration: number; latency: { p50: number; p99: number }; errors: number; non2xx: number }>;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function config(listen: number, upstream: number): string {
  return `static_resources:
  listeners:
  - name: ingress
    address: {socket_address: {address: 127.0.0.1, port_value: ${listen}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: upstream}}]}]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config: {root_id: add-header, vm_config: {vm_id: add-header, runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/add-header.wasm}}}}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: upstream
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${upstream}}}}}]}]
`;
}

/** Starts a process and waits for `pattern` on its stderr or stdout. */
function start(args: string[], pattern: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`timed out starting ${args.join(" ")}: ${seen}`)), 30_000);
    const on = (c: Buffer) => {
      seen += c.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on("data", on);
    child.stderr!.on("data", on);
    child.on("exit", (code) => reject(new Error(`${args.join(" ")} exited with ${code}: ${seen}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((r) => {
    child.once("exit", () => r());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 3000).unref();
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "5" },
      runs: { type: "string", default: "2" },
      connections: { type: "string", default: "16" },
      workers: { type: "string", default: "1,2" },
    },
  });
  const seconds = Number(values.seconds);
  const runs = Number(values.runs);
  const connections = Number(values.connections);
  const counts = values.workers.split(",").map(Number);
  const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;
  const dir = mkdtempSync(path.join(os.tmpdir(), "pwas-bench-envoy-"));
  mkdirSync(path.join(dir, "build"));
  const built = await buildFilter(
    { entry: path.join(REPO, "examples/add-header/index.ts"), outFile: path.join(dir, "build", "add-header.wasm") },
    () => {},
  );
  copyFileSync(built.outFile, path.join(dir, "build", "add-header.wasm"));
  const upstreamPort = await freePort();
  const upstream = await start(
    ["-e", `require("http").createServer((q,s)=>s.end("ok")).listen(${upstreamPort},"127.0.0.1",()=>console.log("up"))`],
    /up/,
  );
  const rows: string[] = [];
  try {
    for (const n of counts) {
      const port = await freePort();
      const file = path.join(dir, `envoy-${n}.yaml`);
      writeFileSync(file, config(port, upstreamPort));
      const proxy = await start(
        [path.join(REPO, "dist/src/cli.js"), "envoy", "-c", file, "--concurrency", String(n), "--log-level", "warn"],
        /serving/,
      );
      try {
        await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: 1 }); // warm-up
        let total = 0;
        let secs = 0;
        let p50 = 0;
        let p99 = 0;
        let errors = 0;
        for (let i = 0; i < runs; i++) {
          const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections, duration: seconds });
          total += r.requests.total;
          secs += r.duration;
          p50 += r.latency.p50 / runs;
          p99 += r.latency.p99 / runs;
          errors += r.errors + r.non2xx;
        }
        rows.push(`| ${n} | ${Math.round(total / secs)} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${errors} |`);
      } finally {
        await stop(proxy);
      }
    }
  } finally {
    await stop(upstream);
  }
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  process.stdout.write(
    `proxy-wasm-as envoy, add-header in front of a loopback upstream, ${connections} connections, ${runs} x ${seconds} s per row (${os.cpus().length} cores, load average ${load})\n\n` +
      `| workers | requests/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n${rows.join("\n")}\n`,
  );
}

main().catch((e) => {
  process.stderr.write(`bench:envoy: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
