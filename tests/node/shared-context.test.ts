// One HTTP context for every stream (setSharedHttpContext): what the module exports, that each
// callback sees its own stream, that roots are created without proxy_on_context_create, that calls
// to other services come back to the stream that made them, and that memory stays flat although no
// stream context is ever deleted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, LogLevel, type Host } from "../../src/host/index.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildFilter } from "../../src/build/build.js";
import { loadFilter } from "../../src/run/filter-source.js";
import { built, repoRoot } from "./helpers.js";

const REQUEST = (path: string): Array<[string, string]> => [
  [":method", "GET"],
  [":path", path],
  [":authority", "example.com"],
  [":scheme", "http"],
];

function callbacks(wasm: Uint8Array): string[] {
  return WebAssembly.Module.exports(new WebAssembly.Module(new Uint8Array(wasm)))
    .map((e) => e.name)
    .filter((n) => n.startsWith("proxy_on_") && n !== "proxy_on_memory_allocate")
    .sort();
}

async function start(entry: string, options: { pluginConfig?: string; rootId?: string } = {}): Promise<Host> {
  const { wasm } = await built(entry);
  const host = await createHost({ wasm, upstreams: ["backend"], ...options });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  return host;
}

test("a stateless filter with a shared context exports only its own callback: the host makes one call per request", async () => {
  const { wasm } = await built("examples/add-header/index.ts");
  assert.deepEqual(callbacks(wasm), ["proxy_on_response_headers"]);
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  for (let i = 0; i < 3; i++) {
    const s = host.httpStream();
    s.requestHeaders(REQUEST("/"), true);
    s.responseHeaders([[":status", "200"]], true);
    s.complete();
    assert.equal(s.response.header("x-service-name"), "my-custom-service");
  }
  assert.deepEqual(host.failures, []);
});

test("with a root context of its own: no proxy_on_context_create; the root is created by its first callback and configured once", async () => {
  const { wasm } = await built("tests/fixtures/filters/shared-context.ts");
  const exported = callbacks(wasm);
  assert.equal(exported.includes("proxy_on_context_create"), false, exported.join(" "));
  // Kept: the root context is the filter's own (it is freed), and the filter calls other services.
  assert.equal(exported.includes("proxy_on_delete"), true, exported.join(" "));
  const host = await start("tests/fixtures/filters/shared-context.ts", { pluginConfig: "hello" });
  const s = host.httpStream();
  s.requestHeaders(REQUEST("/a"), true);
  assert.equal(s.request.header("x-greeting"), "hello/1");
});

test("each callback sees its own stream's id, with streams interleaved", async () => {
  const host = await start("tests/fixtures/filters/shared-context.ts");
  const a = host.httpStream();
  const b = host.httpStream();
  assert.notEqual(a.id, b.id);
  b.requestHeaders(REQUEST("/b"), true);
  a.requestHeaders(REQUEST("/a"), true);
  assert.equal(a.request.header("x-stream"), String(a.id));
  assert.equal(b.request.header("x-stream"), String(b.id));
  assert.equal(a.request.header("x-junk-length"), String(64 * 2));
});

test("a call to another service is answered on the stream that made it, in any order", async () => {
  const host = await start("tests/fixtures/filters/shared-context.ts");
  const a = host.httpStream();
  const b = host.httpStream();
  a.requestHeaders(REQUEST("/call"), true);
  b.requestHeaders(REQUEST("/call"), true);
  assert.equal(a.request.paused, true);
  assert.equal(b.request.paused, true);
  const [callA, callB] = host.httpCallHistory.slice(-2);
  callB.respond({ headers: [[":status", "200"]] });
  assert.equal(b.request.paused, false);
  assert.equal(b.request.header("x-answered-for"), String(b.id));
  assert.equal(a.request.paused, true, "a still waits for its own answer");
  callA.respond({ headers: [[":status", "200"]] });
  assert.equal(a.request.paused, false);
  assert.equal(a.request.header("x-answered-for"), String(a.id));
  assert.deepEqual(host.failures, []);
});

test("garbage made per request is collected with no stream context ever deleted: memory stays flat over 5,000 requests, answers to calls of ended streams are dropped", async () => {
  const host = await start("tests/fixtures/filters/shared-context.ts");
  let afterWarmup = 0;
  for (let i = 0; i < 5000; i++) {
    const s = host.httpStream();
    // Every tenth stream calls out and ends before the answer, which comes later (Envoy keeps the
    // call on the root context) and reaches no context.
    s.requestHeaders(REQUEST(i % 10 === 0 ? "/call" : `/request-${i}`), true);
    if (i % 10 !== 0) s.responseHeaders([[":status", "200"]], true);
    s.complete();
    if (i % 10 === 0) host.httpCallHistory[host.httpCallHistory.length - 1].respond({ headers: [[":status", "200"]] });
    if (i === 999) afterWarmup = host.memoryBytes;
  }
  assert.deepEqual(host.failures, []);
  assert.equal(host.memoryBytes, afterWarmup, `memory grew from ${afterWarmup} to ${host.memoryBytes} bytes after warm-up`);
});

test("a module that names its root by root_id keeps proxy_on_context_create; streams still share one context and reach that root", async () => {
  const entry = "tests/fixtures/filters/shared-context-named.ts";
  const { wasm } = await built(entry);
  assert.equal(callbacks(wasm).includes("proxy_on_context_create"), true);
  const host = await start(entry, { rootId: "named" });
  const a = host.httpStream();
  const b = host.httpStream();
  for (const s of [b, a]) {
    s.requestHeaders(REQUEST("/"), true);
    s.responseHeaders([[":status", "200"]], true);
  }
  assert.equal(a.response.header("x-stream"), String(a.id));
  assert.equal(b.response.header("x-stream"), String(b.id));
  assert.equal(a.response.header("x-root"), String(host.rootContextId));
  a.complete();
  b.complete();
  assert.deepEqual(host.failures, []);
});

