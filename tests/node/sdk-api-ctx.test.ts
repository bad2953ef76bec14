// SDK API coverage, "ctx" part: test filters (tests/fixtures/filters/api-ctx-*.ts) that call the
// callout readers and the HTTP and TCP stream methods, run in the host; each test checks what the
// method did. The property getters and the JSON/protobuf number methods are in sdk-api-data.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { GrpcCallout, HttpCallout } from "../../src/host/index.js";
import { hex, startFilter } from "./helpers.js";

// ---------------------------------------------------------------- callouts and VM configuration

const CALLOUTS = "tests/fixtures/filters/api-ctx-callouts.ts";

test("api-ctx-callouts: the HTTP call's response headers and trailers are read, as text and as exact bytes", async () => {
  const host = await startFilter(CALLOUTS);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/call"],
      [":authority", "a"],
    ],
    true,
  );
  assert.equal(http.request.paused, true);
  const call: HttpCallout = host.httpCalls[0];
  assert.equal(call.upstream, "svc");
  const bin = Buffer.from([0x41, 0xff, 0x42]); // invalid UTF-8
  call.respond({
    headers: [
      [":status", "201"],
      ["x-a", "one"],
      ["x-bin", bin],
    ],
    body: "ignored",
    trailers: [
      ["t1", "tv"],
      ["t-bin", Buffer.from([0xc3, 0x28])],
    ],
  });
  assert.equal(http.request.paused, false, "the filter resumes the request after reading the response");
  const h = (n: string) => http.request.header(n);
  assert.equal(h("x-call-headers"), ":status=201;x-a=one;x-bin=A\uFFFDB", "text getters turn invalid UTF-8 into U+FFFD");
  assert.equal(h("x-call-headers-bytes"), `:status=${hex("201")};x-a=${hex("one")};x-bin=41ff42`);
  assert.equal(h("x-call-header-bin"), "41ff42");
  assert.equal(h("x-call-header-missing"), "null");
  assert.equal(h("x-call-trailers-bytes"), `t1=${hex("tv")};t-bin=c328`);
  assert.match(h("x-call-trailers") ?? "", /^t1=tv;t-bin=\uFFFD\(/);
  assert.equal(h("x-call-trailer"), "tv");
  assert.equal(h("x-call-trailer-missing"), "null");
  assert.equal(h("x-call-trailer-bin"), "c328");
});

test("api-ctx-callouts: a gRPC stream's initial metadata, messages and trailing metadata reach the caller", async () => {
  const host = await startFilter(CALLOUTS);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/grpc-stream"],
      [":authority", "a"],
    ],
    true,
  );
  const s: GrpcCallout = host.grpcCalls[0];
  assert.equal(s.kind, "stream");
  assert.deepEqual([s.upstream, s.service, s.method], ["grpcsvc", "test.Svc", "Watch"]);
  s.receiveInitialMetadata([
    ["k1", Buffer.from([0xfe, 0x01])],
    ["k0", "zero"],
  ]);
  s.receive(Buffer.from([1, 2, 3, 4]));
  s.receive(Buffer.from("hi"));
  s.receiveTrailingMetadata([["k2", "two"]]);
  assert.equal(http.request.paused, true, "the filter waits for the close");
  s.close(0);
  assert.equal(http.request.paused, false);
  assert.deepEqual(http.request.headerValues("x-grpc-event"), [
    `initial:2:k1=fe01;k0=${hex("zero")}:fe01:null`,
    "message:4:01020304:0203", // getGrpcStreamMessage(1, 2): two bytes from offset 1
    `message:2:${hex("hi")}:69`, // from offset 1 only one byte is left
    `trailing:1:k2=${hex("two")}:${hex("two")}:null`,
    "close:0",
  ]);
  assert.deepEqual(host.failures, []);
});

test("api-ctx-callouts: cancelGrpcStream cancels the stream once; a second cancel is NOT_FOUND", async () => {
  const host = await startFilter(CALLOUTS);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/grpc-cancel"],
      [":authority", "a"],
    ],
    true,
  );
  const s = host.grpcCalls[0];
  s.receiveInitialMetadata([["k", "v"]]);
  assert.equal(s.cancelled, true);
  assert.equal(s.pending, false);
  assert.deepEqual(host.grpcCalls, [], "the host no longer holds the stream");
  assert.equal(http.request.header("x-cancel"), "0,1"); // Status.Ok, then Status.NotFound
  assert.equal(http.request.paused, false);
  assert.deepEqual(host.failures, []);
});

