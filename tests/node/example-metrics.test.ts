// examples/metrics: counters by method and status class, an active-requests gauge, latency and
// body-size histograms. The clock is the test's: Date.now is replaced, so latencies are exact.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, type Host, type HttpStream } from "../../src/host/index.js";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";
import { built, repoRoot } from "./helpers.js";

async function start(): Promise<Host> {
  const { wasm } = await built("examples/metrics/index.ts");
  const host = await createHost({ wasm, rootId: "metrics" });
  assert.equal(host.startPlugin(), true);
  return host;
}

/** A controllable clock for proxy_get_current_time_nanoseconds (the host reads Date.now). */
function fakeClock(t: TestContext, startMs = 1_700_000_000_000): { advance(ms: number): void; set(ms: number): void } {
  let now = startMs;
  t.mock.method(Date, "now", () => now);
  return {
    advance(ms: number) {
      now += ms;
    },
    set(ms: number) {
      now = ms;
    },
  };
}

const counter = (host: Host, method: string, klass: string) =>
  host.metric(`http_stats.requests.method.${method}.class.${klass}`, "counter")?.value ?? 0;

function exchange(host: Host, method: string, status: string | null, reqBody: string[] = [], respBody: string[] = []): HttpStream {
  const http = host.httpStream();
  assert.equal(
    http.requestHeaders(
      [
        [":method", method],
        [":path", "/"],
        [":authority", "a"],
      ],
      reqBody.length === 0,
    ),
    Action.Continue,
  );
  reqBody.forEach((c, i) => assert.equal(http.requestBody(c, i === reqBody.length - 1), Action.Continue));
  if (status !== null) {
    assert.equal(http.responseHeaders([[":status", status]], respBody.length === 0), Action.Continue);
    respBody.forEach((c, i) => assert.equal(http.responseBody(c, i === respBody.length - 1), Action.Continue));
  }
  http.complete();
  return http;
}

test("metrics: one count per stream by method and status class; odd methods and statuses are folded", async () => {
  const host = await start();
  exchange(host, "GET", "200");
  exchange(host, "GET", "204");
  exchange(host, "GET", "404");
  exchange(host, "POST", "201");
  exchange(host, "DELETE", "503");
  exchange(host, "OPTIONS", "101");
  exchange(host, "HEAD", "302");
  exchange(host, "BREW", "418"); // not a standard method
  exchange(host, "get", "200"); // methods are case-sensitive
  exchange(host, "GET", "2000"); // not a status
  exchange(host, "PUT", null); // reset before any response
  assert.equal(counter(host, "GET", "2xx"), 2);
  assert.equal(counter(host, "GET", "4xx"), 1);
  assert.equal(counter(host, "POST", "2xx"), 1);
  assert.equal(counter(host, "DELETE", "5xx"), 1);
  assert.equal(counter(host, "OPTIONS", "1xx"), 1);
  assert.equal(counter(host, "HEAD", "3xx"), 1);
  assert.equal(counter(host, "OTHER", "4xx"), 1);
  assert.equal(counter(host, "OTHER", "2xx"), 1);
  assert.equal(counter(host, "GET", "other"), 1);
  assert.equal(counter(host, "PUT", "none"), 1);
  const names = host.metrics
    .filter((m) => m.type === "counter")
    .map((m) => m.name)
    .sort();
  assert.equal(names.length, 10, "only the combinations seen exist");
  assert.ok(
    names.every((n) =>
      /^http_stats\.requests\.method\.(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE|OTHER)\.class\.(1xx|2xx|3xx|4xx|5xx|other|none)$/.test(
        n,
      ),
    ),
    names.join(),
  );
});

test("metrics: the active-requests gauge follows streams that are open", async () => {
  const host = await start();
  const gauge = () => host.metric("http_stats.active_requests", "gauge")?.value;
  const streams = [0, 1, 2].map(() => host.httpStream());
  streams.forEach((s) =>
    s.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
      ],
      true,
    ),
  );
  assert.equal(gauge(), 3);
  streams[1].responseHeaders([[":status", "200"]], true);
  streams[1].complete();
  assert.equal(gauge(), 2);
  streams[0].complete(); // reset without a response
  streams[2].complete();
  assert.equal(gauge(), 0);
});