test("a shared HTTP context with a TCP context factory in the same module is reported at the first new stream, once", async () => {
  const { wasm } = await built("tests/fixtures/filters/shared-and-tcp.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  host.httpStream();
  host.tcpConnection();
  assert.deepEqual(host.logMessages(LogLevel.Critical), [
    "proxy-wasm-as: setSharedHttpContext and setStreamContext in one module: TCP connections get no context; build them as two modules",
  ]);
  assert.deepEqual(host.failures, []);
});

test("the answer to a call of a stream that ended reaches no context: not the root, not the shared context", async () => {
  // Envoy keeps a call made from a stream on its root context (proxy-wasm-cpp-host exports.cc
  // http_call): the stream's end does not cancel it, and the answer still comes.
  const host = await start("tests/fixtures/filters/shared-context-late.ts");
  const a = host.httpStream();
  a.requestHeaders(REQUEST("/"), true);
  const [call] = host.httpCallHistory.slice(-1);
  a.complete();
  call.respond({ headers: [[":status", "200"]] });
  const b = host.httpStream();
  b.requestHeaders(REQUEST("/"), true);
  const [callB] = host.httpCallHistory.slice(-1);
  callB.respond({ headers: [[":status", "200"]] });
  assert.equal(b.request.paused, false);
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    `stream ${a.id} made call ${call.token}`,
    `stream ${b.id} made call ${callB.token}`,
    `stream ${b.id} got the answer to call ${callB.token}`,
  ]);
  assert.deepEqual(host.failures, []);
});

test("a gRPC stream of a stream that ended delivers its messages and its close to no context", async () => {
  const host = await start("tests/fixtures/filters/shared-context-late.ts");
  const a = host.httpStream();
  a.requestHeaders(REQUEST("/grpc"), true);
  const [grpc] = host.grpcCallHistory.slice(-1);
  grpc.receive("before");
  a.complete();
  grpc.receive("after");
  grpc.close(0);
  assert.deepEqual(host.logMessages(LogLevel.Info), [
    `stream ${a.id} opened gRPC stream ${grpc.token}`,
    `stream ${a.id} got a message on gRPC stream ${grpc.token}`,
  ]);
  assert.deepEqual(host.failures, []);
});

test("getRootContext() on a shared context finds the root although the root overrides no callback", async () => {
  const entry = "tests/fixtures/filters/shared-context-root-of.ts";
  const { wasm } = await built(entry);
  assert.equal(callbacks(wasm).includes("proxy_on_configure"), true, "the root is created at its configuration");
  const host = await start(entry);
  const a = host.httpStream();
  a.requestHeaders(REQUEST("/"), true);
  assert.equal(a.request.header("x-root"), String(host.rootContextId));
  assert.deepEqual(host.failures, []);
});

test("the root context's deletion does not reach the shared context as a stream's end", async () => {
  const host = await start("tests/fixtures/filters/shared-context-on-delete.ts");
  const a = host.httpStream();
  a.requestHeaders(REQUEST("/"), true);
  a.complete();
  host.shutdown();
  assert.deepEqual(host.logMessages(LogLevel.Info), [`stream ${a.id} ended`]);
  assert.deepEqual(host.failures, []);
});

test("build warns at the field's line when the shared context's class, or a base class of the filter's, declares fields", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "shared-fields-"));
  try {
    const entry = path.join(dir, "filter.ts");
    writeFileSync(
      entry,
      [
        'import { Action, HttpContext, setHttpContext, setSharedHttpContext } from "proxy-wasm-as";',
        "class Base extends HttpContext {",
        "  static calls: u32 = 0;",
        "  started: u64 = 0;",
        "}",
        "class Timer extends Base {",
        "  onHttpRequestHeaders(n: u32, eos: bool): Action {",
        "    this.started = this.getCurrentTime();",
        "    return Action.Continue;",
        "  }",
        "}",
        "class Counter extends HttpContext {",
        "  seen: u32 = 0;",
        "}",
        "const counter = new Counter(0);",
        "setSharedHttpContext(new Timer(0));",
        "setSharedHttpContext(counter);",
        "setHttpContext((id: u32, root: u32): HttpContext => new Counter(id));",
        "",
      ].join("\n"),
    );
    const r = await buildFilter({ entry, outFile: path.join(dir, "f.wasm") }, () => {});
    // `run` with a .ts entry builds it and shows the same warning in its output.
    let runOutput = "";
    await loadFilter(entry, false, { proxy: () => {} } as never, (text) => {
      runOutput += text;
    });
    assert.match(runOutput, /Timer is given to setSharedHttpContext/);
    assert.match(
      r.warnings,
      /WARNING AS102: User-defined: Timer is given to setSharedHttpContext, so every stream shares its fields \(started\)/,
    );
    assert.match(r.warnings, /filter\.ts\(4,3\)/, "at the field's own line");
    assert.match(
      r.warnings,
      /Counter is given to setSharedHttpContext, so every stream shares its fields \(seen\)/,
      "through a variable too",
    );
    assert.match(r.warnings, /setHttpContext is not used: setSharedHttpContext serves every stream with one context/);
    const plain = await buildFilter(
      { entry: path.join(repoRoot, "examples/add-header/index.ts"), outFile: path.join(dir, "a.wasm") },
      () => {},
    );
    assert.equal(plain.warnings, "", "a shared context without fields builds quietly");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
