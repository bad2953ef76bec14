// Every example's envoy.yaml under `proxy-wasm-as envoy -c`, as it ships (only its ports moved), with
// the effect its README documents, over real sockets. (add-header and config-headers: envoy-http;
// grpc-callout: envoy-grpc.)
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import zlib from "node:zlib";
import { request, run, stageExample, type Started } from "./envoy-helpers.js";

async function withExample(name: string, body: (e: Started) => Promise<void>): Promise<void> {
  const e = await run(await stageExample(name));
  try {
    await body(e);
  } finally {
    await e.envoy.close();
  }
}

async function prometheus(e: Started): Promise<string> {
  return (await request(e.envoy.admin!.url + "/stats/prometheus")).body;
}

test("envoy examples: x-service-name answers from the filter's local reply path and tags responses", async () => {
  await withExample("x-service-name", async (e) => {
    const r = await request(e.url(10000) + "/");
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.ok(e.logs.some((l) => /x-service-name #\d+: Received request for: 127\.0\.0\.1:\d+ \//.test(l)));
  });
});

test("envoy examples: metrics are exported the way Envoy exports wasmcustom, with the configured stats_tags", async () => {
  await withExample("metrics", async (e) => {
    assert.equal((await request(e.url(10000) + "/")).status, 200);
    assert.equal((await request(e.url(10000) + "/missing", { method: "POST", body: "hello" })).status, 404);
    const prom = await prometheus(e);
    assert.match(prom, /^http_stats_requests\{method="GET",status_class="2xx"\} 1$/m);
    assert.match(prom, /^http_stats_requests\{method="POST",status_class="4xx"\} 1$/m);
    const stats = (await request(e.envoy.admin!.url + "/stats?filter=wasmcustom")).body;
    assert.match(stats, /^wasmcustom\.http_stats\.requests\.method\.GET\.class\.2xx: 1$/m);
  });
});

test("envoy examples: properties reroutes canary requests by the rewritten :authority and logs its filter state", async () => {
  await withExample("properties", async (e) => {
    const stable = await request(e.url(10000) + "/");
    assert.equal(stable.body, "stable\n");
    assert.match(String(stable.headers["x-seen-client-address"]), /^127\.0\.0\.1:\d+$/);
    const canary = await request(e.url(10000) + "/", { headers: { "x-canary": "1" } });
    assert.equal(canary.body, "canary\n");
    assert.equal(canary.headers["x-seen-forwarded-host"], `127.0.0.1:${e.staged.ports.get(10000)}`);
    assert.match(e.stdout[0], /^127\.0\.0\.1:\d+ 200 client=127\.0\.0\.1:\d+ mtls=false canary=-\n$/);
    assert.match(e.stdout[1], /^canary\.internal 200 client=127\.0\.0\.1:\d+ mtls=false canary=true\n$/);
  });
});

test("envoy examples: rate-limit answers 429 once the bucket is empty", async () => {
  await withExample("rate-limit", async (e) => {
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await request(e.url(10000) + "/", { headers: { "x-api-key": "k1" } })).status);
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
    assert.equal(statuses[6], 429);
    const other = await request(e.url(10000) + "/", { headers: { "x-api-key": "k2" } });
    assert.equal(other.status, 200, "another key has its own bucket");
  });
});

test("envoy examples: auth-callout asks the auth cluster over HTTP and passes the identity on", async () => {
  await withExample("auth-callout", async (e) => {
    const ok = await request(e.url(10000) + "/", { headers: { authorization: "Bearer good" } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers["x-seen-user"], "alice");
    const denied = await request(e.url(10000) + "/");
    assert.equal(denied.status, 403);
    assert.match(denied.body, /missing or bad token/);
  });
});

test("envoy examples: body-rewrite redacts the backend's secrets", async () => {
  await withExample("body-rewrite", async (e) => {
    const r = await request(e.url(10000) + "/");
    assert.equal(r.status, 200);
    assert.equal(r.body, '{"user": "ann", "password": "[redacted]", "card": "****-****-****-1111"}');
  });
});

test("envoy examples: foreign-function compresses with Envoy's compress foreign function", async () => {
  await withExample("foreign-function", async (e) => {
    const r = await request(e.url(10000) + "/", { headers: { "accept-encoding": "deflate" } });
    assert.equal(r.headers["content-encoding"], "deflate");
    const plain = await request(e.url(10000) + "/");
    assert.equal(plain.headers["content-encoding"], undefined);
    assert.match(plain.body, /^Lorem ipsum/);
    const raw = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(e.staged.ports.get(10000)!, "127.0.0.1", () =>
        s.end("GET / HTTP/1.1\r\nhost: x\r\naccept-encoding: deflate\r\nconnection: close\r\n\r\n"),
      );
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("close", () => resolve(Buffer.concat(chunks)));
      s.on("error", reject);
    });
    const sep = raw.indexOf("\r\n\r\n");
    const head = raw.subarray(0, sep).toString();
    let body = raw.subarray(sep + 4);
    if (/transfer-encoding: chunked/i.test(head)) {
      const parts: Buffer[] = [];
      for (let at = 0; ; ) {
        const eol = body.indexOf("\r\n", at);
        const n = parseInt(body.subarray(at, eol).toString(), 16);
        if (!n) break;
        parts.push(body.subarray(eol + 2, eol + 2 + n));
        at = eol + 2 + n + 2;
      }
      body = Buffer.concat(parts);
    }
    assert.equal(zlib.inflateSync(body).toString(), plain.body);
  });
});

test("envoy examples: shared-queue delivers every request summary to the bootstrap service's queue", async () => {
  await withExample("shared-queue", async (e) => {
    for (let i = 0; i < 3; i++) assert.equal((await request(e.url(10000) + "/")).status, 200);
    await new Promise((r) => setTimeout(r, 50));
    const prom = await prometheus(e);
    assert.match(prom, /^request_summary_requests 3$/m);
    assert.match(prom, /^request_summary_status_2xx 3$/m);
  });
});

test("envoy examples: tcp-logger logs each connection through tcp_proxy", async () => {
  await withExample("tcp-logger", async (e) => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = net.connect(e.staged.ports.get(10000)!, "127.0.0.1", () => s.end("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
      const chunks: Buffer[] = [];
      s.on("data", (c: Buffer) => chunks.push(c));
      s.on("close", () => resolve(Buffer.concat(chunks).toString()));
      s.on("error", reject);
    });
    assert.match(reply, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(reply, /\r\n\r\nok\n$/);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(e.logs.some((l) => /tcp-logger #\d+: tcp connection \d+ starts with 'GET \/ HTTP\/1\.1\\x0d\\x0a'/.test(l)));
    assert.ok(e.logs.some((l) => /46 bytes from client, \d+ bytes from upstream/.test(l)));
    const prom = await prometheus(e);
    assert.match(prom, /^tcp_logger_connections 1$/m);
    assert.match(prom, /^envoy_tcp_downstream_cx_total\{envoy_tcp_prefix="ingress_tcp"\} 1$/m);
  });
});
