// Every HTTP example behind `proxy-wasm-as run` (the programmatic startProxy), over real sockets: a
// real upstream and the clusters it calls are started here on 127.0.0.1 (ephemeral ports), and the
// filter gets the root_id, vm_id and plugin configuration of its envoy.yaml. tcp-logger is a network
// filter, which `run` (an HTTP proxy) cannot serve; it has its own host test.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { parse } from "yaml";
import { startProxy, type RunningProxy } from "../../src/run/index.js";
import { built, repoRoot } from "./helpers.js";

const examplesDir = path.join(repoRoot, "examples");
const HTTP_WASM = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/** Examples that are not HTTP filters, so `run` cannot serve them. */
const NOT_HTTP = new Set(["tcp-logger"]);

interface HttpWasmConfig {
  root_id?: string;
  configuration?: { value?: string };
  vm_config?: { vm_id?: string };
}

/** The HTTP Wasm filter of an example's envoy.yaml (exactly one per example). */
function httpFilterConfig(name: string): HttpWasmConfig {
  const found: HttpWasmConfig[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (o["@type"] === HTTP_WASM) found.push(o.config as HttpWasmConfig);
      Object.values(o).forEach(walk);
    }
  };
  walk(parse(readFileSync(path.join(examplesDir, name, "envoy.yaml"), "utf8")));
  assert.equal(found.length, 1, `examples/${name}/envoy.yaml should have one HTTP Wasm filter`);
  return found[0];
}

// ---- A real upstream: echoes what it received, or answers as the path asks. ----

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Server {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

async function serve(handler: (req: Received, res: http.ServerResponse) => void): Promise<Server> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      received.push(r);
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Text long enough for foreign-function's min_bytes (256). */
const LONG_TEXT = "proxy-wasm-as serves this text unchanged. ".repeat(20);
/** A JSON answer holding secrets, sent in pieces that split the secrets across chunks. */
const SECRET_CHUNKS = [
  '{"user": "ann", "pass',
  'word": "hunter2", "card_number": "4111-11',
  '11-1111-1234", "note": "card 4111-1111-',
  '1111-9876 ok"}',
];

function upstreamHandler(req: Received, res: http.ServerResponse): void {
  if (req.url === "/secrets") {
    // Chunked (no content-length), one write per piece with a turn between them.
    res.writeHead(200, { "content-type": "application/json", server: "upstream" });
    let i = 0;
    const next = () => {
      if (i < SECRET_CHUNKS.length) {
        res.write(SECRET_CHUNKS[i++]);
        setTimeout(next, 5);
      } else res.end();
    };
    next();
    return;
  }
  if (req.url === "/text") {
    res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(LONG_TEXT), etag: '"v1"' });
    res.end(LONG_TEXT);
    return;
  }
  const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: req.body });
  res.writeHead(200, { "content-type": "application/echo", server: "upstream", "x-upstream": "yes" });
  res.end(body);
}

// ---- A client over a real socket (no keep-alive, so close() has nothing to drain). ----

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: string[] } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url + (options.path ?? "/"),
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    const parts = options.body ?? [];
    // Several writes without content-length: the request body goes chunked.
    let i = 0;
    const next = () => {
      if (i < parts.length) {
        req.write(parts[i++]);
        setTimeout(next, 5);
      } else req.end();
    };
    next();
  });
}

/** Waits (up to 5 s, polling) for something the proxy does after the client has its answer. */
async function until(done: () => boolean, why: () => string): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(done(), why());
}

const echoed = (a: Answer): Received => JSON.parse(a.body) as Received;

// ---- One proxy per example. ----

let upstream: Server;
const proxies: RunningProxy[] = [];
const logs = new Map<string, string[]>();

async function run(name: string, clusters: Record<string, string> = {}): Promise<RunningProxy> {
  const c = httpFilterConfig(name);
  const { wasm } = await built(`examples/${name}/index.ts`);
  const lines: string[] = [];
  logs.set(name, lines);
  const proxy = await startProxy({
    filter: wasm,
    upstream: upstream.url,
    listen: "127.0.0.1:0",
    rootId: c.root_id ?? "",
    vmId: c.vm_config?.vm_id ?? "",
    config: c.configuration?.value ?? "",
    clusters,
    timeout: "5s",
    log: (line) => lines.push(line),
    color: false,
    drainTimeoutMs: 200,
  });
  proxies.push(proxy);
  return proxy;
}

before(async () => {
  upstream = await serve(upstreamHandler);
});

after(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await upstream.close();
});

const tested = new Set<string>();
function exampleTest(name: string, fn: () => Promise<void>): void {
  tested.add(name);
  test(`${name} behind run`, fn);
}

