// examples/auth-callout: every request waits for an HTTP call to an auth service.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, LogLevel, type Host, type HttpStream, type HttpCallout } from "../../src/host/index.js";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";
import { built, repoRoot } from "./helpers.js";
import { wasmConfigs } from "./envoy-config.js";

const CONFIG = {
  cluster: "auth",
  authority: "auth.internal",
  path: "/check",
  timeout_ms: 500,
  forward_headers: ["authorization"],
  copy_headers: ["x-user"],
};

async function start(config: unknown = CONFIG, upstreams = ["auth", "backend"]): Promise<{ host: Host; ok: boolean }> {
  const { wasm } = await built("examples/auth-callout/index.ts");
  const pluginConfig = typeof config === "string" ? config : JSON.stringify(config);
  const host = await createHost({ wasm, pluginConfig, rootId: "auth-callout", upstreams });
  return { host, ok: host.startPlugin() };
}

function request(host: Host, auth: string | null, extra: Array<[string, string]> = []): { http: HttpStream; call: HttpCallout } {
  const http = host.httpStream();
  const headers: Array<[string, string]> = [[":method", "POST"], [":path", "/orders?id=7"], [":authority", "shop.example.com"], ...extra];
  if (auth !== null) headers.push(["authorization", auth]);
  const before = host.httpCallHistory.length;
  assert.equal(http.requestHeaders(headers, false), Action.Pause);
  assert.equal(host.httpCallHistory.length, before + 1, "one call per request");
  return { http, call: host.httpCallHistory[before] };
}

const metric = (host: Host, name: string) => host.metric(`auth_callout.${name}`)?.value ?? 0;

test("auth-callout: the request pauses; the auth service gets the credentials and where the request was going", async () => {
  const { host, ok } = await start();
  assert.equal(ok, true);
  const { http, call } = request(host, "Bearer good");
  assert.equal(http.request.paused, true);
  assert.equal(call.upstream, "auth");
  assert.equal(call.timeoutMs, 500);
  assert.deepEqual(call.headers, [
    [":method", "GET"],
    [":path", "/check"],
    [":authority", "auth.internal"],
    ["x-original-method", "POST"],
    ["x-original-host", "shop.example.com"],
    ["x-original-uri", "/orders?id=7"],
    ["authorization", "Bearer good"],
  ]);
  assert.equal(call.body.length, 0);
  // The body that arrives meanwhile waits in the host, as in Envoy.
  assert.equal(http.requestBody("payload", true), Action.Pause);
  assert.equal(http.request.forwardedBody.length, 0);
});

test("auth-callout: 2xx resumes the request with x-user from the auth answer; a client's own x-user is dropped", async () => {
  const { host } = await start();
  const { http, call } = request(host, "Bearer good", [["x-user", "mallory"]]);
  assert.equal(http.request.header("x-user"), undefined, "removed before the call");
  assert.equal(http.requestBody("payload", true), Action.Pause);
  call.respond({
    headers: [
      [":status", "200"],
      ["x-user", "alice"],
      ["x-other", "not copied"],
    ],
  });
  assert.equal(http.request.paused, false);
  assert.equal(http.sentHttpResponse, null);
  assert.deepEqual(http.request.headerValues("x-user"), ["alice"]);
  assert.equal(http.request.header("x-other"), undefined);
  assert.equal(http.request.forwardedBody.toString(), "payload", "the held body went upstream after the resume");
  assert.equal(http.responseHeaders([[":status", "201"]], true), Action.Continue);
  http.complete();
  assert.equal(metric(host, "allowed"), 1);
  assert.deepEqual(host.failures, []);
});

test("auth-callout: 2xx without x-user lets the request through without one", async () => {
  const { host } = await start();
  const { http, call } = request(host, "Bearer good", [["x-user", "mallory"]]);
  call.respond({ headers: [[":status", "204"]] });
  assert.equal(http.request.paused, false);
  assert.equal(http.request.header("x-user"), undefined);
});