test("api-ctx-callouts: getVmConfiguration returns the VM configuration's exact bytes, empty when none", async () => {
  for (const [vmConfig, expected] of [
    [Buffer.from([0x7b, 0x00, 0xff]), "7b00ff"],
    [undefined, ""],
  ] as const) {
    const host = await startFilter(CALLOUTS, vmConfig === undefined ? {} : { vmConfig });
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "a"],
      ],
      true,
    );
    http.responseHeaders([[":status", "200"]], true);
    assert.equal(http.response.header("x-vm-config"), expected);
  }
});

// ---------------------------------------------------------------- HttpContext

const HTTP = "tests/fixtures/filters/api-ctx-http.ts";

test("api-ctx-http: request header bytes are added and replaced exactly; scheme() reads :scheme", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
      [":scheme", "https"],
      ["x-replace", "old"],
    ],
    true,
  );
  assert.deepEqual(http.request.headerBytes("x-added"), Buffer.from([0x61, 0xff]));
  assert.deepEqual(http.request.headerValues("x-replace"), ["new"]);
  assert.equal(http.request.header("x-scheme"), "[https]");

  http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
    ],
    true,
  );
  assert.equal(http.request.header("x-scheme"), "[]", "scheme() is empty without :scheme");
  assert.deepEqual(http.request.headerValues("x-replace"), ["new"], "replacing a missing header adds it, as Envoy's setCopy does");
});

test("api-ctx-http: setHttpRequestTrailers and setHttpRequestTrailersBytes replace all the trailers", async () => {
  const host = await startFilter(HTTP);
  const run = (mode: string) => {
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "a"],
      ],
      false,
    );
    http.requestBody("x", false);
    http.requestTrailers([
      ["mode", mode],
      ["other", "o"],
    ]);
    return http;
  };
  assert.deepEqual(run("set").request.trailers, [
    ["only", "text"],
    ["two", "2"],
  ]);
  assert.deepEqual(run("set-bytes").request.trailers, [["only-bytes", "é!"]]); // bytes c3 a9 21
  assert.deepEqual(run("keep").request.trailers, [
    ["mode", "keep"],
    ["other", "o"],
  ]);
});

test("api-ctx-http: response headers are read, added and replaced as bytes, or set whole", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
    ],
    true,
  );
  http.responseHeaders(
    [
      [":status", "200"],
      ["server", "envoy"],
      ["x-bin", Buffer.from([0x41, 0x80])],
    ],
    true,
  );
  assert.equal(http.response.header("x-resp-seen"), ":status=200;server=envoy;x-bin=A\uFFFD");
  assert.equal(http.response.header("x-resp-bin"), "4180|null");
  assert.deepEqual(http.response.headerBytes("x-added"), Buffer.from([0xfe]));
  assert.deepEqual(http.response.headerValues("server"), ["wasm"]);

  http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
    ],
    true,
  );
  http.responseHeaders(
    [
      [":status", "200"],
      ["x-set-all", "1"],
      ["server", "envoy"],
    ],
    true,
  );
  assert.deepEqual(
    http.response.headers.map(([k]) => k),
    [":status", "x-only"],
  );
  assert.equal(http.response.header(":status"), "202");
  assert.deepEqual(http.response.headerBytes("x-only"), Buffer.from([0xfe, 0x41]));
});

test("api-ctx-http: resumeHttpResponse lets a paused response go on once a callout answers", async () => {
  const host = await startFilter(HTTP);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
    ],
    true,
  );
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["x-hold", "1"],
      ],
      false,
    ),
    1 /* Pause */,
  );
  http.responseBody("body", true);
  assert.equal(http.response.paused, true);
  assert.equal(http.response.forwardedBody.length, 0, "the body waits behind the paused headers");
  host.httpCalls[0].respond({ body: "from-call" });
  assert.equal(http.response.paused, false);
  assert.equal(http.response.header("x-held"), "from-call");
  assert.equal(http.response.forwardedBody.toString(), "body");
  assert.ok(host.logMessages().includes("resumeHttpResponse: 0"), host.logMessages().join("\n"));
});

