// `proxy-wasm-as envoy -c`: HTTP listeners over real sockets. Examples' envoy.yaml files run as they
// ship (only ports moved), two Wasm filters from different modules chain, direct_response routes
// answer, h2c and HTTP/1.1 share a listener, and the admin listener reports Envoy's counters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "./helpers.js";
import { freePort, request, request2, run, stage, stageExample } from "./envoy-helpers.js";

const exec = promisify(execFile);

test("envoy: examples/add-header/envoy.yaml serves HTTP/1.1 and h2c on one listener, with the filter's header", async () => {
  const e = await run(await stageExample("add-header"));
  try {
    const r1 = await request(e.url(10000) + "/");
    assert.equal(r1.status, 200);
    assert.equal(r1.body, "ok\n");
    assert.equal(r1.headers["x-service-name"], "my-custom-service");
    assert.match(String(r1.headers["x-envoy-upstream-service-time"]), /^\d+$/);
    assert.equal(r1.headers.server, "envoy");
    const r2 = await request2(e.url(10000), { path: "/h2" });
    assert.equal(r2.status, 200);
    assert.equal(r2.body, "ok\n");
    assert.equal(r2.headers["x-service-name"], "my-custom-service");
    const curl = await exec("curl", ["-sS", "-m", "5", "-i", "--http2-prior-knowledge", e.url(10000) + "/curl"]).catch((err) => ({
      stdout: "",
      stderr: String(err),
    }));
    if (curl.stdout || !/ENOENT/.test(curl.stderr)) {
      assert.match(curl.stdout, /^HTTP\/2 200/);
      assert.match(curl.stdout, /x-service-name: my-custom-service/);
    }
    const prom = await request(e.envoy.admin!.url + "/stats/prometheus");
    assert.match(prom.body, /envoy_http_downstream_rq_total\{envoy_http_conn_manager_prefix="ingress_http"\} 3/);
    assert.match(prom.body, /envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="backend"\} 3/);
    assert.equal((await request(e.envoy.admin!.url + "/ready")).body, "LIVE\n");
  } finally {
    await e.envoy.close();
  }
});