test("auth-callout: any other answer is a 403 with the reason; the upstream never sees the request", async () => {
  const { host } = await start();
  let { http, call } = request(host, "Bearer bad");
  call.respond({
    headers: [
      [":status", "401"],
      ["x-auth-reason", "token expired"],
    ],
    body: "internal details",
  });
  assert.equal(http.sentHttpResponse?.status, 403);
  assert.equal(http.sentHttpResponse?.body.toString(), "access denied: token expired\n");
  assert.equal(http.request.forwardedBody.length, 0);
  assert.equal(http.requestBody("late body", true), Action.Pause, "the filter never sees data after its local reply");
  ({ http, call } = request(host, null));
  call.respond({ headers: [[":status", "500"]] });
  assert.equal(http.sentHttpResponse?.status, 403);
  assert.equal(http.sentHttpResponse?.body.toString(), "access denied: auth service answered 500\n");
  assert.equal(metric(host, "denied"), 2);
});

test("auth-callout: a failed or timed-out call answers 503 (fail closed)", async () => {
  const { host } = await start();
  const { http, call } = request(host, "Bearer good");
  call.fail();
  assert.equal(http.sentHttpResponse?.status, 503);
  assert.equal(http.sentHttpResponse?.body.toString(), "auth service unavailable\n");
  assert.equal(metric(host, "failed"), 1);
  assert.deepEqual(host.logMessages(LogLevel.Warn), ["auth-callout: the call to 'auth' failed (timeout or reset); answering 503"]);
});

test("auth-callout: a cluster Envoy does not know is refused at dispatch: 503 at once", async () => {
  const { host, ok } = await start({ cluster: "nope" });
  assert.equal(ok, true);
  const http = host.httpStream();
  assert.equal(
    http.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "a"],
      ],
      true,
    ),
    Action.Pause,
  );
  assert.equal(host.httpCalls.length, 0);
  assert.equal(http.sentHttpResponse?.status, 503);
  assert.deepEqual(host.logMessages(LogLevel.Warn), ["auth-callout: cannot call cluster 'nope' (status 2); answering 503"]);
});

test("auth-callout: concurrent streams each get their own answer, whatever the order answers arrive in", async () => {
  const { host } = await start();
  const a = request(host, "Bearer alice");
  const b = request(host, "Bearer bob");
  const c = request(host, "Bearer carol");
  assert.notEqual(a.call.token, b.call.token);
  assert.equal(b.call.header("authorization"), "Bearer bob");
  // Answers in reverse order: c denied, b allowed as bob, a allowed as alice.
  c.call.respond({ headers: [[":status", "403"]] });
  b.call.respond({
    headers: [
      [":status", "200"],
      ["x-user", "bob"],
    ],
  });
  assert.equal(a.http.request.paused, true, "a is still waiting");
  a.call.respond({
    headers: [
      [":status", "200"],
      ["x-user", "alice"],
    ],
  });
  assert.equal(c.http.sentHttpResponse?.status, 403);
  assert.equal(b.http.sentHttpResponse, null);
  assert.equal(a.http.sentHttpResponse, null);
  assert.deepEqual(b.http.request.headerValues("x-user"), ["bob"]);
  assert.deepEqual(a.http.request.headerValues("x-user"), ["alice"]);
  assert.equal(a.http.request.paused, false);
  assert.equal(b.http.request.paused, false);
  for (const s of [a, b, c]) s.http.complete();
  assert.deepEqual(host.failures, []);
});

test("auth-callout: an answer for a stream that is already gone is ignored", async () => {
  const { host } = await start();
  const { http, call } = request(host, "Bearer good");
  http.complete(); // the client went away
  call.respond({
    headers: [
      [":status", "200"],
      ["x-user", "alice"],
    ],
  });
  assert.deepEqual(host.failures, []);
  assert.equal(metric(host, "allowed"), 0);
  // The plugin keeps working.
  const next = request(host, "Bearer good");
  next.call.respond({ headers: [[":status", "200"]] });
  assert.equal(next.http.request.paused, false);
});

