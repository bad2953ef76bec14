// The two seed filters, compiled with `proxy-wasm-as build` and run in the Envoy-like host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, Action, LogLevel } from "../../src/host/index.js";
import { built } from "./helpers.js";

test("x-service-name answers 200 itself with the header and body, and logs host and path", async () => {
  const { wasm } = await built("examples/x-service-name/index.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  const action = http.requestHeaders(
    [
      [":method", "GET"],
      [":authority", "example.com"],
      [":path", "/hello?x=1"],
      [":scheme", "http"],
    ],
    true,
  );
  assert.equal(action, Action.Pause);
  const local = http.sentHttpResponse;
  assert.ok(local, "the filter sent a local response");
  assert.equal(local.status, 200);
  assert.deepEqual(
    local.headers.filter(([k]) => k === "x-service-name"),
    [["x-service-name", "my-custom-service"]],
  );
  assert.equal(local.body.toString(), "Hello from Wasm!\n");
  assert.deepEqual(host.logMessages(LogLevel.Info), ["Received request for: example.com /hello?x=1"]);
  http.complete();
});

test("x-service-name makes only the host calls its code asks for, per request", async () => {
  const { wasm } = await built("examples/x-service-name/index.ts");
  const host = await createHost({ wasm });
  host.startPlugin();
  // Warm up (the first log reads the host's log level once).
  let http = host.httpStream();
  http.requestHeaders(
    [
      [":authority", "a"],
      [":path", "/"],
    ],
    true,
  );
  http.complete();
  host.resetHostCalls();
  http = host.httpStream();
  http.requestHeaders(
    [
      [":authority", "a"],
      [":path", "/"],
    ],
    true,
  );
  http.complete();
  assert.deepEqual(host.hostCalls(), {
    proxy_get_header_map_value: 2,
    proxy_log: 1,
    proxy_send_local_response: 1,
  });
});

test("x-service-name: a disabled info level costs no proxy_log call", async () => {
  const { wasm } = await built("examples/x-service-name/index.ts");
  const host = await createHost({ wasm, logLevel: LogLevel.Warn });
  host.startPlugin();
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":authority", "a"],
      [":path", "/"],
    ],
    true,
  );
  assert.equal(host.hostCalls().proxy_log ?? 0, 0);
  assert.equal(http.sentHttpResponse?.status, 200);
});

test("add-header adds x-service-name to the upstream response and lets it through", async () => {
  const { wasm } = await built("examples/add-header/index.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  assert.equal(
    http.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "x"],
      ],
      true,
    ),
    Action.Continue,
  );
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["content-type", "text/plain"],
      ],
      false,
    ),
    Action.Continue,
  );
  assert.equal(http.response.header("x-service-name"), "my-custom-service");
  assert.equal(http.response.header("content-type"), "text/plain");
  assert.equal(http.responseBody("upstream body", true), Action.Continue);
  assert.equal(http.response.body.toString(), "upstream body");
  assert.equal(http.sentHttpResponse, null);
  http.complete();
});

test("add-header: one host call per request, and guest memory stays flat over many requests", async () => {
  const { wasm } = await built("examples/add-header/index.ts");
  const host = await createHost({ wasm });
  host.startPlugin();
  const run = () => {
    const http = host.httpStream();
    http.requestHeaders([[":path", "/"]], true);
    http.responseHeaders([[":status", "200"]], true);
    http.complete();
  };
  for (let i = 0; i < 2000; i++) run();
  host.resetHostCalls();
  run();
  assert.deepEqual(host.hostCalls(), { proxy_add_header_map_value: 1 });
  const before = host.memoryBytes;
  for (let i = 0; i < 20000; i++) run();
  assert.equal(host.memoryBytes, before, "guest memory grew after warm-up");
});
