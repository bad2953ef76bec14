// The SDK's free functions (exported from assembly/index.ts: hostcalls.ts, log.ts, json.ts) that no
// example uses, and callouts and who receives their answers, called by the test filters
// tests/fixtures/filters/api-free-*.ts and run in the host.
// Each test asserts what the call did: a header or body the filter wrote, a local reply, a reset, a
// callout the host received, a metric value, or a log line naming the callback that ran.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, LogLevel, Action, type Host, type HostOptions } from "../../src/host/index.js";
import { built } from "./helpers.js";

const FIXTURES = "tests/fixtures/filters";

async function start(name: string, options: Omit<HostOptions, "wasm"> = {}): Promise<Host> {
  const { wasm } = await built(`${FIXTURES}/api-free-${name}.ts`);
  const host = await createHost({ wasm, ...options });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  return host;
}

const GET = (path: string): Array<[string, string]> => [
  [":method", "GET"],
  [":path", path],
  [":authority", "a"],
];

// ---- logging: setLogLevel, logEnabled, logTrace, logCritical ----

/** One request through api-free-log: what logEnabled said for levels 0..5, the messages the host got, proxy_log calls. */
function logRequest(host: Host) {
  host.clearLogs();
  host.resetHostCalls();
  const http = host.httpStream();
  http.requestHeaders(GET("/p"), true);
  return {
    enabled: http.request.header("x-log-enabled"),
    logs: host.logs.map((e) => [e.level, e.message]),
    proxyLogCalls: host.hostCalls().proxy_log ?? 0,
  };
}

test("free: logTrace and logCritical reach the host at their levels; logEnabled is true for all by default", async () => {
  const r = logRequest(await start("log"));
  assert.equal(r.enabled, "111111");
  assert.deepEqual(r.logs, [
    [LogLevel.Trace, "trace from /p"],
    [LogLevel.Critical, "critical from /p"],
  ]);
  assert.equal(r.proxyLogCalls, 2);
});

test("free: setLogLevel drops messages below it inside the module, without calling the host", async () => {
  const host = await start("log", { pluginConfig: String(LogLevel.Warn) });
  const r = logRequest(host);
  assert.equal(r.enabled, "000111");
  assert.deepEqual(r.logs, [[LogLevel.Critical, "critical from /p"]]);
  assert.equal(r.proxyLogCalls, 1, "the TRACE message must not be sent to the host at all");
  // Lowering the floor again (a new configuration) lets TRACE through.
  assert.equal(host.reconfigure(String(LogLevel.Trace)), true);
  const again = logRequest(host);
  assert.equal(again.enabled, "111111");
  assert.equal(again.proxyLogCalls, 2);
});

test("free: logEnabled follows the host's level (proxy_get_log_level), and the higher of both wins", async () => {
  const info = logRequest(await start("log", { logLevel: LogLevel.Info }));
  assert.equal(info.enabled, "001111");
  assert.equal(info.proxyLogCalls, 1, "a message below the host's level is not sent");
  assert.deepEqual(info.logs, [[LogLevel.Critical, "critical from /p"]]);
  // Host at ERROR, module floor at DEBUG: the host's level decides.
  const error = logRequest(await start("log", { logLevel: LogLevel.Error, pluginConfig: String(LogLevel.Debug) }));
  assert.equal(error.enabled, "000011");
  // Host at DEBUG, module floor at ERROR: the module's floor decides.
  const floor = logRequest(await start("log", { logLevel: LogLevel.Debug, pluginConfig: String(LogLevel.Error) }));
  assert.equal(floor.enabled, "000011");
});

// ---- header maps: addMapValue(Bytes), setMapValue(Bytes), removeMapValue ----

test("free: the map functions add, replace and remove request headers, byte values exactly", async () => {
  const host = await start("stream");
  const http = host.httpStream();
  http.requestHeaders([...GET("/"), ["x-replace", "a"], ["x-replace", "b"], ["x-remove", "r"], ["x-keep", "k"]], true);
  const h = http.request;
  assert.deepEqual(h.headerValues("x-multi"), ["one", "two\ufffd"]);
  assert.deepEqual(
    h.headerPairsBytes.filter(([k]) => k.toString() === "x-multi").map(([, v]) => [...v]),
    [
      [0x6f, 0x6e, 0x65],
      [0x74, 0x77, 0x6f, 0xff],
    ],
    "addMapValueBytes keeps the invalid UTF-8 byte",
  );
  assert.deepEqual(h.headerValues("x-replace"), ["new"], "setMapValue leaves exactly one value");
  assert.deepEqual([...h.headerBytes("x-created")!], [0x63, 0x00, 0xfe], "setMapValueBytes adds a missing key, NUL and all");
  assert.equal(h.header("x-remove"), undefined);
  assert.equal(h.header("x-keep"), "k");
  // Statuses: six Ok (removing a missing key is Ok, as in Envoy), then BadArgument for response
  // headers that do not exist yet.
  assert.equal(h.header("x-statuses"), "0,0,0,0,0,0,2");
});

