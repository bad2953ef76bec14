// examples/config-headers: header rules from a strictly checked JSON configuration.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, LogLevel, type Host } from "../../src/host/index.js";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";
import { built, repoRoot } from "./helpers.js";
import { wasmConfigs } from "./envoy-config.js";

const CONFIG = {
  request: { remove: ["x-debug"], set: { "x-env": "prod" }, add: { "x-via": "wasm" } },
  response: { remove: ["server"], set: { "cache-control": "no-store" }, add: { "x-filtered-by": "config-headers" } },
};

async function start(config: unknown): Promise<{ host: Host; ok: boolean }> {
  const { wasm } = await built("examples/config-headers/index.ts");
  const pluginConfig = typeof config === "string" ? config : JSON.stringify(config);
  const host = await createHost({ wasm, pluginConfig, rootId: "config-headers" });
  return { host, ok: host.startPlugin() };
}

const REQUEST: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/"],
  [":authority", "example.com"],
  ["x-debug", "1"],
  ["x-env", "dev"],
  ["x-env", "staging"],
  ["x-via", "client"],
];

test("config-headers: request and response rules run in order remove, set, add", async () => {
  const { host, ok } = await start(CONFIG);
  assert.equal(ok, true);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["config-headers: 3 request and 3 response header rules"]);
  const http = host.httpStream();
  assert.equal(http.requestHeaders(REQUEST, true), Action.Continue);
  assert.equal(http.request.header("x-debug"), undefined);
  assert.deepEqual(http.request.headerValues("x-env"), ["prod"], "set replaces every value");
  assert.deepEqual(http.request.headerValues("x-via"), ["client", "wasm"], "add keeps what was there");
  assert.equal(http.request.header(":path"), "/");
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["server", "backend/1.0"],
        ["cache-control", "max-age=60"],
      ],
      false,
    ),
    Action.Continue,
  );
  assert.equal(http.response.header("server"), undefined);
  assert.deepEqual(http.response.headerValues("cache-control"), ["no-store"]);
  assert.equal(http.response.header("x-filtered-by"), "config-headers");
  assert.equal(http.responseBody("body", true), Action.Continue);
  assert.equal(http.response.body.toString(), "body");
  http.complete();
  assert.deepEqual(host.failures, []);
});

test("config-headers: one host call per rule and nothing else; memory stays flat", async () => {
  const { host } = await start(CONFIG);
  const run = () => {
    const http = host.httpStream();
    http.requestHeaders(REQUEST, true);
    http.responseHeaders([[":status", "200"]], true);
    http.complete();
  };
  for (let i = 0; i < 200; i++) run();
  host.resetHostCalls();
  run();
  assert.deepEqual(host.hostCalls(), {
    proxy_remove_header_map_value: 2,
    proxy_replace_header_map_value: 2,
    proxy_add_header_map_value: 2,
  });
  const before = host.memoryBytes;
  for (let i = 0; i < 5000; i++) run();
  assert.equal(host.memoryBytes, before);
});

test("config-headers: no configuration, or an empty one, changes nothing", async () => {
  for (const config of ["", "{}", { request: {}, response: { add: {}, remove: [] } }]) {
    const { host, ok } = await start(config);
    assert.equal(ok, true, JSON.stringify(config));
    host.resetHostCalls();
    const http = host.httpStream();
    http.requestHeaders(REQUEST, true);
    http.responseHeaders(
      [
        [":status", "200"],
        ["server", "s"],
      ],
      true,
    );
    assert.deepEqual(http.request.headers, REQUEST);
    assert.equal(http.response.header("server"), "s");
    assert.deepEqual(host.hostCalls(), {});
  }
});

