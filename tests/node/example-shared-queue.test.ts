// examples/shared-queue: HTTP filter VMs enqueue a summary per request on a queue they resolve by
// vm_id and name; an aggregator (another root_id of the same module, on its own VM like Envoy's
// singleton WasmService, or on the same VM as under Istio) drains it and reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { createHost, LogLevel, type Host, type HostOptions } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

const FILTER = "request-summary";
const AGGREGATOR = "request-summary-aggregator";

async function aggregatorHost(options: Partial<HostOptions> = {}): Promise<Host> {
  const { wasm } = await built("examples/shared-queue/index.ts");
  return createHost({
    wasm,
    rootId: AGGREGATOR,
    vmId: "aggregator",
    pluginConfig: JSON.stringify({ report_seconds: 10, top: 2 }),
    ...options,
  });
}

/** A worker VM running the HTTP filter, sharing the aggregator's process-wide state. */
function worker(aggregator: Host, options: Partial<HostOptions> = {}): Promise<Host> {
  return aggregator.addVm({
    rootId: FILTER,
    vmId: "summaries",
    pluginConfig: JSON.stringify({ aggregator_vm_id: "aggregator" }),
    ...options,
  });
}

function request(host: { httpStream: Host["httpStream"] }, authority: string, status: string | null, method = "GET") {
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", method],
      [":path", "/"],
      [":authority", authority],
    ],
    true,
  );
  if (status !== null) http.responseHeaders([[":status", status]], true);
  http.complete();
}

const count = (host: Host, name: string) => host.metric(name)?.value ?? 0;

test("shared-queue: two worker VMs feed one aggregator VM through the queue it registered", async () => {
  const aggregator = await aggregatorHost();
  assert.equal(aggregator.startPlugin(), true);
  assert.equal(aggregator.tickPeriod, 10_000);
  assert.ok(aggregator.queue("request_summaries", "aggregator"), "the aggregator registered the queue under its vm_id");
  const w1 = await worker(aggregator);
  const w2 = await worker(aggregator);
  assert.equal(w1.startPlugin(), true);
  assert.equal(w2.startPlugin(), true);

  request(w1, "shop.example.com", "200");
  request(w2, "shop.example.com", "200");
  request(w1, "api.example.com", "503", "POST");
  request(w2, "api.example.com", "404");
  request(w2, "shop.example.com", "301");
  request(w1, "img.example.com", null); // reset before any response

  // Everything reached the aggregator (onQueueReady drained the queue) and nothing is left.
  assert.deepEqual(aggregator.queue("request_summaries", "aggregator")?.messages, []);
  assert.equal(count(aggregator, "request_summary.requests"), 6);
  assert.equal(count(aggregator, "request_summary.status_2xx"), 2);
  assert.equal(count(aggregator, "request_summary.status_3xx"), 1);
  assert.equal(count(aggregator, "request_summary.status_4xx"), 1);
  assert.equal(count(aggregator, "request_summary.status_5xx"), 1);
  assert.equal(count(aggregator, "request_summary.no_response"), 1);
  assert.equal(count(aggregator, "request_summary.dropped"), 0);

  // The workers never receive queue callbacks; the aggregator reports on its tick.
  assert.equal(w1.tick(), false);
  assert.equal(aggregator.tick(), true);
  assert.deepEqual(aggregator.logMessages(LogLevel.Info), [
    "request summary: 6 requests (2xx 2, 3xx 1, 4xx 1, 5xx 1, no response 1); top authorities: shop.example.com (3), api.example.com (2)",
  ]);
  // The next report covers only the next interval; an empty interval logs nothing.
  aggregator.clearLogs();
  assert.equal(aggregator.tick(), true);
  assert.deepEqual(aggregator.logMessages(LogLevel.Info), []);
  request(w2, "img.example.com", "200");
  aggregator.tick();
  assert.deepEqual(aggregator.logMessages(LogLevel.Info), ["request summary: 1 requests (2xx 1); top authorities: img.example.com (1)"]);
  assert.equal(count(aggregator, "request_summary.requests"), 7, "counters keep counting across reports");
});

