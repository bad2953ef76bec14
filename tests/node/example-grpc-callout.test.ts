// examples/grpc-callout: a unary gRPC call per request with a hand-encoded protobuf message; the
// harness plays the authorization service (respond / close with a status and message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import path from "node:path";
import { parse } from "yaml";
import { createHost, Action, LogLevel, type Host, type HostOptions, type HttpStream } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

const CONFIG = { cluster: "authz", service: "authz.v1.Authorizer", method: "Check", timeout_ms: 500, token_header: "authorization" };

async function start(config: object | string = CONFIG, options: Partial<HostOptions> = {}): Promise<Host> {
  const { wasm } = await built("examples/grpc-callout/index.ts");
  const host = await createHost({
    wasm,
    pluginConfig: typeof config === "string" ? config : JSON.stringify(config),
    upstreams: ["authz"],
    ...options,
  });
  return host;
}

// ---- an independent protobuf reader/writer for the test side (strings and varints only) ----

function readVarint(b: Buffer, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= b.length) throw new Error("truncated varint");
    const byte = b[at++];
    v |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) return [v, at];
    shift += 7n;
  }
}

/** Field number -> string value, for a message of length-delimited fields only. */
function decodeStrings(b: Buffer): Record<number, string> {
  const out: Record<number, string> = {};
  let at = 0;
  while (at < b.length) {
    const [key, p] = readVarint(b, at);
    assert.equal(Number(key & 7n), 2, "wire type 2 (length-delimited)");
    const [len, q] = readVarint(b, p);
    out[Number(key >> 3n)] = b.subarray(q, q + Number(len)).toString("utf8");
    at = q + Number(len);
  }
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function encodeString(field: number, s: string): Buffer {
  const data = Buffer.from(s, "utf8");
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(data.length)]), data]);
}

function request(host: Host, extra: Array<[string, string]> = []): { http: HttpStream; action: number } {
  const http = host.httpStream();
  const action = http.requestHeaders([[":method", "GET"], [":path", "/orders?id=7"], [":authority", "shop.example.com"], ...extra], true);
  return { http, action };
}

const metric = (host: Host, name: string) => host.metric(name)?.value ?? 0;

test("grpc-callout: pauses the request, calls the service with a protobuf CheckRequest and metadata, resumes on OK", async () => {
  const host = await start();
  assert.equal(host.startPlugin(), true);
  const { http, action } = request(host, [
    ["authorization", "Bearer good"],
    ["x-request-id", "req-1"],
    ["x-auth-subject", "spoofed"],
  ]);
  assert.equal(action, Action.Pause);
  assert.equal(http.request.paused, true);
  assert.equal(http.request.header("x-auth-subject"), undefined, "a client-sent subject is removed");
  assert.equal(host.grpcCalls.length, 1);
  const call = host.grpcCalls[0];
  assert.equal(call.kind, "call");
  assert.equal(call.upstream, "authz");
  assert.equal(call.service, "authz.v1.Authorizer");
  assert.equal(call.method, "Check");
  assert.equal(call.timeoutMs, 500);
  assert.deepEqual(call.metadata, [["x-request-id", "req-1"]]);
  assert.deepEqual(decodeStrings(call.message!), { 1: "Bearer good", 2: "GET", 3: "/orders?id=7", 4: "shop.example.com" });

  call.respond(encodeString(1, "alice"));
  assert.equal(http.request.paused, false, "the filter resumed the request");
  assert.equal(http.sentHttpResponse, null);
  assert.equal(http.request.header("x-auth-subject"), "alice");
  assert.equal(metric(host, "grpc_callout.allowed"), 1);
  assert.equal(http.responseHeaders([[":status", "200"]], true), Action.Continue);
  http.complete();
  assert.deepEqual(host.failures, []);
});

