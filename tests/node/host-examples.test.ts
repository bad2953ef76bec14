// Every example under examples/ is built with `proxy-wasm-as build` and run through the
// Envoy-like host: it must load (no import Envoy lacks), start, take a few hundred HTTP requests
// and TCP connections without a trap or a CRITICAL log, and keep its memory flat. New examples
// are picked up automatically. The examples' own behaviour is tested in their own test files.
// The plugins come from the example's envoy.yaml when it has one (root_id, configuration, vm_id
// of every Wasm filter or service); otherwise a module that registers named root contexts
// (registerRootContext("name", ...)) runs each of them, with no configuration, as plugins of one
// VM. An example whose configuration is required and given nowhere is only loaded and started.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { createHost, LogLevel, type Host } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

const examples = readdirSync(path.join(repoRoot, "examples"), { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(path.join(repoRoot, "examples", d.name, "index.ts")))
  .map((d) => d.name)
  .sort();

function request(host: Host, i: number): void {
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", i % 2 ? "POST" : "GET"],
      [":path", `/items/${i}?q=${i}`],
      [":authority", "example.com"],
      [":scheme", "http"],
      ["user-agent", "host-examples-test"],
      ["x-request-id", `req-${i}`],
    ],
    i % 2 === 0,
  );
  if (i % 2) http.requestBody(`{"n":${i}}`, true);
  http.responseHeaders(
    [
      [":status", "200"],
      ["content-type", "application/json"],
    ],
    false,
  );
  http.responseBody(`{"ok":true,"i":${i}}`, true);
  http.complete();
  timeOutCallouts(host);
}

/**
 * Callouts nobody answers end in Envoy when their timeout fires: the root context gets the
 * failure (0 headers, or gRPC DEADLINE_EXCEEDED). Without that, a filter that keeps per-call
 * state would grow forever here, as it never would in Envoy.
 */
function timeOutCallouts(host: Host): void {
  for (const c of [...host.httpCalls]) c.fail();
  for (const g of [...host.grpcCalls]) if (g.kind === "call") g.close(4, "timeout");
}

function connection(host: Host, i: number): void {
  const tcp = host.tcpConnection();
  tcp.downstreamData(`hello ${i}\n`);
  tcp.upstreamData(`world ${i}\n`);
  tcp.closeUpstream();
  tcp.closeDownstream();
  timeOutCallouts(host);
}

interface PluginSpec {
  rootId: string;
  config: string;
}

/** Every Wasm plugin config in an envoy.yaml: objects with vm_config (and maybe configuration). */
function pluginsFromEnvoyYaml(file: string): PluginSpec[] {
  if (!existsSync(file)) return [];
  const out: PluginSpec[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const o = v as Record<string, unknown>;
    if (o.vm_config && typeof o.vm_config === "object") {
      const cfg = o.configuration as { value?: unknown } | undefined;
      out.push({ rootId: typeof o.root_id === "string" ? o.root_id : "", config: typeof cfg?.value === "string" ? cfg.value : "" });
    }
    Object.values(o).forEach(walk);
  };
  walk(YAML.parse(readFileSync(file, "utf8")));
  return out;
}

test("there are examples to run", () => {
  assert.ok(examples.length >= 2, `examples found: ${examples.join(", ")}`);
});

for (const name of examples) {
  test(`example ${name}: loads, runs HTTP and TCP traffic without failures, memory stays flat`, async (t) => {
    const { wasm } = await built(`examples/${name}/index.ts`);
    const dir = path.join(repoRoot, "examples", name);
    const source = readFileSync(path.join(dir, "index.ts"), "utf8");
    let plugins = pluginsFromEnvoyYaml(path.join(dir, "envoy.yaml"));
    const fromYaml = plugins.length > 0;
    if (!fromYaml) {
      const roots = [...source.matchAll(/registerRootContext\(\s*"([^"]+)"/g)].map((m) => m[1]);
      plugins = (roots.length ? roots : [""]).map((rootId) => ({ rootId, config: "" }));
    }
    const host = await createHost({
      wasm,
      pluginName: name,
      rootId: plugins[0].rootId,
      pluginConfig: plugins[0].config,
      logLevel: LogLevel.Warn,
    });
    assert.equal(host.startVm(), true, JSON.stringify(host.failures));
    if (!host.startPlugin()) {
      // Rejecting an empty configuration is fine for a filter that needs one, but it must not trap.
      assert.ok(!fromYaml, `the configuration in ${name}/envoy.yaml is rejected: ${JSON.stringify(host.failures)}`);
      assert.deepEqual(
        host.failures.map((f) => f.kind),
        ["configure_failed"],
      );
      t.diagnostic(`${name} needs a configuration and has no envoy.yaml: loaded and started only`);
      return;
    }
    for (const p of plugins.slice(1))
      assert.equal(host.addPlugin({ rootId: p.rootId, pluginName: name, pluginConfig: p.config }).configured, true, p.rootId);
    // A garbage-collected runtime grows its heap once or twice before it settles; after that,
    // memory must not grow with traffic.
    for (let i = 0; i < 1000; i++) request(host, i), connection(host, i);
    const warm = host.memoryBytes;
    for (let i = 1000; i < 3000; i++) request(host, i), connection(host, i);
    assert.deepEqual(host.failures, []);
    assert.deepEqual(host.logMessages(LogLevel.Critical), []);
    assert.equal(host.memoryBytes, warm, "no growth after warm-up: per-request memory is freed");
    assert.equal(host.activeStreams.length, 0);
  });
}