test("shared-queue: summaries sent before the aggregator exists are dropped with one warning, then flow", async () => {
  const aggregator = await aggregatorHost();
  const w = await worker(aggregator);
  assert.equal(w.startPlugin(), true, "the filter starts even when the queue does not exist yet");
  for (let i = 0; i < 5; i++) request(w, "early.example.com", "200");
  assert.equal(count(w, "request_summary.dropped"), 5);
  assert.deepEqual(w.logMessages(LogLevel.Warn), [
    "request-summary: queue 'request_summaries' of vm 'aggregator' is not registered (is the aggregator running?); summaries are dropped",
  ]);

  assert.equal(aggregator.startPlugin(), true);
  request(w, "late.example.com", "200");
  assert.deepEqual(w.logMessages(LogLevel.Info), ["request-summary: found queue 'request_summaries' of vm 'aggregator'"]);
  assert.equal(count(aggregator, "request_summary.requests"), 1);
  assert.equal(count(aggregator, "request_summary.dropped"), 5);
  aggregator.tick();
  assert.deepEqual(aggregator.logMessages(LogLevel.Info), ["request summary: 1 requests (2xx 1); top authorities: late.example.com (1)"]);
});

test("shared-queue: a filter pointed at another vm_id or queue name finds nothing", async () => {
  const aggregator = await aggregatorHost();
  aggregator.startPlugin();
  // Default aggregator_vm_id is the filter's own vm_id ("summaries"), which registered no queue.
  const own = await aggregator.addVm({ rootId: FILTER, vmId: "summaries", pluginConfig: "" });
  request(own, "a", "200");
  const other = await worker(aggregator, { pluginConfig: JSON.stringify({ aggregator_vm_id: "aggregator", queue: "other" }) });
  request(other, "a", "200");
  assert.equal(count(aggregator, "request_summary.requests"), 0);
  assert.equal(count(aggregator, "request_summary.dropped"), 2);
  assert.match(own.logMessages(LogLevel.Warn)[0], /queue 'request_summaries' of vm 'summaries' is not registered/);
  assert.match(other.logMessages(LogLevel.Warn)[0], /queue 'other' of vm 'aggregator' is not registered/);
});

test('shared-queue: as two Istio WasmPlugins on one VM (vm_id ""), the aggregator passes its own streams through', async () => {
  const { wasm } = await built("examples/shared-queue/index.ts");
  const host = await createHost({ wasm, rootId: FILTER, pluginConfig: "" });
  assert.equal(host.startPlugin(), true);
  const aggregator = host.addPlugin({ rootId: AGGREGATOR, pluginConfig: JSON.stringify({ top: 1 }) });
  assert.equal(aggregator.configured, true);

  request(host, "a.example.com", "200");
  request(host, "b.example.com", "500");
  request(host, "b.example.com", "502");
  // The aggregator plugin is in the HTTP chain as well: its streams go through unchanged.
  const http = aggregator.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "c"],
    ],
    true,
  );
  assert.equal(http.request.paused, false);
  http.responseHeaders([[":status", "200"]], true);
  http.complete();

  assert.equal(aggregator.tick(), true);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["request summary: 3 requests (2xx 1, 5xx 2); top authorities: b.example.com (2)"]);
  assert.deepEqual(host.logMessages(LogLevel.Critical), []);
  assert.deepEqual(host.logMessages(LogLevel.Warn), []);
});

test("shared-queue: messages it cannot parse are counted as malformed, not fatal", async () => {
  const aggregator = await aggregatorHost();
  aggregator.startPlugin();
  for (const m of ["garbage", "999 GET a", "20 GET a", "2x0 GET a", "", "200 GET"]) {
    assert.equal(aggregator.enqueueSharedQueue("request_summaries", m, "aggregator"), true);
  }
  aggregator.enqueueSharedQueue("request_summaries", Buffer.from([0xff, 0xfe, 0x20, 0x31]), "aggregator");
  aggregator.enqueueSharedQueue("request_summaries", "204 DELETE ok.example.com", "aggregator");
  assert.equal(count(aggregator, "request_summary.malformed"), 7);
  assert.equal(count(aggregator, "request_summary.requests"), 1);
  assert.equal(aggregator.failed, false);
});

test("shared-queue: counting authorities is bounded", async () => {
  const aggregator = await aggregatorHost({ pluginConfig: JSON.stringify({ top: 1 }) });
  aggregator.startPlugin();
  for (let i = 0; i < 1005; i++) aggregator.enqueueSharedQueue("request_summaries", `200 GET host-${i}`, "aggregator");
  aggregator.enqueueSharedQueue("request_summaries", "200 GET host-7", "aggregator");
  aggregator.tick();
  assert.deepEqual(aggregator.logMessages(LogLevel.Info), [
    "request summary: 1006 requests (2xx 1006); top authorities: host-7 (2), (other) (5)",
  ]);
});