test("grpc-callout: an empty CheckResponse allows without a subject; unknown fields are skipped", async () => {
  const host = await start();
  const a = request(host, [["x-auth-subject", "spoofed"]]);
  // No token header: the field is omitted (proto3 default), no metadata.
  assert.deepEqual(decodeStrings(host.grpcCalls[0].message!), { 2: "GET", 3: "/orders?id=7", 4: "shop.example.com" });
  assert.deepEqual(host.grpcCalls[0].metadata, []);
  host.grpcCalls[0].respond(Buffer.alloc(0));
  assert.equal(a.http.request.paused, false);
  assert.equal(a.http.request.header("x-auth-subject"), undefined);

  const b = request(host);
  // field 2 varint 150, field 3 fixed64, field 1 "bob", field 9 fixed32: only field 1 matters.
  const response = Buffer.concat([
    Buffer.from([0x10, 0x96, 0x01]),
    Buffer.from([0x19, 1, 2, 3, 4, 5, 6, 7, 8]),
    encodeString(1, "bob"),
    Buffer.from([0x4d, 1, 2, 3, 4]),
  ]);
  host.grpcCalls[0].respond(response);
  assert.equal(b.http.request.header("x-auth-subject"), "bob");
});

test("grpc-callout: PERMISSION_DENIED and UNAUTHENTICATED become a local 403 with the gRPC message", async () => {
  const host = await start();
  for (const [code, message] of [
    [7, "token expired"],
    [16, "no credentials"],
  ] as const) {
    const { http } = request(host, [["authorization", "Bearer old"]]);
    host.grpcCalls[0].close(code, message);
    assert.equal(http.sentHttpResponse?.status, 403);
    assert.equal(http.sentHttpResponse?.body.toString(), `access denied: ${message}\n`);
    assert.equal(http.request.forwardedBody.length, 0);
    http.complete();
  }
  assert.equal(metric(host, "grpc_callout.denied"), 2);
  assert.equal(metric(host, "grpc_callout.allowed"), 0);
});

test("grpc-callout: other statuses fail closed with 503 and the status message", async () => {
  const host = await start();
  const { http } = request(host);
  host.grpcCalls[0].close(14, "no healthy upstream");
  assert.equal(http.sentHttpResponse?.status, 503);
  assert.equal(http.sentHttpResponse?.body.toString(), "authorization service unavailable: status 14: no healthy upstream\n");
  assert.deepEqual(host.logMessages(LogLevel.Warn), ["grpc-callout: authorization failed: status 14: no healthy upstream"]);

  const timeout = request(host);
  host.grpcCalls[0].close(4);
  assert.equal(timeout.http.sentHttpResponse?.body.toString(), "authorization service unavailable: status 4: gRPC status 4\n");
  assert.equal(metric(host, "grpc_callout.failed"), 2);
});

test("grpc-callout: fail_open lets the request through when the service fails, but never past a denial", async () => {
  const host = await start({ ...CONFIG, fail_open: true });
  const down = request(host);
  host.grpcCalls[0].close(14, "unavailable");
  assert.equal(down.http.sentHttpResponse, null);
  assert.equal(down.http.request.paused, false);
  assert.deepEqual(host.logMessages(LogLevel.Warn), [
    "grpc-callout: authorization failed: status 14: unavailable; letting the request through",
  ]);

  const no = request(host);
  host.grpcCalls[0].close(7, "nope");
  assert.equal(no.http.sentHttpResponse?.status, 403);
});

test("grpc-callout: a call the host refuses (unknown cluster) answers 503 at once, or continues with fail_open", async () => {
  const closed = await start({ ...CONFIG, cluster: "missing" });
  const a = request(closed);
  assert.equal(a.action, Action.Pause);
  assert.equal(closed.grpcCalls.length, 0);
  assert.equal(a.http.sentHttpResponse?.status, 503);
  // Envoy answers ParseFailure (4) for a cluster name it does not know.
  assert.equal(a.http.sentHttpResponse?.body.toString(), "authorization service unavailable: the call could not be made (status 4)\n");

  const open = await start({ ...CONFIG, cluster: "missing", fail_open: true });
  const b = request(open);
  assert.equal(b.action, Action.Continue);
  assert.equal(b.http.sentHttpResponse, null);
});

test("grpc-callout: a response that is not a valid message fails closed", async () => {
  const host = await start();
  const { http } = request(host);
  host.grpcCalls[0].respond(Buffer.from([0x0a, 0x05, 0x61])); // says 5 bytes, has 1
  assert.equal(http.sentHttpResponse?.status, 503);
  assert.equal(http.sentHttpResponse?.body.toString(), "authorization service unavailable: the response is not a CheckResponse\n");
});