test("free: setMapValue edits response headers", async () => {
  const host = await start("stream");
  const http = host.httpStream();
  http.requestHeaders(GET("/"), true);
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["x-response", "upstream"],
      ],
      true,
    ),
    Action.Continue,
  );
  assert.deepEqual(http.response.headerValues("x-response"), ["seen"]);
});

// ---- buffers and JSON: getBufferSize, setBuffer, parseJsonBytes on slices ----

test("free: getBufferSize, setBuffer and parseJsonBytes(start, length) on the buffered request body", async () => {
  const host = await start("stream");
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/"],
      [":authority", "a"],
    ],
    false,
  );
  assert.equal(http.requestBody('<[{"a":', false), Action.Pause);
  http.requestBody('"x"}]>', true);
  const parts = http.request.forwardedBody.toString().split("|");
  assert.deepEqual(parts, [
    "start", // setBuffer(0, 0): prepended
    "13", // getBufferSize: the whole buffered body
    "13", // the callback's bodySize agrees
    '[{"a":"x"}]', // parseJsonBytes(body, 1, size - 2): the slice inside "<" and ">"
    "null(expected a value, found '<' at line 1, column 1)", // parseJsonBytes(body): the whole body is not JSON
    "null(unterminated string at line 1, column 3)", // parseJsonBytes(body, 1, 3): only '[{"'
    "end", // setBuffer(size, 0): appended
    "0,0,0,2", // replace, append, prepend Ok; a middle range is BadArgument
    "0 1", // getBufferSize of a buffer that does not exist: 0, lastStatus NotFound
  ]);
  assert.deepEqual(host.failures, []);
});

// ---- local responses and resets (methods): sendHttpResponse(Bytes), resetHttpRequest/Response ----

test("sendHttpResponse answers with status, body and headers", async () => {
  const host = await start("stream");
  const http = host.httpStream();
  assert.equal(http.requestHeaders(GET("/local"), true), Action.Pause);
  const reply = http.sentHttpResponse!;
  assert.equal(reply.status, 418);
  assert.equal(reply.body.toString(), "teapot");
  assert.deepEqual(reply.headers, [["x-local", "1"]]);
  assert.equal(reply.grpcStatus, -1);
  assert.equal(http.response.header(":status"), "418");
  assert.equal(http.response.body.toString(), "teapot");
});

test("sendHttpResponseBytes sends byte headers exactly and no body", async () => {
  const host = await start("stream");
  const http = host.httpStream();
  assert.equal(http.requestHeaders(GET("/local-bytes"), true), Action.Pause);
  const reply = http.sentHttpResponse!;
  assert.equal(reply.status, 403);
  assert.equal(reply.body.length, 0);
  assert.equal(reply.grpcStatus, -1);
  assert.deepEqual(
    reply.headerBytes.map(([k, v]) => [k.toString(), [...v]]),
    [["x-raw", [0xff, 0x41]]],
  );
});

test("resetHttpRequest and resetHttpResponse reset the stream from a request or a response callback", async () => {
  const host = await start("stream");
  const req = host.httpStream();
  req.requestHeaders(GET("/close"), true);
  assert.equal(req.resetReason, "wasm_close_stream");
  assert.equal(req.sentHttpResponse, null);

  const res = host.httpStream();
  res.requestHeaders(GET("/"), true);
  assert.equal(res.resetReason, null);
  res.responseHeaders(
    [
      [":status", "200"],
      ["x-close", "1"],
    ],
    false,
  );
  assert.equal(res.resetReason, "wasm_close_stream");
});

// ---- metrics: defineMetric, incrementMetric, recordMetric, getMetric ----

