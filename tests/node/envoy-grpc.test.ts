// Real gRPC callouts under `proxy-wasm-as envoy`: examples/grpc-callout's envoy.yaml against a
// @grpc/grpc-js authorization server, a gRPC stream's metadata, messages and status, cancel and
// timeouts, over HTTP/2 sockets.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { request, run, stage, stageExample, type StagedConfig } from "./envoy-helpers.js";
import { built } from "./helpers.js";
import { copyFileSync } from "node:fs";
import path from "node:path";

const raw = {
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

/** The string fields of a protobuf message (field number -> value); enough for CheckRequest. */
function strings(buf: Buffer): Map<number, string> {
  const out = new Map<number, string>();
  for (let at = 0; at < buf.length; ) {
    const key = buf[at++];
    const len = buf[at++];
    if ((key & 7) === 2) out.set(key >> 3, buf.subarray(at, at + len).toString());
    at += len;
  }
  return out;
}

function checkResponse(subject: string): Buffer {
  return Buffer.concat([Buffer.from([0x0a, Buffer.byteLength(subject)]), Buffer.from(subject)]);
}

async function serve(port: number, service: grpc.ServiceDefinition, impl: grpc.UntypedServiceImplementation): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(service, impl);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return server;
}

const AUTHZ: grpc.ServiceDefinition = {
  Check: { path: "/authz.v1.Authorizer/Check", requestStream: false, responseStream: false, ...raw },
};

function authz(delayMs = 0): grpc.UntypedServiceImplementation {
  return {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const token = strings(call.request).get(1) ?? "";
      const answer = () => {
        if (!token) cb({ code: grpc.status.UNAUTHENTICATED, details: "missing token" });
        else if (token === "Bearer good") cb(null, checkResponse("demo-user"));
        else cb({ code: grpc.status.PERMISSION_DENIED, details: "unknown token" });
      };
      if (delayMs) setTimeout(answer, delayMs);
      else answer();
    },
  };
}

test("envoy grpc: examples/grpc-callout's envoy.yaml asks a real gRPC server and acts on its answer", async () => {
  const staged = await stageExample("grpc-callout");
  const server = await serve(staged.ports.get(50051)!, AUTHZ, authz());
  const e = await run(staged);
  try {
    const ok = await request(e.url(10000) + "/", { headers: { authorization: "Bearer good" } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "ok\n");
    assert.equal(ok.headers["x-seen-auth-subject"], "demo-user", "the subject from the gRPC response reached the upstream");
    const none = await request(e.url(10000) + "/");
    assert.equal(none.status, 403);
    assert.match(none.body, /access denied: missing token/);
    const bad = await request(e.url(10000) + "/", { headers: { authorization: "Bearer bad" } });
    assert.equal(bad.status, 403);
    assert.match(bad.body, /access denied: unknown token/);
    const prom = (await request(e.envoy.admin!.url + "/stats/prometheus")).body;
    assert.match(prom, /^grpc_callout_allowed 1$/m);
    assert.match(prom, /^grpc_callout_denied 2$/m);
  } finally {
    await e.envoy.close();
    server.forceShutdown();
  }
});

test("envoy grpc: a server slower than the call's timeout, and no server at all, fail the call", async () => {
  const staged = await stageExample("grpc-callout");
  const server = await serve(staged.ports.get(50051)!, AUTHZ, authz(1500));
  const e = await run(staged);
  try {
    const started = Date.now();
    const slow = await request(e.url(10000) + "/", { headers: { authorization: "Bearer good" } });
    assert.equal(slow.status, 503);
    assert.match(slow.body, /authorization service unavailable/);
    const took = Date.now() - started;
    assert.ok(took >= 450 && took < 1400, `the 500 ms timeout decided (${took} ms)`);
    server.forceShutdown();
    const down = await request(e.url(10000) + "/", { headers: { authorization: "Bearer good" } });
    assert.equal(down.status, 503);
  } finally {
    await e.envoy.close();
    server.forceShutdown();
  }
});

const STREAM_CONFIG = `
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
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes: [{match: {prefix: "/"}, direct_response: {status: 200}}]
              response_headers_to_add:
              - header: {key: x-events, value: "%REQ(x-grpc-event)%"}
              - header: {key: x-cancel, value: "%REQ(x-cancel)%"}
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                vm_config: {runtime: envoy.wasm.runtime.v8, code: {local: {filename: build/callouts.wasm}}}
          - name: envoy.filters.http.router
  clusters:
  - name: grpcsvc
    connect_timeout: 1s
    http2_protocol_options: {}
    load_assignment:
      cluster_name: grpcsvc
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: 2}}}}]}]
`;

test("envoy grpc: a stream gets initial metadata, messages, trailing metadata and the status; a cancel stops it", async () => {
  const staged: StagedConfig = await stage(STREAM_CONFIG, []);
  copyFileSync((await built("tests/fixtures/filters/api-ctx-callouts.ts")).outFile, path.join(staged.dir, "build", "callouts.wasm"));
  let cancelled = false;
  const service: grpc.ServiceDefinition = { Watch: { path: "/test.Svc/Watch", requestStream: true, responseStream: true, ...raw } };
  const server = await serve(staged.ports.get(2)!, service, {
    Watch: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const md = new grpc.Metadata();
      md.set("k1", "v1");
      call.sendMetadata(md);
      call.on("cancelled", () => (cancelled = true));
      call.write(Buffer.from([1, 2, 3, 4]));
      call.write(Buffer.from("hi"));
      const trailers = new grpc.Metadata();
      trailers.set("k2", "two");
      setTimeout(() => {
        if (!cancelled) call.end(trailers);
      }, 100);
    },
  });
  const e = await run(staged);
  try {
    const r = await request(e.url(1) + "/grpc-stream");
    assert.equal(r.status, 200);
    const events = String(r.headers["x-events"]).split(",");
    assert.match(events[0], /^initial:\d+:.*k1=7631/);
    assert.deepEqual(events.slice(1, 3), ["message:4:01020304:0203", "message:2:6869:69"]);
    assert.match(events[3], /^trailing:\d+:.*k2=74776f:74776f:null$/);
    assert.equal(events[4], "close:0");
    const c = await request(e.url(1) + "/grpc-cancel");
    assert.equal(c.headers["x-cancel"], "0,1", "cancel is Ok once, then NotFound");
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(cancelled, true, "the server saw the cancel");
  } finally {
    await e.envoy.close();
    server.forceShutdown();
  }
});
