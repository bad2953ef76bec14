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