test("free: defineMetric, incrementMetric, recordMetric and getMetric on a counter, a gauge and a histogram", async () => {
  const host = await start("metrics");
  assert.equal(host.metric("free_requests")?.type, "counter");
  assert.equal(host.metric("free_inflight")?.type, "gauge");
  assert.equal(host.metric("free_sizes")?.type, "histogram");

  const a = host.httpStream();
  a.requestHeaders([...GET("/"), ["x-size", "300"]], true);
  const b = host.httpStream();
  b.requestHeaders([...GET("/"), ["x-size", "7"]], true);
  // "<counter>|<gauge>|<histogram get> <status>|<counter -1>|<unknown id>": getMetric reads what the
  // increments did; a histogram cannot be read (BadArgument), a counter cannot go down (BadArgument),
  // an id never defined is NotFound.
  assert.equal(a.request.header("x-metrics"), "1|1|0 2|2|1");
  assert.equal(b.request.header("x-metrics"), "2|2|0 2|2|1");
  assert.equal(host.metric("free_requests")?.value, 2);
  assert.equal(host.metric("free_inflight")?.value, 2);
  assert.deepEqual(host.metric("free_sizes")?.values, [300, 7]);

  a.complete();
  b.complete();
  assert.equal(host.metric("free_inflight")?.value, 0, "incrementMetric(gauge, -1) in onLog");

  // recordMetric sets a gauge, with the full u64 range; getMetric returns it exactly.
  const big = 2n ** 40n + 5n;
  const c = host.httpStream();
  c.requestHeaders([...GET("/"), ["x-gauge", big.toString()]], true);
  assert.equal(c.request.header("x-metrics"), `3|${big}|0 2|2|1`);
  assert.equal(host.metric("free_inflight")?.exact, big);
});

// ---- callouts: the answer reaches the context that made the call, always ----

async function callouts(config = ""): Promise<Host> {
  return start("callouts", { upstreams: ["auth", "grpc"], pluginConfig: config });
}

const infos = (host: Host) => host.logMessages(LogLevel.Info);
const fromRoot = (host: Host) => infos(host).filter((m) => m.startsWith("root on") && !m.startsWith("root onGrpcStream"));

test("free: setTickPeriod sets and stops the timer; setEffectiveContext refuses an unknown id", async () => {
  const host = await callouts("40");
  assert.equal(host.tickPeriod, 40);
  assert.deepEqual(infos(host), ["root configure tick=0 bad-effective=2"]);
  for (let i = 0; i < 3; i++) assert.equal(host.tick(), true);
  assert.equal(host.tickPeriod, 40);
  assert.equal(host.tick(), true); // the fourth tick sets the period to 0
  assert.equal(host.tickPeriod, 0);
  assert.equal(host.tick(), false, "no root context has a timer any more");
  assert.ok(infos(host).includes("root tick stop=0"));
});

test("callouts: an HTTP context's dispatchHttpCall is answered on that context, which resumes its request", async () => {
  const host = await callouts();
  const http = host.httpStream();
  assert.equal(http.requestHeaders(GET("/http"), true), Action.Pause);
  assert.equal(host.httpCalls.length, 1);
  const call = host.httpCalls[0];
  assert.equal(call.upstream, "auth");
  assert.deepEqual(call.headers, [
    [":method", "POST"],
    [":path", "/check"],
    [":authority", "auth.local"],
  ]);
  assert.equal(call.body.toString(), "question");
  assert.deepEqual(call.trailers, [["x-trailer", "t"]]);
  assert.equal(call.timeoutMs, 1234);
  assert.notEqual(call.callerContextId, host.rootContextId, "made from the HTTP context");

  call.respond({
    headers: [
      [":status", "200"],
      ["x-a", "b"],
    ],
    body: "yes",
  });
  assert.equal(http.request.paused, false, "resumeHttpRequest resumed the request");
  // "<body>|<headers>": the free addMapValue wrote to this stream, which the SDK made effective.
  assert.equal(http.request.header("x-callout"), "yes|2");
  assert.ok(infos(host).includes("stream onHttpCallResponse 2 yes status=0 "), infos(host).join("\n"));
  assert.ok(infos(host).includes("stream resumed add=0 resume=0"));
  assert.deepEqual(fromRoot(host), [], "the root's onHttpCallResponse must not run for the stream's call");
});

test("callouts: getGrpcStatus in the caller's callback reports a failed call (11, reset)", async () => {
  const host = await callouts();
  const http = host.httpStream();
  http.requestHeaders(GET("/http"), true);
  host.httpCalls[0].fail();
  assert.ok(infos(host).includes("stream onHttpCallResponse 0  status=11 reset"), infos(host).join("\n"));
  assert.equal(http.request.header("x-callout"), "|0");
  assert.equal(http.request.paused, false);
  assert.deepEqual(fromRoot(host), []);
});

