// Soak: every example under examples/ takes a long run of mixed traffic through the Envoy-like host,
// configured the way its wasmplugin.yaml configures it under Istio (every WasmPlugin in the file, on
// one VM, root_id = pluginName, pluginConfig as JSON). Callouts are answered, timers tick. After a
// warm-up, guest memory must not grow at all, and nothing may fail or log at ERROR or above. Every
// CHECK_EVERY requests (and after the last) each example's documented effect is checked with a
// probe (the table in soak-checks.ts; an example without an entry fails).
//
// CI runs SOAK_REQUESTS (default 20,000) requests per example; SOAK_FULL=1 runs 1,000,000 (see
// docs/testing.md for the measured numbers). New examples are picked up automatically.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { deflateSync, inflateSync } from "node:zlib";
import { parseAllDocuments } from "yaml";
import { createHost, LogLevel, type Host, type HostPlugin } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";
import { exampleChecks } from "./soak-checks.js";

const REQUESTS = process.env.SOAK_FULL ? 1_000_000 : Number(process.env.SOAK_REQUESTS ?? 20_000);
const CHECK_EVERY = 1_000;
/** Requests before memory is measured (at the first check from there): a GC'd heap grows a few times before it settles. */
const WARM_UP = Math.min(5_000, Math.floor(REQUESTS / 4));