test("every HTTP example has a run test here", () => {
  const all = readdirSync(examplesDir).filter((n) => existsSync(path.join(examplesDir, n, "index.ts")) && !NOT_HTTP.has(n));
  assert.ok(all.length >= 10, all.join(","));
  assert.deepEqual(
    all.filter((n) => !tested.has(n)),
    [],
    "examples without a run test",
  );
});

exampleTest("add-header", async () => {
  const proxy = await run("add-header");
  const a = await request(proxy.url, { path: "/hi" });
  assert.equal(a.status, 200);
  assert.equal(a.headers["x-service-name"], "my-custom-service");
  assert.equal(a.headers["x-upstream"], "yes", "the upstream's own headers stay");
  assert.equal(echoed(a).url, "/hi");
});

exampleTest("x-service-name", async () => {
  const proxy = await run("x-service-name");
  const before = upstream.received.length;
  const a = await request(proxy.url, { path: "/anything", headers: { host: "svc.local" } });
  assert.equal(a.status, 200);
  assert.equal(a.headers["x-service-name"], "my-custom-service");
  assert.equal(a.body, "Hello from Wasm!\n");
  assert.equal(upstream.received.length, before, "a local reply never reaches the upstream");
  assert.ok(
    logs.get("x-service-name")!.some((l) => l.includes("Received request for: svc.local /anything")),
    logs.get("x-service-name")!.join("\n"),
  );
});

exampleTest("config-headers", async () => {
  const proxy = await run("config-headers");
  const a = await request(proxy.url, { headers: { "x-debug": "1", "x-env": "dev", "x-via": "client" } });
  assert.equal(a.status, 200);
  const seen = echoed(a).headers;
  assert.equal(seen["x-debug"], undefined, "request.remove");
  assert.equal(seen["x-env"], "prod", "request.set replaces");
  assert.equal(seen["x-via"], "client, wasm", "request.add appends");
  assert.equal(a.headers.server, undefined, "response.remove");
  assert.equal(a.headers["cache-control"], "no-store");
  assert.equal(a.headers["x-filtered-by"], "config-headers");
});

exampleTest("auth-callout", async () => {
  const auth = await serve((req, res) => {
    if (req.headers.authorization === "Bearer good") {
      res.writeHead(200, { "x-user": "ann" });
      res.end();
    } else {
      res.writeHead(401, { "x-auth-reason": "unknown token" });
      res.end("no");
    }
  });
  try {
    const proxy = await run("auth-callout", { auth: auth.url });
    const before = upstream.received.length;
    const ok = await request(proxy.url, { path: "/orders?id=1", headers: { authorization: "Bearer good", "x-user": "mallory" } });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(echoed(ok).headers["x-user"], "ann", "the identity comes from the auth answer, not the client");
    const call = auth.received[0];
    assert.equal(call.method, "GET");
    assert.equal(call.url, "/check");
    assert.equal(call.headers.host, "auth.internal");
    assert.equal(call.headers["x-original-uri"], "/orders?id=1");
    assert.equal(call.headers["x-original-method"], "GET");

    const denied = await request(proxy.url, { headers: { authorization: "Bearer bad" } });
    assert.equal(denied.status, 403);
    assert.equal(denied.body, "access denied: unknown token\n");
    assert.equal(upstream.received.length, before + 1, "the denied request never reached the upstream");
    assert.equal(auth.received.length, 2);
  } finally {
    await auth.close();
  }
});

exampleTest("body-rewrite", async () => {
  const proxy = await run("body-rewrite");
  // Request: a chunked JSON body in pieces, the secret split across them.
  const sent = ['{"name": "ann", "pass', 'word": "s3cret", "card_number"', ': "4111111111114321"}'];
  const a = await request(proxy.url, { method: "POST", path: "/signup", headers: { "content-type": "application/json" }, body: sent });
  assert.equal(a.status, 200);
  const got = echoed(a);
  assert.equal(got.headers["transfer-encoding"], "chunked");
  assert.equal(got.body, '{"name": "ann", "password": "[redacted]", "card_number": "[redacted]"}');
  // Response: chunked JSON from the upstream, rewritten once whole.
  const r = await request(proxy.url, { path: "/secrets" });
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-length"], undefined);
  assert.equal(r.body, '{"user": "ann", "password": "[redacted]", "card_number": "[redacted]", "note": "card ****-****-****-9876 ok"}');
  // A body the filter does not rewrite passes untouched.
  const plain = await request(proxy.url, {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: ["4111-1111-1111-1234"],
  });
  assert.equal(echoed(plain).body, "4111-1111-1111-1234");
});