test("callouts: dispatchHttpCall refused by the host returns 0 and lastStatus says why", async () => {
  const host = await callouts();
  const http = host.httpStream();
  http.requestHeaders(GET("/http-bad"), true);
  assert.equal(http.request.header("x-token"), "0 2"); // no :authority: BadArgument
  assert.equal(host.httpCalls.length, 0);
});

test("callouts: dispatchGrpcCall from an HTTP context: the request as sent, the answer and a failure on that context", async () => {
  const host = await callouts();
  const ok = host.httpStream();
  ok.requestHeaders(GET("/grpc"), true);
  assert.equal(ok.request.header("x-grpc"), "token");
  const call = host.grpcCalls[0];
  assert.equal(call.kind, "call");
  assert.equal(call.upstream, "grpc");
  assert.equal(call.service, "pkg.Svc");
  assert.equal(call.method, "Check");
  assert.deepEqual(call.metadata, [["k", "v"]]);
  assert.equal(call.message?.toString(), "hello");
  assert.equal(call.timeoutMs, 500);
  call.respond("world");
  assert.ok(
    infos(host).some((m) => m.startsWith("stream onGrpcCallResponse 0 world ")),
    infos(host).join("\n"),
  );

  const bad = host.httpStream();
  bad.requestHeaders(GET("/grpc"), true);
  host.grpcCalls[0].close(14, "no upstream");
  assert.ok(infos(host).includes("stream onGrpcCallResponse 14  status=14 no upstream"), infos(host).join("\n"));
  assert.deepEqual(fromRoot(host), [], "the root's gRPC callbacks must not run for the stream's calls");
});

test("callouts: cancelGrpcCall and closeGrpcStream end a unary call; a second cancel is NotFound", async () => {
  const host = await callouts();
  const cancel = host.httpStream();
  cancel.requestHeaders(GET("/grpc-cancel"), true);
  assert.equal(cancel.request.header("x-grpc"), "token cancel=0 again=1");
  assert.equal(host.grpcCallHistory.at(-1)?.cancelled, true);

  const close = host.httpStream();
  close.requestHeaders(GET("/grpc-close"), true);
  assert.equal(close.request.header("x-grpc"), "token close=0");
  assert.equal(host.grpcCallHistory.at(-1)?.cancelled, true, "proxy_grpc_close on a unary call cancels it");
  assert.equal(host.grpcCalls.length, 0);
});

test("callouts: a stream the root opens on a tick: messages, metadata and the close reach the root", async () => {
  const host = await callouts();
  host.tick();
  assert.equal(host.grpcCalls.length, 1);
  const s = host.grpcCalls[0];
  assert.equal(s.kind, "stream");
  assert.equal(s.service, "pkg.Svc");
  assert.equal(s.method, "Watch");
  assert.deepEqual(s.metadata, [["w", "1"]]);
  assert.deepEqual(s.sent.map(String), ["first"]);
  assert.ok(infos(host).includes(`root tick stream=${s.token} send=0`));

  host.clearLogs();
  s.receiveInitialMetadata([
    ["im", "1"],
    ["im2", "2"],
  ]);
  s.receive("m1");
  assert.deepEqual(s.sent.map(String), ["first", "echo:m1"], "the root answered with sendGrpcStreamMessage");
  s.receive("bye");
  assert.equal(s.localClosed, true, "closeGrpcStream half-closes the stream");
  assert.equal(s.pending, true, "a half-closed stream still receives");
  s.receiveTrailingMetadata([["t", "1"]]);
  s.close(0, "done");
  assert.deepEqual(infos(host), [
    "root onGrpcStreamInitialMetadata 2",
    "root onGrpcStreamMessage m1 status=0 ",
    "root onGrpcStreamMessage bye status=0 ",
    "root close=0",
    "root onGrpcStreamTrailingMetadata 1",
    "root onGrpcStreamClose 0 status=0 done",
  ]);
  assert.deepEqual(host.failures, []);
});

test("callouts: sendGrpcStreamMessage with end_stream, and cancelGrpcStream, on the root's streams", async () => {
  const host = await callouts();
  host.tick();
  host.tick();
  const [ending, cancelled] = host.grpcCalls;
  ending.receive("end");
  assert.deepEqual(ending.sent.map(String), ["first", "last"]);
  assert.equal(ending.localClosed, true);
  assert.equal(ending.cancelled, false);

  cancelled.receive("cancel");
  assert.equal(cancelled.cancelled, true);
  assert.equal(cancelled.pending, false);
  assert.ok(infos(host).includes("root cancel=0") && infos(host).includes("root end=0"), infos(host).join("\n"));
  assert.deepEqual(host.grpcCalls, [ending]);
});
