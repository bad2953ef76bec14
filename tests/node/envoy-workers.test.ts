// `proxy-wasm-as envoy --concurrency 2`: two worker threads, each with its own VMs, accept on the
// same listeners; shared data (with CAS) and shared queues behave as one store across them, and the
// admin listener sums their stats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request, run, stage, stageExample } from "./envoy-helpers.js";

const CHAIN = `
admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 3}}
static_resources:
  listeners:
  - name: ingress
    address: {socket_address: {address: 127.0.0.1, port_value: 1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]}]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: rate-limit
                configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, value: '{"capacity": 6, "refill_tokens": 1, "period_ms": 600000, "key_header": "x-api-key"}'}
                vm_config: {vm_id: limits, runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/rate-limit.wasm}}}
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: x-service-name
                vm_config: {vm_id: names, runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/x-service-name.wasm}}}
          - name: envoy.filters.http.router
`;

test("envoy --concurrency 2: both workers serve, and a rate limit in shared data holds across them", async () => {
  const e = await run(await stage(CHAIN, ["rate-limit", "x-service-name"]), { concurrency: 2 });
  try {
    // The first request creates the bucket (a write without CAS, as the example does for a missing
    // key); the next 15 race for its remaining 5 tokens from both workers.
    assert.equal((await request(e.url(1) + "/", { headers: { "x-api-key": "k1" } })).status, 200);
    const statuses = await Promise.all(
      Array.from({ length: 15 }, () => request(e.url(1) + "/", { headers: { "x-api-key": "k1" } }).then((r) => r.status)),
    );
    assert.equal(statuses.filter((s) => s === 200).length, 5, `the bucket's tokens are shared by both workers' VMs: ${statuses.join(" ")}`);
    assert.equal(statuses.filter((s) => s === 429).length, 10);
    const more = await Promise.all(
      Array.from({ length: 16 }, () => request(e.url(1) + "/", { headers: { "x-api-key": `k${Math.random()}` } })),
    );
    assert.ok(more.every((r) => r.status === 200));
    const served = (w: number) => e.logs.filter((l) => l.includes(`[worker ${w}] x-service-name`)).length;
    assert.ok(served(0) > 0 && served(1) > 0, `both workers served requests (worker 0: ${served(0)}, worker 1: ${served(1)})`);
    const prom = (await request(e.envoy.admin!.url + "/stats/prometheus")).body;
    assert.match(
      prom,
      /^envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="ingress"\} 32$/m,
      "the admin sums both workers' counters",
    );
    assert.match(prom, /^rate_limit_limited 10$/m);
  } finally {
    await e.envoy.close();
  }
});

test("envoy --concurrency 2: shared-queue's summaries from both workers reach the one aggregator", async () => {
  const e = await run(await stageExample("shared-queue"), { concurrency: 2 });
  try {
    const rs = await Promise.all(Array.from({ length: 12 }, () => request(e.url(10000) + "/")));
    assert.ok(rs.every((r) => r.status === 200));
    let prom = "";
    for (let i = 0; i < 20 && !/^request_summary_requests 12$/m.test(prom); i++) {
      await new Promise((r) => setTimeout(r, 50));
      prom = (await request(e.envoy.admin!.url + "/stats/prometheus")).body;
    }
    assert.match(prom, /^request_summary_requests 12$/m);
  } finally {
    await e.envoy.close();
  }
});

test("envoy --concurrency: a bad configuration is refused before any worker starts", async () => {
  const staged = await stageExample("add-header");
  const { writeFileSync, readFileSync } = await import("node:fs");
  writeFileSync(
    staged.file,
    readFileSync(staged.file, "utf8").replace("stat_prefix: ingress_http", "stat_prefix: ingress_http\n          nope: 1"),
  );
  await assert.rejects(run(staged, { concurrency: 2 }), { message: /typed_config\.nope: unknown field/ });
});