test("envoy: config-headers example edits request and response headers as its README says", async () => {
  const e = await run(await stageExample("config-headers"));
  try {
    const r = await request(e.url(10000) + "/", { headers: { "x-debug": "1", "x-env": "dev", "x-via": "client" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-seen-debug"], undefined, "x-debug removed before the backend");
    assert.equal(r.headers["x-seen-env"], "prod");
    assert.equal(r.headers["x-seen-via"], "client,wasm");
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(r.headers["x-filtered-by"], "config-headers");
  } finally {
    await e.envoy.close();
  }
});

const TWO_FILTERS = (cfgHeaders: string) => `
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
          access_log:
          - name: envoy.access_loggers.stdout
            typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}
          route_config:
            virtual_hosts:
            - name: local
              domains: ["local.test", "local.test:*"]
              routes:
              - {match: {path: "/hello"}, direct_response: {status: 201, body: {inline_string: "hello there\\n"}}}
              - {match: {prefix: "/"}, direct_response: {status: 418}}
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: "/api", headers: [{name: x-tenant, string_match: {exact: blue}}]}
                route: {cluster: backend}
              - {match: {prefix: "/api"}, direct_response: {status: 403, body: {inline_string: "no tenant\\n"}}}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: config-headers
                configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, value: '${cfgHeaders}'}
                vm_config: {vm_id: a, runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/config-headers.wasm}}}
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: add-header
                vm_config: {vm_id: b, runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/add-header.wasm}}}
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  - name: backend
    address: {socket_address: {address: 127.0.0.1, port_value: 2}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: backend
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "backend\\n"}}}]
              response_headers_to_add:
              - header: {key: x-seen-mark, value: "%REQ(x-mark)%"}
              - header: {key: x-seen-path, value: "%REQ(:path)%"}
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: backend
    connect_timeout: 0.25s
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 2}}}}]}]
`;

test("envoy: two Wasm filters from different modules in one chain, routes by domain, path and header", async () => {
  const cfg = JSON.stringify({ request: { set: { "x-mark": "first" } }, response: { add: { "x-order": "config-headers" } } });
  const e = await run(await stage(TWO_FILTERS(cfg), ["config-headers", "add-header"]));
  try {
    const r = await request(e.url(1) + "/api/items?x=1", { headers: { "x-tenant": "blue" } });
    assert.equal(r.status, 200);
    assert.equal(r.body, "backend\n");
    assert.equal(r.headers["x-seen-mark"], "first", "the first filter's request edit reached the upstream");
    assert.equal(r.headers["x-seen-path"], "/api/items?x=1");
    assert.equal(r.headers["x-service-name"], "my-custom-service", "the second filter ran on the response");
    assert.equal(r.headers["x-order"], "config-headers", "the first filter ran on the response too");
    const denied = await request(e.url(1) + "/api/items");
    assert.equal(denied.status, 403);
    assert.equal(denied.body, "no tenant\n");
    assert.equal(denied.headers["x-service-name"], "my-custom-service", "a direct_response goes through the filters");
    const hello = await request(e.url(1) + "/hello", { headers: { host: "local.test" } });
    assert.equal(hello.status, 201);
    assert.equal(hello.body, "hello there\n");
    assert.equal((await request(e.url(1) + "/other", { headers: { host: "local.test" } })).status, 418);
    assert.equal(e.stdout.length, 4, "one access log line per request");
    assert.match(
      e.stdout[0],
      /^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] "GET \/api\/items\?x=1 HTTP\/1\.1" 200 - 0 8 \d+ \d+ "-" "-" "[0-9a-f-]{36}" "127\.0\.0\.1:\d+" "127\.0\.0\.1:\d+"\n$/,
    );
  } finally {
    await e.envoy.close();
  }
});

test("envoy: h2c request and response trailers pass through the chain to an HTTP/2 upstream and back", async () => {
  const yaml = TWO_FILTERS("{}").replace("connect_timeout: 0.25s", "connect_timeout: 0.25s\n    http2_protocol_options: {}");
  const staged = await stage(yaml, ["config-headers", "add-header"]);
  // The cluster's endpoint is a real HTTP/2 server (the configuration's backend listener stays unused).
  const upstream = http2.createServer();
  const seen: { body: string; trailers: Record<string, unknown> } = { body: "", trailers: {} };
  upstream.on("stream", (stream) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("trailers", (t) => (seen.trailers = t));
    stream.on("end", () => {
      seen.body = Buffer.concat(chunks).toString();
      stream.respond({ ":status": 200, "content-type": "text/plain" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0", "x-upstream-trailer": "t1" }));
      stream.end("from h2\n");
    });
  });
  const backendPort = staged.ports.get(2)!;
  const text = readFileSync(staged.file, "utf8");
  const freeListenerPort = await freePort();
  // Move the stand-in backend listener off the port so the h2 server can take it.
  writeFileSync(
    staged.file,
    text.replace(
      `name: backend\n    address: {socket_address: {address: 127.0.0.1, port_value: ${backendPort}}}`,
      `name: backend\n    address: {socket_address: {address: 127.0.0.1, port_value: ${freeListenerPort}}}`,
    ),
  );
  await new Promise<void>((r) => upstream.listen(backendPort, "127.0.0.1", () => r()));
  const e = await run(staged);
  try {
    const r = await request2(e.url(1), {
      method: "POST",
      path: "/api/x",
      headers: { "x-tenant": "blue" },
      body: "payload",
      trailers: { "x-checksum": "abc" },
    });
    assert.equal(r.status, 200);
    assert.equal(r.body, "from h2\n");
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.equal(seen.body, "payload");
    assert.equal(seen.trailers["x-checksum"], "abc", "the request trailers reached the upstream");
    assert.equal(r.trailers["x-upstream-trailer"], "t1", "the response trailers reached the client");
    assert.equal(r.trailers["grpc-status"], "0");
  } finally {
    await e.envoy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
});

test("envoy: unsupported fields are refused with their path; a missing module says how to build it", async () => {
  const bad = readFileSync(path.join(repoRoot, "examples/add-header/envoy.yaml"), "utf8").replace(
    "stat_prefix: ingress_http",
    "stat_prefix: ingress_http\n          stat_prefix2: x",
  );
  await assert.rejects(run(await stage(bad, ["add-header"])), {
    message: /^static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.stat_prefix2: unknown field/,
  });
  const lua = TWO_FILTERS("{}").replace("name: envoy.filters.http.wasm", "name: envoy.filters.http.lua");
  await assert.rejects(run(await stage(lua, [])), { message: /http_filters\[0\]\.name: "envoy\.filters\.http\.lua" is not supported/ });
  const staged = await stage(TWO_FILTERS("{}"), []);
  await assert.rejects(run(staged), {
    message: /http_filters\[0\]\.typed_config\.config\.vm_config\.code\.local\.filename: .*config-headers\.wasm does not exist/,
  });
  const ts = TWO_FILTERS("{}").replace("build/add-header.wasm", "index.ts");
  await assert.rejects(run(await stage(ts, [])), {
    message: /filename: index\.ts is AssemblyScript source: build it first \(npx proxy-wasm-as build index\.ts\)/,
  });
  const dur = TWO_FILTERS("{}").replace("connect_timeout: 0.25s", "connect_timeout: 250ms");
  await assert.rejects(run(await stage(dur, [])), { message: /clusters\[0\]\.connect_timeout: must be a duration like "0\.25s"/ });
});

test("envoy: --watch swaps in a changed configuration for new requests; a broken one keeps the old", async () => {
  const staged = await stageExample("add-header");
  const e = await run(staged, { watch: true });
  try {
    assert.equal((await request(e.url(10000) + "/")).body, "ok\n");
    const reloaded = new Promise((resolve) => e.envoy.events.once("reload", resolve));
    writeFileSync(staged.file, readFileSync(staged.file, "utf8").replace('inline_string: "ok\\n"', 'inline_string: "changed\\n"'));
    assert.deepEqual(await reloaded, { ok: true, generation: 2 });
    const r = await request(e.url(10000) + "/");
    assert.equal(r.body, "changed\n");
    assert.equal(r.headers["x-service-name"], "my-custom-service", "the filter runs in the new configuration");
    const failed = new Promise<{ ok: boolean; error?: string }>((resolve) => e.envoy.events.once("reload", resolve));
    writeFileSync(
      staged.file,
      readFileSync(staged.file, "utf8").replace("stat_prefix: backend", "stat_prefix: backend\n          bogus: 1"),
    );
    const ev = await failed;
    assert.equal(ev.ok, false);
    assert.match(ev.error ?? "", /typed_config\.bogus: unknown field/);
    assert.equal((await request(e.url(10000) + "/")).body, "changed\n", "still serving configuration 2");
  } finally {
    await e.envoy.close();
  }
});
