// SDK API coverage, "ctx" part continued: test filters that call the typed property getters and the
// JSON/protobuf number methods, run in the host; each test checks the exact value or bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { hex, startFilter } from "./helpers.js";

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
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/a/b?x=1&y=2"],
      [":authority", "a"],
      [":scheme", "https"],
      ["user-agent", "curl/8"],
    ],
    true,
  );
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
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/plain"],
      [":authority", "a"],
    ],
    true,
  );
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
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
      ["x-json", doc],
    ],
    true,
  );
  const expected = [
    `int=${bits64(42)}`,
    `exp=${bits64(1500)}`,
    `tenth=${bits64(0.1)}`,
    `neg=${bits64(-2.5e-310)}`, // a subnormal
    `big=${bits64(Number("12345678901234567890"))}`, // rounds to the nearest double, as the filter must
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
    Buffer.from([0x09]),
    bits64Bytes(d), // field 1, fixed64 (double)
    Buffer.from([0x15]),
    float32Bytes(f), // field 2, fixed32 (float)
    Buffer.from([0x19]),
    u64Bytes(fixed64), // field 3, fixed64
    Buffer.from([0x25]),
    u32Bytes(fixed32), // field 4, fixed32
    Buffer.from([0x28, 0x07]), // field 5, varint 7
  ]);
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/"],
      [":authority", "a"],
    ],
    false,
  );
  http.requestBody(msg, true);
  const r = http.sentHttpResponse;
  assert.ok(r, host.logMessages().join("\n"));
  // Each accessor gives the value for its own wire type and 0 for the others.
  const dBits = bits64(d);
  const fBits = bits32(f);
  assert.equal(
    r.headers.find(([k]) => k === "x-proto")?.[1],
    [
      `1:1:d=${dBits},f=0,x=${dBits}`,
      `2:5:d=0,f=${fBits},x=${fBits}`,
      `3:1:d=${fixed64},f=0,x=${fixed64}`,
      `4:5:d=0,f=${fixed32},x=${fixed32}`,
      "5:0:d=0,f=0,x=0",
    ].join(";") + ";",
  );
  // double(1, pi) float(2, 1.1f) double(3, -0.0) float(6, -1.5); zeros (fields 4 and 5) are skipped, -0.0 is not.
  assert.equal(
    hex(r.body),
    hex(
      Buffer.concat([
        Buffer.from([0x09]),
        bits64Bytes(d),
        Buffer.from([0x15]),
        float32Bytes(f),
        Buffer.from([0x19]),
        bits64Bytes(-0),
        Buffer.from([0x35]),
        float32Bytes(-1.5),
      ]),
    ),
  );
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