test("metrics: latency from request headers to response headers, in ms of the host clock", async (t) => {
  const clock = fakeClock(t);
  const host = await start();
  const a = host.httpStream();
  a.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/a"],
    ],
    true,
  );
  clock.advance(5);
  const b = host.httpStream();
  b.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/b"],
    ],
    true,
  );
  clock.advance(20);
  a.responseHeaders([[":status", "200"]], true); // 25 ms after a started
  clock.advance(1234);
  b.responseHeaders([[":status", "200"]], true); // 1254 ms after b started
  clock.advance(7);
  a.complete(); // completing later changes nothing
  b.complete();
  assert.deepEqual(host.metric("http_stats.latency_ms", "histogram")?.values, [25, 1254]);
  // A clock that steps back records nothing rather than a huge number.
  const c = host.httpStream();
  c.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/c"],
    ],
    true,
  );
  clock.advance(-50);
  c.responseHeaders([[":status", "200"]], true);
  c.complete();
  assert.deepEqual(host.metric("http_stats.latency_ms", "histogram")?.values, [25, 1254]);
});

test("metrics: body sizes add up every chunk of each direction; traffic passes unchanged", async () => {
  const host = await start();
  const http = exchange(host, "POST", "200", ["ab", "cde", "", "fghij"], ["0123456789", "x"]);
  assert.equal(http.request.body.toString(), "abcdefghij");
  assert.equal(http.response.body.toString(), "0123456789x");
  exchange(host, "GET", "204");
  assert.deepEqual(host.metric("http_stats.request_body_bytes", "histogram")?.values, [10, 0]);
  assert.deepEqual(host.metric("http_stats.response_body_bytes", "histogram")?.values, [11, 0]);
});

test("metrics: host calls per request are few and fixed; guest memory stays flat", async () => {
  const host = await start();
  const run = () => exchange(host, "GET", "200", ["body"], ["resp"]);
  for (let i = 0; i < 100; i++) run();
  host.resetHostCalls();
  run();
  assert.deepEqual(host.hostCalls(), {
    proxy_get_header_map_value: 2, // :method, :status
    proxy_get_current_time_nanoseconds: 2,
    proxy_increment_metric: 3, // gauge +1 and -1, the counter
    proxy_record_metric: 3, // three histograms
  });
  const before = host.memoryBytes;
  for (let i = 0; i < 5000; i++) run();
  assert.equal(host.memoryBytes, before);
});

// ---- the deployable files ----

/** Envoy's tag extraction: the first group is cut from the name, the second is the tag's value. */
function extractTags(name: string, specs: Array<{ tag_name: string; regex: string }>): { name: string; tags: Record<string, string> } {
  const cut: Array<[number, number]> = [];
  const tags: Record<string, string> = {};
  for (const s of specs) {
    const m = new RegExp(s.regex, "d").exec(name);
    if (!m || m.indices?.[1] === undefined) continue;
    tags[s.tag_name] = m[2];
    cut.push(m.indices[1]);
  }
  let out = name;
  for (const [from, to] of cut.sort((a, b) => b[0] - a[0])) out = out.slice(0, from) + out.slice(to);
  return { name: out, tags };
}

test("metrics: envoy.yaml loads the module and its stats_tags turn the counter names into tags", async () => {
  const dir = path.join(repoRoot, "examples", "metrics");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const filters = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
  const wasm = filters.find((f: { name: string }) => f.name === "envoy.filters.http.wasm").typed_config.config;
  assert.equal(wasm.vm_config.code.local.filename, "build/metrics.wasm");
  assert.deepEqual(
    wasm.configuration,
    { "@type": "type.googleapis.com/google.protobuf.StringValue", value: "" },
    "the filter takes no configuration: an empty StringValue",
  );
  const specs = envoy.stats_config.stats_tags;
  assert.deepEqual(extractTags("wasmcustom.http_stats.requests.method.GET.class.2xx", specs), {
    name: "wasmcustom.http_stats.requests",
    tags: { method: "GET", status_class: "2xx" },
  });
  assert.deepEqual(extractTags("wasmcustom.http_stats.requests.method.OTHER.class.none", specs).tags, {
    method: "OTHER",
    status_class: "none",
  });
  assert.deepEqual(extractTags("wasmcustom.http_stats.latency_ms", specs), { name: "wasmcustom.http_stats.latency_ms", tags: {} });
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.pluginName, wasm.root_id);
  assert.equal(plugin.spec.pluginConfig, undefined);
  assert.deepEqual(checkWasmPluginRules(plugin), []);
});
