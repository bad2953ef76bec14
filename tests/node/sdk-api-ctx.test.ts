// SDK API coverage, "ctx" part: test filters (tests/fixtures/filters/api-ctx-*.ts) that call the
// callout readers, HTTP and TCP stream methods, property getters and the JSON/protobuf number
// methods, run in the host; each test checks what the method did.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHost, GrpcCallout, Host, HttpCallout, type HostOptions } from "../../src/host/index.js";
import { built } from "./helpers.js";

async function startFilter(entry: string, options: Omit<HostOptions, "wasm"> = {}): Promise<Host> {
  const { wasm } = await built(entry);
  const host = await createHost({ ...options, wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  return host;
}

const hex = (s: string | Uint8Array) => Buffer.from(s).toString("hex");

// ---------------------------------------------------------------- callouts and VM configuration

const CALLOUTS = "tests/fixtures/filters/api-ctx-callouts.ts";

test("api-ctx-callouts: the HTTP call's response headers and trailers are read, as text and as exact bytes", async () => {
  const host = await startFilter(CALLOUTS);
  const http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/call"], [":authority", "a"]], true);
  assert.equal(http.request.paused, true);
  const call: HttpCallout = host.httpCalls[0];
  assert.equal(call.upstream, "svc");
  const bin = Buffer.from([0x41, 0xff, 0x42]); // invalid UTF-8
  call.respond({
    headers: [[":status", "201"], ["x-a", "one"], ["x-bin", bin]],
    body: "ignored",
    trailers: [["t1", "tv"], ["t-bin", Buffer.from([0xc3, 0x28])]],
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
  http.requestHeaders([[":method", "GET"], [":path", "/grpc-stream"], [":authority", "a"]], true);
  const s: GrpcCallout = host.grpcCalls[0];
  assert.equal(s.kind, "stream");
  assert.deepEqual([s.upstream, s.service, s.method], ["grpcsvc", "test.Svc", "Watch"]);
  s.receiveInitialMetadata([["k1", Buffer.from([0xfe, 0x01])], ["k0", "zero"]]);
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
  http.requestHeaders([[":method", "GET"], [":path", "/grpc-cancel"], [":authority", "a"]], true);
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
  for (const [vmConfig, expected] of [[Buffer.from([0x7b, 0x00, 0xff]), "7b00ff"], [undefined, ""]] as const) {
    const host = await startFilter(CALLOUTS, vmConfig === undefined ? {} : { vmConfig });
    const http = host.httpStream();
    http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
    http.responseHeaders([[":status", "200"]], true);
    assert.equal(http.response.header("x-vm-config"), expected);
  }
});

// ---------------------------------------------------------------- HttpContext

const HTTP = "tests/fixtures/filters/api-ctx-http.ts";

test("api-ctx-http: request header bytes are added and replaced exactly; scheme() reads :scheme", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"], [":scheme", "https"], ["x-replace", "old"]], true);
  assert.deepEqual(http.request.headerBytes("x-added"), Buffer.from([0x61, 0xff]));
  assert.deepEqual(http.request.headerValues("x-replace"), ["new"]);
  assert.equal(http.request.header("x-scheme"), "[https]");

  http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
  assert.equal(http.request.header("x-scheme"), "[]", "scheme() is empty without :scheme");
  assert.deepEqual(http.request.headerValues("x-replace"), ["new"], "replacing a missing header adds it, as Envoy's setCopy does");
});

test("api-ctx-http: setHttpRequestTrailers and setHttpRequestTrailersBytes replace all the trailers", async () => {
  const host = await startFilter(HTTP);
  const run = (mode: string) => {
    const http = host.httpStream();
    http.requestHeaders([[":method", "POST"], [":path", "/"], [":authority", "a"]], false);
    http.requestBody("x", false);
    http.requestTrailers([["mode", mode], ["other", "o"]]);
    return http;
  };
  assert.deepEqual(run("set").request.trailers, [["only", "text"], ["two", "2"]]);
  assert.deepEqual(run("set-bytes").request.trailers, [["only-bytes", "é!"]]); // bytes c3 a9 21
  assert.deepEqual(run("keep").request.trailers, [["mode", "keep"], ["other", "o"]]);
});

test("api-ctx-http: response headers are read, added and replaced as bytes, or set whole", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
  http.responseHeaders([[":status", "200"], ["server", "envoy"], ["x-bin", Buffer.from([0x41, 0x80])]], true);
  assert.equal(http.response.header("x-resp-seen"), ":status=200;server=envoy;x-bin=A\uFFFD");
  assert.equal(http.response.header("x-resp-bin"), "4180|null");
  assert.deepEqual(http.response.headerBytes("x-added"), Buffer.from([0xfe]));
  assert.deepEqual(http.response.headerValues("server"), ["wasm"]);

  http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
  http.responseHeaders([[":status", "200"], ["x-set-all", "1"], ["server", "envoy"]], true);
  assert.deepEqual(http.response.headers.map(([k]) => k), [":status", "x-only"]);
  assert.equal(http.response.header(":status"), "202");
  assert.deepEqual(http.response.headerBytes("x-only"), Buffer.from([0xfe, 0x41]));
});

test("api-ctx-http: resumeHttpResponse lets a paused response go on once a callout answers", async () => {
  const host = await startFilter(HTTP);
  const http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"]], true);
  assert.equal(http.responseHeaders([[":status", "200"], ["x-hold", "1"]], false), 1 /* Pause */);
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
  http.requestHeaders([[":method", "GET"], [":path", "/reset"], [":authority", "a"]], false);
  assert.equal(http.resetReason, "wasm_close_stream");
  assert.equal(http.sentHttpResponse, null);
});

test("api-ctx-http: sendHttpResponseBytes answers with exact header and body bytes; a null body is empty", async () => {
  const host = await startFilter(HTTP);
  let http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/bytes"], [":authority", "a"]], true);
  const r = http.sentHttpResponse;
  assert.ok(r);
  assert.equal(r.status, 418);
  assert.deepEqual(r.headerBytes.map(([k, v]) => [k.toString(), hex(v)]), [["x-b", "ff"]]);
  assert.deepEqual(r.body, Buffer.from([0, 1, 2]));
  assert.equal(r.grpcStatus, -1);

  http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/bytes-null"], [":authority", "a"]], true);
  assert.equal(http.sentHttpResponse?.status, 204);
  assert.equal(http.sentHttpResponse?.body.length, 0);
  assert.deepEqual(http.sentHttpResponse?.headers, []);
});

test("api-ctx-http: sendGrpcResponse answers HTTP 200 with the gRPC status, message and metadata", async () => {
  const host = await startFilter(HTTP);
  const http = host.httpStream();
  http.requestHeaders([[":method", "POST"], [":path", "/grpc"], [":authority", "a"], ["content-type", "application/grpc"]], true);
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
  assert.deepEqual(host.logMessages().filter((m) => m.startsWith("setDownstreamData")), ["setDownstreamData: 0", "setDownstreamData: 0"]);
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
  assert.deepEqual(host.logMessages().filter((m) => m.startsWith("close")), ["closeDownstream: 0", "closeUpstream: 0"]);
});

// ---------------------------------------------------------------- properties

const PROPS = "tests/fixtures/filters/api-ctx-props.ts";

test("api-ctx-props: the typed property getters decode Envoy's encodings (strings raw, integers 8 bytes LE)", async () => {
  const host = await startFilter(PROPS);
  const before = BigInt(Date.now()) * 1_000_000n;
  const http = host.httpStream({
    properties: {
      "connection.requested_server_name": "sni.example",
      "upstream.address": "10.0.0.9:8080",
      "xds.route_name": "route-1",
      "xds.cluster_name": "cluster-1",
      "xds.listener_direction": 1, // INBOUND
      "destination.port": 8443,
      "request.duration": 1_234_567_890_123n,
    },
  });
  const after = BigInt(Date.now()) * 1_000_000n;
  http.requestHeaders([[":method", "GET"], [":path", "/a/b?x=1&y=2"], [":authority", "a"], [":scheme", "https"], ["user-agent", "curl/8"]], true);
  const h = (n: string) => http.request.header(`x-p-${n}`);
  assert.equal(h("url-path"), "/a/b");
  assert.equal(h("scheme"), "https");
  assert.equal(h("query"), "x=1&y=2");
  assert.equal(h("user-agent"), "curl/8");
  const time = BigInt(h("time") ?? "-1");
  assert.ok(time >= before - 1_000_000n && time <= after + 1_000_000n, `request.time ${time} is the stream's creation time`);
  assert.equal(h("destination-port"), "8443");
  assert.equal(h("sni"), "sni.example");
  assert.equal(h("upstream-address"), "10.0.0.9:8080");
  assert.equal(h("route"), "route-1");
  assert.equal(h("cluster"), "cluster-1");
  assert.equal(h("direction"), "1");
  assert.equal(h("code-details"), "null", "no response yet");
  http.responseHeaders([[":status", "200"]], true);
  http.complete();
  assert.ok(host.logMessages().includes("log: details=via_upstream duration=1234567890123"), host.logMessages().join("\n"));
});

test("api-ctx-props: missing properties are null or -1, also in onLog when there was no response", async () => {
  const host = await startFilter(PROPS);
  const http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":path", "/plain"], [":authority", "a"]], true);
  const h = (n: string) => http.request.header(`x-p-${n}`);
  assert.equal(h("query"), "", "a path without ? has an empty query");
  assert.equal(h("scheme"), "null");
  assert.equal(h("user-agent"), "null");
  assert.equal(h("destination-port"), "10000", "the host's default destination");
  for (const n of ["sni", "upstream-address", "route", "cluster"]) assert.equal(h(n), "null", n);
  assert.equal(h("direction"), "-1");
  http.complete();
  assert.ok(host.logMessages().includes("log: details=null duration=-1"), host.logMessages().join("\n"));
});