const examples = readdirSync(path.join(repoRoot, "examples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(repoRoot, "examples", d.name, "index.ts")))
  .map((d) => d.name)
  .sort();

interface PluginSpec {
  name: string;
  config: string | undefined;
  network: boolean;
}

/** The WasmPlugins of an example's wasmplugin.yaml (none: one HTTP plugin named after the example). */
function pluginSpecs(example: string): PluginSpec[] {
  const file = path.join(repoRoot, "examples", example, "wasmplugin.yaml");
  if (!existsSync(file)) return [{ name: example, config: undefined, network: false }];
  const specs: PluginSpec[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    const o = doc.toJS() as {
      kind?: string;
      metadata?: { name?: string };
      spec?: { pluginName?: string; pluginConfig?: unknown; type?: string };
    } | null;
    if (o?.kind !== "WasmPlugin") continue;
    const spec = o.spec ?? {};
    specs.push({
      name: spec.pluginName ?? o.metadata?.name ?? example,
      config: spec.pluginConfig === undefined ? undefined : JSON.stringify(spec.pluginConfig),
      network: spec.type === "NETWORK",
    });
  }
  return specs.length > 0 ? specs : [{ name: example, config: undefined, network: false }];
}

type Plugin = Pick<Host, "httpStream" | "tcpConnection" | "tick">;

/** Answers every callout waiting on the host: HTTP 200, an empty gRPC message (a valid protobuf), a closed stream. */
function answerCallouts(host: Host): void {
  for (let guard = 0; guard < 16 && (host.httpCalls.length > 0 || host.grpcCalls.length > 0); guard++) {
    const http = host.httpCalls[0];
    if (http)
      http.respond({
        headers: [
          [":status", "200"],
          ["x-user", "soak"],
          ["content-type", "text/plain"],
        ],
        body: "ok",
      });
    const grpc = host.grpcCalls[0];
    if (grpc) {
      if (grpc.kind === "call") grpc.respond(new Uint8Array(0));
      else grpc.close(0);
    }
  }
}

const METHODS = ["GET", "POST", "PUT", "GET", "DELETE"];

function httpRequest(host: Host, plugin: Plugin, i: number): void {
  const s = plugin.httpStream();
  const method = METHODS[i % METHODS.length];
  const hasBody = method === "POST" || method === "PUT";
  s.requestHeaders(
    [
      [":method", method],
      [":path", `/items/${i % 97}?page=${i % 7}`],
      [":authority", i % 3 ? "shop.example.com" : "api.example.com"],
      [":scheme", "http"],
      ["user-agent", "soak"],
      ["accept-encoding", "gzip, deflate"],
      ["authorization", `Bearer token-${i % 5}`],
      ["x-request-id", `soak-${i}`],
      ["x-canary", i % 10 === 0 ? "1" : "0"],
      ["content-type", "application/json"],
    ],
    !hasBody,
  );
  answerCallouts(host);
  if (hasBody) {
    s.requestBody(`{"n":${i},`, false);
    if (i % 4 === 1) s.requestBody(`"pad":"${"x".repeat(i % 200)}"}`, false), s.requestTrailers([["x-checksum", String(i)]]);
    else s.requestBody(`"pad":"${"x".repeat(i % 200)}"}`, true);
    answerCallouts(host);
  }
  if (s.sentHttpResponse === null && s.resetReason === null) {
    const status = i % 50 === 0 ? "503" : i % 20 === 0 ? "404" : "200";
    s.responseHeaders(
      [
        [":status", status],
        ["content-type", i % 2 ? "text/html" : "application/json"],
        ["server", "upstream"],
      ],
      false,
    );
    s.responseBody(`<p>${"body ".repeat(1 + (i % 300))}</p>`, i % 6 !== 3);
    if (i % 6 === 3) s.responseTrailers([["grpc-status", "0"]]);
    answerCallouts(host);
  }
  s.complete();
}

function tcpConnection(plugin: Plugin, i: number): void {
  const c = plugin.tcpConnection();
  c.downstreamData(`*2\r\n$3\r\nGET\r\n$${String(i).length}\r\n${i}\r\n`);
  c.upstreamData(`$5\r\nvalue\r\n`);
  // Either side first; the connection ends with the downstream close.
  if (i % 2) c.closeUpstream();
  c.closeDownstream();
}

for (const name of examples) {
  test(`soak ${name}: ${REQUESTS} requests through every plugin of its wasmplugin.yaml, guest memory flat after ${WARM_UP}`, async (t) => {
    const check = exampleChecks[name];
    assert.ok(check, `examples/${name} has no check of its effect: add one to exampleChecks in tests/node/soak-checks.ts`);
    const specs = pluginSpecs(name);
    const { wasm } = await built(`examples/${name}/index.ts`);
    const [first, ...rest] = specs;
    const host = await createHost({
      wasm,
      rootId: first.name,
      pluginName: first.name,
      pluginConfig: first.config,
      logLevel: LogLevel.Warn,
      // The foreign functions Envoy registers that examples use (zlib's compress and uncompress).
      foreignFunctions: { compress: (args) => deflateSync(args), uncompress: (args) => inflateSync(args) },
    });
    assert.equal(host.startPlugin(), true, JSON.stringify(host.failures));
    const plugins: Array<{ spec: PluginSpec; plugin: Plugin }> = [{ spec: first, plugin: host }];
    for (const spec of rest) {
      const p: HostPlugin = host.addPlugin({ rootId: spec.name, pluginName: spec.name, pluginConfig: spec.config });
      plugins.push({ spec, plugin: p as unknown as Plugin });
    }
    const started = performance.now();
    let warm = 0;
    let peak = 0;
    const state: Record<string, number> = {};
    const plugin = (pluginName: string): Plugin => {
      const found = plugins.find((p) => p.spec.name === pluginName);
      assert.ok(found, `${name} has no plugin named ${pluginName}`);
      return found.plugin;
    };
    for (let i = 0; i < REQUESTS; i++) {
      for (const { spec, plugin } of plugins) {
        if (spec.network) tcpConnection(plugin, i);
        else httpRequest(host, plugin, i);
      }
      if ((i + 1) % CHECK_EVERY === 0 || i + 1 === REQUESTS) {
        for (const { plugin } of plugins) plugin.tick();
        answerCallouts(host);
        check({ host, plugin, requests: i + 1, state, at: `after ${i + 1} requests` });
        assert.deepEqual(host.failures, [], `after ${i + 1} requests`);
        const bad = host.logs.filter((l) => l.level >= LogLevel.Error);
        assert.deepEqual(bad, [], `no ERROR or CRITICAL log after ${i + 1} requests`);
        host.clearLogs();
        peak = Math.max(peak, host.memoryBytes);
        if (warm === 0) {
          if (i + 1 >= WARM_UP) warm = host.memoryBytes;
        } else {
          assert.equal(host.memoryBytes, warm, `guest memory grew after ${i + 1} requests (warm: ${warm})`);
        }
      }
    }
    const seconds = (performance.now() - started) / 1000;
    assert.equal(host.activeStreams.length, 0);
    assert.equal(host.vmCount, 1);
    t.diagnostic(
      `${name}: ${REQUESTS} x ${plugins.length} plugin(s) in ${seconds.toFixed(1)} s (${Math.round(REQUESTS / seconds)} req/s); guest memory ${warm / 65536} pages after warm-up, peak ${peak / 65536}`,
    );
  });
}