test("grpc-callout: concurrent calls answered out of order reach the right streams", async () => {
  const host = await start();
  const first = request(host, [["authorization", "one"]]);
  const second = request(host, [["authorization", "two"]]);
  const [c1, c2] = host.grpcCalls;
  assert.equal(decodeStrings(c1.message!)[1], "one");
  assert.equal(decodeStrings(c2.message!)[1], "two");
  c2.respond(encodeString(1, "user-two"));
  assert.equal(first.http.request.paused, true);
  assert.equal(second.http.request.header("x-auth-subject"), "user-two");
  c1.close(7, "denied one");
  assert.equal(first.http.sentHttpResponse?.status, 403);
  assert.equal(second.http.sentHttpResponse, null);
});

test("grpc-callout: strings of any length and non-ASCII text are encoded as protobuf expects", async () => {
  const host = await start();
  for (const token of ["x".repeat(50), "y".repeat(200), "Bearer ünïcødé ✓", "z".repeat(20000)]) {
    request(host, [["authorization", token]]);
    const call = host.grpcCalls[host.grpcCalls.length - 1];
    assert.equal(decodeStrings(call.message!)[1], token);
    call.respond(Buffer.alloc(0));
  }
});

test("grpc-callout: a client that leaves while the call is in flight cancels it; nothing leaks", async () => {
  const host = await start();
  const { http } = request(host);
  const call = host.grpcCalls[0];
  http.complete();
  assert.equal(call.cancelled, true);
  assert.equal(host.grpcCalls.length, 0);
  // Many abandoned requests: the SDK forgets cancelled calls, so guest memory stays flat.
  const abandon = () => {
    const r = request(host, [["authorization", "t"]]);
    r.http.complete();
  };
  for (let i = 0; i < 3000; i++) abandon();
  const before = host.memoryBytes;
  for (let i = 0; i < 20000; i++) abandon();
  assert.equal(host.memoryBytes, before, "guest memory grew: cancelled calls are kept somewhere");
  assert.deepEqual(host.failures, []);
});

test("grpc-callout: bad configurations are rejected with the reason", async () => {
  const cases: Array<[string, string]> = [
    ["{}", "grpc-callout: 'cluster' is required: the Envoy cluster of the gRPC service"],
    ["", "grpc-callout: the configuration is not valid JSON: "],
    ['{"cluster": "authz", "timeout_ms": 0}', "grpc-callout: 'timeout_ms' must be a whole number of milliseconds from 1 to 60000"],
    ['{"cluster": "authz", "timeout_ms": "500"}', "grpc-callout: 'timeout_ms' must be a whole number of milliseconds from 1 to 60000"],
    ['{"cluster": "authz", "fail_open": "yes"}', "grpc-callout: 'fail_open' must be true or false, not string"],
    ['{"cluster": ["authz"]}', "grpc-callout: 'cluster' must be a string, not array"],
  ];
  for (const [config, message] of cases) {
    const host = await start(config);
    assert.equal(host.startPlugin(), false, config);
    const errors = host.logMessages(LogLevel.Error).filter((m) => m.startsWith("grpc-callout:"));
    assert.equal(errors.length, 1, `${config}: ${errors.join(" | ")}`);
    assert.ok(errors[0].startsWith(message), errors[0]);
  }
});

test("grpc-callout: envoy.yaml defines the gRPC cluster (HTTP/2) the configuration names; wasmplugin.yaml matches", async () => {
  const dir = path.join(repoRoot, "examples", "grpc-callout");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const hcm = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const filter = hcm.http_filters[0].typed_config.config;
  assert.equal(filter.vm_config.code.local.filename, "build/grpc-callout.wasm");
  const config = JSON.parse(filter.configuration.value);
  const cluster = envoy.static_resources.clusters.find((c: { name: string }) => c.name === config.cluster);
  assert.ok(cluster, `envoy.yaml has the cluster ${config.cluster}`);
  const options = cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
  assert.ok(options.explicit_http_config.http2_protocol_options !== undefined, "gRPC needs HTTP/2 to the cluster");
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.spec.pluginName, filter.root_id);
  for (const c of [config, plugin.spec.pluginConfig]) {
    const host = await start(c, { upstreams: [c.cluster] });
    assert.equal(host.startPlugin(), true);
    request(host);
    assert.equal(host.grpcCalls[0].upstream, c.cluster);
    assert.equal(`${host.grpcCalls[0].service}/${host.grpcCalls[0].method}`, "authz.v1.Authorizer/Check");
  }
});