// ---------------------------------------------------------------- JSON and protobuf numbers

const CODEC = "tests/fixtures/filters/api-ctx-codec.ts";

/** The IEEE-754 bits of a double, as the filter prints them. */
function bits64(x: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.readBigUInt64LE().toString();
}
function bits32(x: number): string {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return String(b.readUInt32LE());
}

test("api-ctx-codec: JsonValue.asNumber returns the exact double, or the default for a non-number", async () => {
  const host = await startFilter(CODEC);
  const http = host.httpStream();
  const doc = '{"int":42,"exp":1.5e3,"tenth":0.1,"neg":-2.5e-310,"big":12345678901234567890,"s":"7","n":null}';
  http.requestHeaders([[":method", "GET"], [":path", "/"], [":authority", "a"], ["x-json", doc]], true);
  const expected = [
    `int=${bits64(42)}`,
    `exp=${bits64(1500)}`,
    `tenth=${bits64(0.1)}`,
    `neg=${bits64(-2.5e-310)}`, // a subnormal
    `big=${bits64(12345678901234567890)}`,
    "s=missing",
    "n=missing",
    `built=${bits64(0.1)}`,
  ];
  assert.equal(http.request.header("x-json-number"), expected.join(";"));
});

test("api-ctx-codec: ProtoReader reads double, float and fixed fields; ProtoWriter writes double and float", async () => {
  const host = await startFilter(CODEC);
  const d = Math.PI;
  const f = Math.fround(1.1);
  const fixed64 = 0xfedcba9876543210n;
  const fixed32 = 0xdeadbeef;
  const msg = Buffer.concat([
    Buffer.from([0x09]), bits64Bytes(d), // field 1, fixed64 (double)
    Buffer.from([0x15]), float32Bytes(f), // field 2, fixed32 (float)
    Buffer.from([0x19]), u64Bytes(fixed64), // field 3, fixed64
    Buffer.from([0x25]), u32Bytes(fixed32), // field 4, fixed32
    Buffer.from([0x28, 0x07]), // field 5, varint 7
  ]);
  const http = host.httpStream();
  http.requestHeaders([[":method", "POST"], [":path", "/"], [":authority", "a"]], false);
  http.requestBody(msg, true);
  const r = http.sentHttpResponse;
  assert.ok(r, host.logMessages().join("\n"));
  // Each accessor gives the value for its own wire type and 0 for the others.
  const dBits = bits64(d);
  const fBits = bits32(f);
  assert.equal(r.headers.find(([k]) => k === "x-proto")?.[1], [
    `1:1:d=${dBits},f=0,x=${dBits}`,
    `2:5:d=0,f=${fBits},x=${fBits}`,
    `3:1:d=${fixed64},f=0,x=${fixed64}`,
    `4:5:d=0,f=${fixed32},x=${fixed32}`,
    "5:0:d=0,f=0,x=0",
  ].join(";") + ";");
  // double(1, pi) float(2, 1.1f) double(3, -0.0) float(6, -1.5); zeros (fields 4 and 5) are skipped, -0.0 is not.
  assert.equal(hex(r.body), hex(Buffer.concat([
    Buffer.from([0x09]), bits64Bytes(d),
    Buffer.from([0x15]), float32Bytes(f),
    Buffer.from([0x19]), bits64Bytes(-0),
    Buffer.from([0x35]), float32Bytes(-1.5),
  ])));
});

function bits64Bytes(x: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b;
}
function float32Bytes(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b;
}
function u64Bytes(x: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(x);
  return b;
}
function u32Bytes(x: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(x);
  return b;
}