test("shared-queue: bad configurations are rejected with the reason; unknown root_ids fail to start", async () => {
  const { wasm } = await built("examples/shared-queue/index.ts");
  const cases: Array<[string, string, string]> = [
    [
      AGGREGATOR,
      '{"report_seconds": "10"}',
      "request-summary-aggregator: 'report_seconds' must be a whole number from 0 to 86400 and 'top' from 0 to 100",
    ],
    [
      AGGREGATOR,
      '{"top": -1}',
      "request-summary-aggregator: 'report_seconds' must be a whole number from 0 to 86400 and 'top' from 0 to 100",
    ],
    [AGGREGATOR, "{", "request-summary-aggregator: the configuration is not valid JSON: "],
    [FILTER, '{"queue": 1}', "shared-queue: 'queue' must be a string, not number"],
    [FILTER, '"x"', "request-summary: the configuration must be a JSON object, not string"],
  ];
  for (const [rootId, config, message] of cases) {
    const host = await createHost({ wasm, rootId, pluginConfig: config });
    assert.equal(host.startPlugin(), false, config);
    const errors = host.logMessages(LogLevel.Error).filter((m) => !m.startsWith("wasm plugin failed"));
    assert.equal(errors.length, 1, `${config}: ${errors.join(" | ")}`);
    assert.ok(errors[0].startsWith(message), errors[0]);
  }
  const unknown = await createHost({ wasm, rootId: "summary" });
  assert.equal(unknown.startPlugin(), false);
  assert.match(
    unknown.logMessages(LogLevel.Critical)[0],
    /no root context registered for root_id 'summary' \(registered: 'request-summary', 'request-summary-aggregator'\)/,
  );
});

test("shared-queue: envoy.yaml runs the aggregator as a singleton WasmService and the filter on workers; wasmplugin.yaml has both plugins", async () => {
  const dir = path.join(repoRoot, "examples", "shared-queue");
  const envoy = parseAllDocuments(readFileSync(path.join(dir, "envoy.yaml"), "utf8"))[0].toJS();
  const service = envoy.bootstrap_extensions[0].typed_config;
  assert.equal(service["@type"], "type.googleapis.com/envoy.extensions.wasm.v3.WasmService");
  assert.equal(service.singleton, true);
  assert.equal(service.config.root_id, AGGREGATOR);
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const filter = hcm.http_filters[0].typed_config.config;
  assert.equal(filter.root_id, FILTER);
  assert.equal(filter.vm_config.code.local.filename, service.config.vm_config.code.local.filename);
  assert.equal(JSON.parse(filter.configuration.value).aggregator_vm_id, service.config.vm_config.vm_id);

  // Run exactly that topology.
  const { wasm } = await built("examples/shared-queue/index.ts");
  const aggregator = await createHost({
    wasm,
    rootId: AGGREGATOR,
    vmId: service.config.vm_config.vm_id,
    pluginConfig: service.config.configuration.value,
  });
  assert.equal(aggregator.startPlugin(), true);
  const w = await aggregator.addVm({ rootId: FILTER, vmId: filter.vm_config.vm_id, pluginConfig: filter.configuration.value });
  request(w, "x", "200");
  assert.equal(count(aggregator, "request_summary.requests"), 1);

  const plugins = parseAllDocuments(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8")).map((d) => d.toJS());
  assert.deepEqual(
    plugins.map((p) => [p.kind, p.spec.pluginName]),
    [
      ["WasmPlugin", AGGREGATOR],
      ["WasmPlugin", FILTER],
    ],
  );
  assert.equal(plugins[0].spec.url, plugins[1].spec.url, "one module, so Istio runs both plugins on one VM");
  // Istio sets no vm_id: both plugins share vm_id "", the filter's default aggregator_vm_id.
  const istio = await createHost({ wasm, rootId: FILTER, pluginConfig: JSON.stringify(plugins[1].spec.pluginConfig ?? {}) });
  const agg = istio.addPlugin({ rootId: AGGREGATOR, pluginConfig: JSON.stringify(plugins[0].spec.pluginConfig ?? {}) });
  assert.equal(agg.configured, true);
  request(istio, "y", "200");
  assert.equal(count(istio, "request_summary.requests"), 1);
});