test("api-ctx-http: resetHttpRequest resets the stream", async () => {
  const host = await startFilter(HTTP);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/reset"],
      [":authority", "a"],
    ],
    false,
  );
  assert.equal(http.resetReason, "wasm_close_stream");
  assert.equal(http.sentHttpResponse, null);
});

test("api-ctx-http: sendHttpResponseBytes answers with exact header and body bytes; a null body is empty", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/bytes"],
      [":authority", "a"],
    ],
    true,
  );
  const r = http.sentHttpResponse;
  assert.ok(r);
  assert.equal(r.status, 418);
  assert.deepEqual(
    r.headerBytes.map(([k, v]) => [k.toString(), hex(v)]),
    [["x-b", "ff"]],
  );
  assert.deepEqual(r.body, Buffer.from([0, 1, 2]));
  assert.equal(r.grpcStatus, -1);

  http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/bytes-null"],
      [":authority", "a"],
    ],
    true,
  );
  assert.equal(http.sentHttpResponse?.status, 204);
  assert.equal(http.sentHttpResponse?.body.length, 0);
  assert.deepEqual(http.sentHttpResponse?.headers, []);
});

test("api-ctx-http: sendGrpcResponse answers HTTP 200 with the gRPC status, message and metadata", async () => {
  const host = await startFilter(HTTP);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/grpc"],
      [":authority", "a"],
      ["content-type", "application/grpc"],
    ],
    true,
  );
  const r = http.sentHttpResponse;
  assert.ok(r);
  assert.equal(r.status, 200);
  assert.equal(r.grpcStatus, 7); // PERMISSION_DENIED
  assert.equal(r.body.toString(), "nope");
  assert.deepEqual(r.headers, [["x-md", "v"]]);
});

// ---------------------------------------------------------------- StreamContext (TCP)

const TCP = "tests/fixtures/filters/api-ctx-tcp.ts";

test("api-ctx-tcp: setDownstreamData, getUpstreamData and setUpstreamData rewrite what passes", async () => {
  const host = await startFilter(TCP);
  const conn = host.tcpConnection();
  conn.downstreamData("abc");
  conn.downstreamData("de");
  conn.upstreamData("xyz");
  assert.equal(conn.downstream.forwardedData.toString(), "<abc><de>");
  assert.equal(conn.upstream.forwardedData.toString(), "up:xyz");
  assert.deepEqual(
    host.logMessages().filter((m) => m.startsWith("setDownstreamData")),
    ["setDownstreamData: 0", "setDownstreamData: 0"],
  );
  conn.complete();
  assert.deepEqual(host.failures, []);
});

test("api-ctx-tcp: resumeDownstream releases held data; resumeUpstream is UNIMPLEMENTED, as in Envoy", async () => {
  const host = await startFilter(TCP);
  const conn = host.tcpConnection();
  assert.equal(conn.downstreamData("hold-1"), 1 /* Pause */);
  assert.equal(conn.downstreamData("+more"), 1, "the held data is seen again with the new chunk, still starting with hold");
  assert.equal(conn.downstream.paused, true);
  assert.equal(conn.downstream.forwardedData.length, 0);
  conn.upstreamData("resume");
  assert.equal(conn.upstream.forwardedData.toString(), "resumed:0,12"); // Status.Ok, Status.Unimplemented
  assert.equal(conn.downstream.paused, false);
  assert.equal(conn.downstream.forwardedData.toString(), "hold-1+more");
});

test("api-ctx-tcp: closeDownstream and closeUpstream close the connection's sides", async () => {
  const host = await startFilter(TCP);
  let conn = host.tcpConnection();
  conn.downstreamData("close-down");
  assert.equal(conn.closedBy.downstream, "wasm_downstream_close");
  assert.equal(conn.closedBy.upstream, undefined);
  conn = host.tcpConnection();
  conn.downstreamData("close-up");
  assert.equal(conn.closedBy.upstream, "wasm_upstream_close");
  assert.equal(conn.closedBy.downstream, undefined);
  assert.deepEqual(
    host.logMessages().filter((m) => m.startsWith("close")),
    ["closeDownstream: 0", "closeUpstream: 0"],
  );
});