exampleTest("rate-limit", async () => {
  const proxy = await run("rate-limit"); // capacity 5, refill 2 per 1000 ms, key x-api-key
  const answers: Answer[] = [];
  // Ticks may refill between requests, so go on until the bucket empties (bounded).
  for (let i = 0; i < 40; i++) {
    const a = await request(proxy.url, { headers: { "x-api-key": "k1" } });
    answers.push(a);
    if (a.status === 429) break;
  }
  const limited = answers[answers.length - 1];
  assert.equal(limited.status, 429, `no 429 after ${answers.length} requests`);
  assert.ok(answers.length >= 6, "the first 5 requests (the capacity) pass");
  assert.ok(answers.slice(0, -1).every((a) => a.status === 200));
  assert.match(String(limited.headers["retry-after"]), /^[1-9]\d*$/);
  assert.equal(limited.body, "rate limit exceeded\n");
  // Another key has its own bucket.
  assert.equal((await request(proxy.url, { headers: { "x-api-key": "k2" } })).status, 200);
});

exampleTest("properties", async () => {
  const proxy = await run("properties"); // canary x-canary: 1 -> canary.internal
  const a = await request(proxy.url, { headers: { host: "shop.local", "x-client-address": "6.6.6.6:1" } });
  assert.equal(a.status, 200);
  const seen = echoed(a).headers;
  assert.match(String(seen["x-client-address"]), /^127\.0\.0\.1:\d+$/, "from source.address, not the client's header");
  assert.equal(seen["x-client-address"], `127.0.0.1:${seen["x-client-port"]}`);
  assert.equal(seen["x-client-mtls"], "false");
  assert.match(String(seen["x-connection-id"]), /^\d+$/);
  assert.equal(seen.host, "shop.local");
  const canary = await request(proxy.url, { headers: { host: "shop.local", "x-canary": "1" } });
  assert.equal(echoed(canary).headers.host, "canary.internal");
  assert.equal(echoed(canary).headers["x-forwarded-host"], "shop.local");
  // onLog runs once the response has gone to the client: wait for its line (bounded).
  const lines = logs.get("properties")!;
  await until(
    () => lines.some((l) => / -> 200 \(\d+ bytes\) canary\s*$/.test(l)),
    () => `onLog did not log the canary request:\n${lines.join("")}`,
  );
});

exampleTest("metrics", async () => {
  // Metrics are not visible over HTTP; the filter must leave traffic unchanged.
  const proxy = await run("metrics");
  const a = await request(proxy.url, { method: "PUT", path: "/m", headers: { "x-a": "1" }, body: ["abc", "def"] });
  assert.equal(a.status, 200);
  const got = echoed(a);
  assert.equal(got.method, "PUT");
  assert.equal(got.url, "/m");
  assert.equal(got.body, "abcdef");
  assert.equal(got.headers["x-a"], "1");
  assert.equal(a.headers["x-upstream"], "yes");
  const t = await request(proxy.url, { path: "/text" });
  assert.equal(t.body, LONG_TEXT);
  assert.equal(t.headers["content-length"], String(Buffer.byteLength(LONG_TEXT)));
});

exampleTest("foreign-function", async () => {
  // run has no host function "compress": the filter falls back to passing responses uncompressed.
  const proxy = await run("foreign-function");
  const a = await request(proxy.url, { path: "/text", headers: { "accept-encoding": "deflate" } });
  assert.equal(a.status, 200);
  assert.equal(a.headers["content-encoding"], undefined);
  assert.equal(a.headers.etag, '"v1"');
  assert.equal(a.body, LONG_TEXT);
  assert.ok(
    logs.get("foreign-function")!.some((l) => l.includes("is not available")),
    logs.get("foreign-function")!.join("\n"),
  );
});

exampleTest("grpc-callout", async () => {
  // run closes gRPC callouts at once with UNAVAILABLE; envoy.yaml says fail_open: false, so the
  // request gets the filter's 503 and never reaches the upstream.
  const proxy = await run("grpc-callout", {});
  const before = upstream.received.length;
  const a = await request(proxy.url, { headers: { authorization: "Bearer x" } });
  assert.equal(a.status, 503);
  assert.match(a.body, /^authorization service unavailable: /);
  assert.equal(upstream.received.length, before);
});

exampleTest("shared-queue", async () => {
  // The HTTP filter (request-summary) sends to the aggregator's queue of vm_id "aggregator", a
  // bootstrap service run does not start: summaries are dropped with one warning, and traffic passes.
  const proxy = await run("shared-queue");
  for (let i = 0; i < 3; i++) {
    const a = await request(proxy.url, { path: `/q${i}` });
    assert.equal(a.status, 200);
    assert.equal(echoed(a).url, `/q${i}`);
  }
  const lines = logs.get("shared-queue")!;
  const warnings = () => lines.filter((l) => l.includes("summaries are dropped")).length;
  await until(
    () => warnings() > 0,
    () => `no warning about the dropped summaries:\n${lines.join("")}`,
  );
  assert.equal(warnings(), 1, `one warning, not one per request:\n${lines.join("")}`);
});
