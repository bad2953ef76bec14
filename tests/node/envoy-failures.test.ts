// `proxy-wasm-as envoy`: a filter that traps fails its stream closed (503) or open (fail_open), the
// process keeps serving, and the command line reports a bad configuration as one line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { promisify } from "node:util";
import { built, repoRoot } from "./helpers.js";
import { request, run, stage } from "./envoy-helpers.js";

const exec = promisify(execFile);

const CONFIG = (failOpen: boolean) => `
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
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, direct_response: {status: 200, body: {inline_string: "through\\n"}}}]}]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: traps
                fail_open: ${failOpen}
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/traps.wasm}}}
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: add-header
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/add-header.wasm}}}
          - name: envoy.filters.http.router
`;

async function staged(failOpen: boolean) {
  const s = await stage(CONFIG(failOpen), ["add-header"]);
  copyFileSync((await built("tests/fixtures/filters/traps.ts")).outFile, path.join(s.dir, "build", "traps.wasm"));
  return s;
}

test("envoy: a trapping filter fails its stream closed with 503; the next request gets a fresh VM", async () => {
  const e = await run(await staged(false));
  try {
    const failed = await request(e.url(1) + "/throw");
    assert.equal(failed.status, 503);
    assert.equal(failed.headers["x-service-name"], undefined, "filters after the failed one never saw the request");
    assert.ok(
      e.logs.some((l) => /traps.*thrown on purpose/.test(l)),
      "the trap is logged",
    );
    const next = await request(e.url(1) + "/fine");
    assert.equal(next.status, 200);
    assert.equal(next.body, "through\n");
  } finally {
    await e.envoy.close();
  }
});

test("envoy: a filter stuck in a loop is cut off by the time limit: 503, and the next request is served", async () => {
  const e = await run(await staged(false));
  try {
    const stuck = await request(e.url(1) + "/loop");
    assert.equal(stuck.status, 503);
    assert.ok(
      e.logs.some((l) => /time limit/.test(l)),
      "the time limit is logged",
    );
    const next = await request(e.url(1) + "/fine");
    assert.equal(next.status, 200);
    assert.equal(next.body, "through\n");
  } finally {
    await e.envoy.close();
  }
});

test("envoy: with fail_open the request goes on past a trapping filter", async () => {
  const e = await run(await staged(true));
  try {
    const r = await request(e.url(1) + "/abort");
    assert.equal(r.status, 200);
    assert.equal(r.body, "through\n");
    assert.equal(r.headers["x-service-name"], "my-custom-service", "the next filter still ran");
  } finally {
    await e.envoy.close();
  }
});

test("envoy command line: a bad configuration is one line on stderr and exit code 1", async () => {
  const cli = path.join(repoRoot, "dist/src/cli.js");
  const s = await stage(CONFIG(false).replace("stat_prefix: ingress", "stat_prefix: ingress\n          codec_type: QUIC"), []);
  const r = await exec(process.execPath, [cli, "envoy", "-c", s.file]).then(
    () => ({ code: 0, stderr: "" }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /^proxy-wasm-as: static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.codec_type: "QUIC" is not supported: use one of AUTO, HTTP1, HTTP2\n$/,
  );
  const none = await exec(process.execPath, [cli, "envoy"]).then(
    () => ({ code: 0, stderr: "" }),
    (err: { code: number; stderr: string }) => err,
  );
  assert.equal(none.code, 1);
  assert.match(none.stderr, /envoy needs a configuration: proxy-wasm-as envoy -c envoy\.yaml/);
});

test("envoy --watch: a request in flight finishes on the old configuration, new ones use the new", async () => {
  const slow = http.createServer((_req, res) => setTimeout(() => res.end("slow\n"), 400));
  await new Promise<void>((r) => slow.listen(0, "127.0.0.1", () => r()));
  const slowPort = (slow.address() as { port: number }).port;
  const yaml = (mark: string) => `
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
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: slow}}]}]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                root_id: config-headers
                configuration: {"@type": type.googleapis.com/google.protobuf.StringValue, value: '{"response": {"set": {"x-mark": "${mark}"}}}'}
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/config-headers.wasm}}}
          - name: envoy.filters.http.router
  clusters:
  - name: slow
    connect_timeout: 1s
    load_assignment:
      cluster_name: slow
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${slowPort}}}}}]}]
`;
  const s = await stage(yaml("old"), ["config-headers"]);
  const e = await run(s, { watch: true });
  try {
    const inFlight = request(e.url(1) + "/");
    await new Promise((r) => setTimeout(r, 100));
    const reloaded = new Promise((r) => e.envoy.events.once("reload", r));
    writeFileSync(s.file, readFileSync(s.file, "utf8").replace('"x-mark": "old"', '"x-mark": "new"'));
    assert.deepEqual(await reloaded, { ok: true, generation: 2 });
    const next = request(e.url(1) + "/");
    assert.equal((await inFlight).headers["x-mark"], "old", "the request in flight kept its filter");
    assert.equal((await next).headers["x-mark"], "new");
  } finally {
    await e.envoy.close();
    slow.closeAllConnections();
    await new Promise<void>((r) => slow.close(() => r()));
  }
});
