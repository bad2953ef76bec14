// Every example under examples/ is built with `proxy-wasm-as build` and run through the
// Envoy-like host: it must load (no import Envoy lacks), start, take a few hundred HTTP requests
// and TCP connections without a trap or a CRITICAL log, and keep its memory flat. New examples
// are picked up automatically. The examples' own behaviour is tested in their own test files.
// A module that registers named root contexts (registerRootContext("name", ...)) runs all of
// them as plugins of one VM, the way Envoy would with one plugin per root_id.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
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
  http.responseHeaders([[":status", "200"], ["content-type", "application/json"]], false);
  http.responseBody(`{"ok":true,"i":${i}}`, true);
  http.complete();
}

function connection(host: Host, i: number): void {
  const tcp = host.tcpConnection();
  tcp.downstreamData(`hello ${i}\n`);
  tcp.upstreamData(`world ${i}\n`);
  tcp.closeUpstream();
  tcp.closeDownstream();
}

test("there are examples to run", () => {
  assert.ok(examples.length >= 2, `examples found: ${examples.join(", ")}`);
});

for (const name of examples) {
  test(`example ${name}: loads, runs HTTP and TCP traffic without failures, memory stays flat`, async () => {
    const { wasm } = await built(`examples/${name}/index.ts`);
    const source = readFileSync(path.join(repoRoot, "examples", name, "index.ts"), "utf8");
    const roots = [...source.matchAll(/registerRootContext\(\s*"([^"]+)"/g)].map((m) => m[1]);
    const host = await createHost({ wasm, pluginName: name, rootId: roots[0] ?? "", logLevel: LogLevel.Warn });
    assert.equal(host.startPlugin(), true, JSON.stringify(host.failures));
    for (const rootId of roots.slice(1)) assert.equal(host.addPlugin({ rootId, pluginName: name }).configured, true, rootId);
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