test("auth-callout: guest memory stays flat over many authorized requests", async () => {
  const { host } = await start();
  const run = () => {
    const { http, call } = request(host, "Bearer good");
    call.respond({
      headers: [
        [":status", "200"],
        ["x-user", "alice"],
      ],
    });
    http.responseHeaders([[":status", "200"]], true);
    http.complete();
  };
  for (let i = 0; i < 300; i++) run();
  const before = host.memoryBytes;
  for (let i = 0; i < 3000; i++) run();
  assert.equal(host.memoryBytes, before);
});

test("auth-callout: configuration mistakes are refused with the reason", async () => {
  const cases: Array<[unknown, string]> = [
    ["", 'the configuration must be a JSON object with at least {"cluster": "<auth cluster>"}: it is missing'],
    [
      "{",
      'the configuration must be a JSON object with at least {"cluster": "<auth cluster>"}: not valid JSON: unexpected end of input at line 1, column 2',
    ],
    [{}, '"cluster" (the Envoy cluster of the auth service) must be a non-empty string'],
    [{ cluster: 7 }, '"cluster" (the Envoy cluster of the auth service) must be a non-empty string'],
    [{ cluster: "auth", timeout: 5 }, '"timeout" is not a known field'],
    [{ cluster: "auth", timeout_ms: 0 }, '"timeout_ms" must be a whole number of milliseconds from 1 to 60000'],
    [{ cluster: "auth", timeout_ms: 1.5 }, '"timeout_ms" must be a whole number of milliseconds from 1 to 60000'],
    [{ cluster: "auth", path: "check" }, '"path" must be a string starting with "/"'],
    [{ cluster: "auth", copy_headers: "x-user" }, '"copy_headers" must be an array of header names, not string'],
    [{ cluster: "auth", forward_headers: ["Authorization"] }, '"forward_headers" must hold lowercase header names'],
  ];
  for (const [config, message] of cases) {
    const { host, ok } = await start(config);
    assert.equal(ok, false, JSON.stringify(config));
    const lines = host.logMessages(LogLevel.Error).filter((m) => m.startsWith("auth-callout:"));
    assert.deepEqual(lines, [`auth-callout: ${message}`], JSON.stringify(config));
  }
  // Defaults: authority = cluster, path /check, 1 s, authorization forwarded, x-user copied.
  const { host, ok } = await start({ cluster: "auth" });
  assert.equal(ok, true);
  const { call } = request(host, "Basic x");
  assert.equal(call.header(":authority"), "auth");
  assert.equal(call.header(":path"), "/check");
  assert.equal(call.timeoutMs, 1000);
  assert.equal(call.header("authorization"), "Basic x");
});

// ---- the deployable files configure what the tests run ----

test("auth-callout: envoy.yaml has the auth cluster, and both files carry the configuration the tests use", async () => {
  const dir = path.join(repoRoot, "examples", "auth-callout");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const [filter] = wasmConfigs(envoy);
  assert.equal(filter.vm_config.code.local.filename, "build/auth-callout.wasm");
  assert.equal(filter.configuration?.["@type"], "type.googleapis.com/google.protobuf.StringValue");
  const config = JSON.parse(filter.configuration.value);
  assert.deepEqual(config, CONFIG);
  const clusters = envoy.static_resources.clusters.map((c: { name: string }) => c.name);
  assert.ok(clusters.includes(config.cluster), `envoy.yaml defines the cluster "${config.cluster}"`);
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.apiVersion, "extensions.istio.io/v1alpha1");
  assert.equal(plugin.spec.pluginName, filter.root_id);
  assert.deepEqual(checkWasmPluginRules(plugin), []);
  const { ok } = await start(JSON.stringify(plugin.spec.pluginConfig), [plugin.spec.pluginConfig.cluster]);
  assert.equal(ok, true);
});