// ---- against the example's stand-in gRPC server (real HTTP/2 on 127.0.0.1) ----

async function startServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(process.execPath, [path.join(repoRoot, "examples", "grpc-callout", "authz-server.mjs"), "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`authz-server exited with ${code}`)));
  });
  return { port, stop: () => child.kill() };
}

/** Sends a unary gRPC request; returns the grpc-status, grpc-message and response message. */
function grpcUnary(
  port: number,
  pathName: string,
  message: Buffer,
  metadata: Array<[string, string]>,
): Promise<{ status: number; message: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://127.0.0.1:${port}`);
    client.on("error", reject);
    const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": pathName, "content-type": "application/grpc", te: "trailers" };
    for (const [k, v] of metadata) headers[k] = v;
    const req = client.request(headers);
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let grpcMessage = "";
    req.on("response", (h) => {
      if (h["grpc-status"] !== undefined) (status = String(h["grpc-status"])), (grpcMessage = String(h["grpc-message"] ?? ""));
    });
    req.on("trailers", (t) => {
      status = String(t["grpc-status"]);
      grpcMessage = String(t["grpc-message"] ?? "");
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      client.close();
      const body = Buffer.concat(chunks);
      resolve({
        status: Number(status),
        message: decodeURIComponent(grpcMessage),
        body: body.length >= 5 ? body.subarray(5, 5 + body.readUInt32BE(1)) : body,
      });
    });
    const head = Buffer.alloc(5);
    head.writeUInt32BE(message.length, 1);
    req.end(Buffer.concat([head, message]));
  });
}

test("grpc-callout: the filter's CheckRequest is understood by a real gRPC server, and its answers drive the filter", async () => {
  const server = await startServer();
  try {
    const host = await start();
    const cases: Array<[Array<[string, string]>, (http: HttpStream) => void]> = [
      [
        [["authorization", "Bearer good"]],
        (http) => {
          assert.equal(http.request.paused, false);
          assert.equal(http.request.header("x-auth-subject"), "demo-user");
        },
      ],
      [[], (http) => assert.equal(http.sentHttpResponse?.body.toString(), "access denied: missing token\n")],
      [
        [["authorization", "Bearer stolen"]],
        (http) => assert.equal(http.sentHttpResponse?.body.toString(), "access denied: unknown token\n"),
      ],
    ];
    for (const [headers, check] of cases) {
      const { http } = request(host, [...headers, ["x-request-id", "r-1"]]);
      const call = host.grpcCalls[0];
      const answer = await grpcUnary(server.port, `/${call.service}/${call.method}`, call.message!, call.metadata);
      if (answer.status === 0) call.respond(answer.body);
      else call.close(answer.status, answer.message);
      check(http);
    }
  } finally {
    server.stop();
  }
});

// ---- the SDK's ProtoWriter / ProtoReader on every wire type, checked byte by byte ----