test("config-headers: every configuration mistake is refused with one error line naming the field", async () => {
  const cases: Array<[unknown, string]> = [
    [{ request: { add: { "x-a": 1 } } }, '"request.add.x-a" must be a string, not number'],
    [{ response: { set: { "x-a": null } } }, '"response.set.x-a" must be a string, not null'],
    [{ request: { adds: {} } }, '"request.adds" is not a known field (expected "add", "set" or "remove")'],
    [{ requests: {} }, '"requests" is not a known field (expected "request" or "response")'],
    [{ request: [] }, '"request" must be an object, not array'],
    [{ request: { add: ["x-a"] } }, '"request.add" must be an object of header names to values, not array'],
    [{ response: { remove: "server" } }, '"response.remove" must be an array of header names, not string'],
    [{ response: { remove: ["ok", 7] } }, '"response.remove[1]" must be a string, not number'],
    [
      { response: { remove: ["Server"] } },
      `"response.remove[0]": "Server" is not a valid header name (use lowercase letters, digits and -_.!#$%&'*+^\`|~)`,
    ],
    [
      { request: { add: { "x a": "1" } } },
      `"request.add": "x a" is not a valid header name (use lowercase letters, digits and -_.!#$%&'*+^\`|~)`,
    ],
    [
      { request: { add: { "": "1" } } },
      `"request.add": "" is not a valid header name (use lowercase letters, digits and -_.!#$%&'*+^\`|~)`,
    ],
    [{ request: { set: { ":path": "/admin" } } }, '"request.set": pseudo-header ":path" cannot be changed here'],
    [{ request: { set: { "x-a": "1\r\nx-injected: 1" } } }, '"request.set.x-a" must not contain CR, LF or NUL'],
    [[CONFIG], "the configuration must be a JSON object, not array"],
    ['{"request": {"add": {}},}', "the configuration is not valid JSON: trailing comma at line 1, column 24"],
    ["request:\n  add: {}", "the configuration is not valid JSON: expected a value, found 'r' at line 1, column 1"],
  ];
  for (const [config, message] of cases) {
    const { host, ok } = await start(config);
    assert.equal(ok, false, JSON.stringify(config));
    // The filter's own line (the host adds its "failed to start" line after it).
    const lines = host.logMessages(LogLevel.Error).filter((m) => m.startsWith("config-headers:"));
    assert.deepEqual(lines, [`config-headers: ${message}`], JSON.stringify(config));
    assert.equal(host.failures.at(-1)?.kind, "configure_failed");
  }
});

test("config-headers: a rejected update keeps the running rules; an accepted one applies to new streams", async () => {
  const { host } = await start(CONFIG);
  assert.equal(host.reconfigure(JSON.stringify({ request: { add: { "x-a": 1 } } })), false);
  let http = host.httpStream();
  http.requestHeaders(REQUEST, true);
  assert.deepEqual(http.request.headerValues("x-env"), ["prod"]);
  http.complete();
  assert.equal(host.reconfigure(JSON.stringify({ request: { set: { "x-env": "canary" } } })), true);
  http = host.httpStream();
  http.requestHeaders(REQUEST, true);
  assert.deepEqual(http.request.headerValues("x-env"), ["canary"]);
  assert.equal(http.request.header("x-debug"), "1", "the old rules are gone");
  http.complete();
});

// ---- the deployable files configure what the tests run ----

test("config-headers: envoy.yaml and wasmplugin.yaml load this module with the configuration the tests use", async () => {
  const dir = path.join(repoRoot, "examples", "config-headers");
  const [filter] = wasmConfigs(parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8")));
  assert.equal(filter.vm_config.code.local.filename, "build/config-headers.wasm");
  assert.equal(filter.configuration?.["@type"], "type.googleapis.com/google.protobuf.StringValue");
  assert.deepEqual(JSON.parse(filter.configuration.value), CONFIG);
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.apiVersion, "extensions.istio.io/v1alpha1");
  assert.equal(plugin.kind, "WasmPlugin");
  assert.equal(plugin.spec.pluginName, filter.root_id);
  assert.match(plugin.spec.url, /^oci:\/\//);
  assert.deepEqual(checkWasmPluginRules(plugin), []);
  // Istio sends pluginConfig as JSON: the same settings as envoy.yaml's StringValue.
  assert.deepEqual(plugin.spec.pluginConfig, CONFIG);
  const { ok } = await start(filter.configuration.value);
  assert.equal(ok, true);
});