const PROTO_PROGRAM = `
import { Action, HeaderBytes, HttpContext, ProtoReader, ProtoWriter, encodeUtf8, setHttpContext } from "proxy-wasm-as";

class ProtoTest extends HttpContext {
  onHttpRequestBody(size: u32, end: bool): Action {
    if (!end) return Action.Pause;
    const input = this.getHttpRequestBody(0, size)!;
    if (input.byteLength == 0) {
      const inner = new ProtoWriter().string(1, "in");
      const msg = new ProtoWriter()
        .uint64(1, 150).int64(2, -1).sint64(3, -2).bool(4, true).fixed64(5, 0x0102030405060708)
        .double(6, 1.5).fixed32(7, 7).float(8, 2.5).bytes(9, new ArrayBuffer(0)).message(10, inner)
        .string(11, "\\u00e9").uint64(12, 0).string(13, "").bool(14, false)
        .finish();
      this.sendHttpResponseBytes(200, [], msg);
      return Action.Pause;
    }
    const r = new ProtoReader(input);
    let out = "";
    while (r.next()) {
      const f = r.field;
      let v = "";
      if (f == 1) v = r.uint64().toString();
      else if (f == 2) v = r.int64().toString();
      else if (f == 3) v = r.sint64().toString();
      else if (f == 4) v = r.bool() ? "true" : "false";
      else if (f == 5) v = r.fixed().toString();
      else if (f == 6) v = r.double().toString();
      else if (f == 7) v = r.fixed().toString();
      else if (f == 8) v = r.float().toString();
      else if (f == 9) v = r.bytes().byteLength.toString();
      else if (f == 10) { const m = r.message(); v = m.next() ? m.string() : "?"; }
      else v = r.string() + "/" + r.uint64().toString();
      out += f.toString() + ":" + (<i32>r.wireType).toString() + "=" + v + ";";
    }
    if (r.malformed) out += "malformed";
    this.sendHttpResponseBytes(200, [new HeaderBytes(encodeUtf8("x-read"), encodeUtf8(out))], null);
    return Action.Pause;
  }
}
setHttpContext((id: u32, root: u32): HttpContext => new ProtoTest(id));
`;

test("ProtoWriter writes every wire type as protobuf does; ProtoReader reads them back and stops on malformed input", async () => {
  const dir = path.join(repoRoot, ".tmp", "proto-roundtrip");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "index.ts"), PROTO_PROGRAM);
  const { wasm } = await built(".tmp/proto-roundtrip/index.ts");
  const host = await createHost({ wasm });
  const run = (body: Buffer) => {
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "POST"],
        [":path", "/"],
        [":authority", "a"],
      ],
      false,
    );
    http.requestBody(body, true);
    return http.sentHttpResponse!;
  };
  const written = run(Buffer.alloc(0)).body;
  const f64 = Buffer.alloc(8);
  f64.writeDoubleLE(1.5);
  const f32 = Buffer.alloc(4);
  f32.writeFloatLE(2.5);
  // Expected bytes, field by field (protobuf encoding spec); zero / false / "" fields are skipped.
  const expected = Buffer.concat([
    Buffer.from([0x08, 0x96, 0x01]),
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    Buffer.from([0x18, 0x03]),
    Buffer.from([0x20, 0x01]),
    Buffer.from([0x29, 8, 7, 6, 5, 4, 3, 2, 1]),
    Buffer.from([0x31]),
    f64,
    Buffer.from([0x3d, 7, 0, 0, 0]),
    Buffer.from([0x45]),
    f32,
    Buffer.from([0x4a, 0x00]),
    Buffer.from([0x52, 0x04, 0x0a, 0x02, 0x69, 0x6e]),
    Buffer.from([0x5a, 0x02, 0xc3, 0xa9]),
  ]);
  assert.equal(written.toString("hex"), expected.toString("hex"));

  const read = (body: Buffer) => run(body).headers.find(([k]) => k === "x-read")?.[1];
  assert.equal(read(written), "1:0=150;2:0=-1;3:0=-2;4:0=true;5:1=72623859790382856;6:1=1.5;7:5=7;8:5=2.5;9:2=0;10:2=in;11:2=é/0;");
  // Malformed: truncated varint, wire type 3 (groups), a length past the end, field number 0.
  assert.equal(read(Buffer.from([0x08, 0x96])), "malformed");
  assert.equal(read(Buffer.from([0x08, 0x01, 0x1b])), "1:0=1;malformed");
  assert.equal(read(Buffer.from([0x0a, 0x05, 0x61])), "malformed");
  assert.equal(read(Buffer.from([0x00, 0x01])), "malformed");
  assert.equal(read(Buffer.from([0x09, 1, 2, 3])), "malformed", "fixed64 needs 8 bytes");
  assert.deepEqual(host.failures, []);
});
