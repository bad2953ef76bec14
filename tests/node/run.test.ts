// `proxy-wasm-as run` as a library: a real HTTP/1.1 proxy on 127.0.0.1 in front of a real upstream
// started here, with filters built from tests/fixtures/run and the seed examples.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { startProxy, type ExchangeSummary, type ProxyOptions, type RunningProxy } from "../../src/run/index.js";
import { built } from "./helpers.js";
import { Logger } from "../../src/run/log.js";
import { LogLevel } from "../../src/abi.js";

// ------------------------------------------------------------------ helpers

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: Record<string, string>;
  aborted: boolean;
}

interface Upstream {
  url: string;
  seen: Seen[];
  /** Requests to /slow wait here until released. */
  held: Array<{ seen: Seen; res: http.ServerResponse }>;
  /** Resolves when the next request to /slow arrives (or was aborted). */
  nextHeld(): Promise<{ seen: Seen; res: http.ServerResponse }>;
  close(): Promise<void>;
}

async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const held: Upstream["held"] = [];
  let waiters: Array<(h: { seen: Seen; res: http.ServerResponse }) => void> = [];
  const server = http.createServer((req, res) => {
    const s: Seen = { method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.alloc(0), trailers: {}, aborted: false };
    seen.push(s);
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    res.on("close", () => {
      if (!res.writableFinished) s.aborted = true;
    });
    const path = req.url!;
    if (path.startsWith("/slow")) {
      // Answer nothing until the test releases it.
      const h = { seen: s, res };
      held.push(h);
      const w = waiters;
      waiters = [];
      for (const f of w) f(h);
      return;
    }
    req.on("end", () => {
      s.body = Buffer.concat(chunks);
      s.trailers = req.trailers as Record<string, string>;
      if (path === "/check") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok-token");
      } else if (path.startsWith("/big")) {
        const size = Number(new URL(path, "http://x").searchParams.get("size"));
        res.writeHead(200, { "content-type": "application/octet-stream" });
        let sent = 0;
        const pump = () => {
          while (sent < size) {
            const n = Math.min(16384, size - sent);
            const chunk = Buffer.alloc(n, sent % 251);
            sent += n;
            if (!res.write(chunk)) return void res.once("drain", pump);
          }
          res.end();
        };
        pump();
      } else if (path.startsWith("/trailers")) {
        res.writeHead(200, { "content-type": "text/plain", trailer: "x-checksum" });
        res.write("part one, ");
        res.addTrailers({ "x-checksum": "abc123" });
        res.end("part two");
      } else if (path.startsWith("/text") || path.endsWith("?text")) {
        res.writeHead(200, { "content-type": "text/plain", "content-length": "11" }).end("hello world");
      } else if (path.startsWith("/cut")) {
        // Headers and part of the body, then the connection drops.
        res.writeHead(200, { "content-length": "100" });
        res.write("partial", () => res.socket?.destroy());
      } else if (path.startsWith("/nocontent")) {
        res.writeHead(204).end();
      } else {
        const body = JSON.stringify({ method: req.method, url: req.url, bytes: s.body.length, sha: sha(s.body) });
        res.writeHead(200, { "content-type": "application/json", "x-upstream": "yes" }).end(req.method === "HEAD" ? undefined : body);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    held,
    nextHeld: () => new Promise((r) => waiters.push(r)),
    close: () =>
      new Promise<void>((r) => {
        for (const h of held) h.res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  trailers: NodeJS.Dict<string>;
}

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string | Buffer[]; agent?: http.Agent | false; trailers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? (opts.body ? "POST" : "GET"), headers: opts.headers, agent: opts.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString(), trailers: res.trailers });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (Array.isArray(opts.body)) {
      for (const c of opts.body) req.write(c);
    } else if (opts.body !== undefined) {
      req.write(opts.body);
    }
    if (opts.trailers) req.addTrailers(opts.trailers);
    req.end();
  });
}

function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Sends raw bytes and returns everything the server answers before it closes. */
function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.end(data));
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    s.on("error", reject);
  });
}

async function until(what: string, cond: () => boolean | Promise<boolean>, maxMs = 10_000): Promise<void> {
  const stop = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > stop) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function nextExchange(proxy: RunningProxy, path: string): Promise<ExchangeSummary> {
  return new Promise((resolve) => {
    const on = (s: ExchangeSummary) => {
      if (s.path === path) {
        proxy.events.off("exchange", on);
        resolve(s);
      }
    };
    proxy.events.on("exchange", on);
  });
}

const FILTER = "tests/fixtures/run/proxy-filter.ts";
let filterWasm: Uint8Array;
let upstream: Upstream;
const proxies: RunningProxy[] = [];

async function proxyWith(opts: Partial<ProxyOptions> & { lines?: string[] } = {}): Promise<RunningProxy> {
  const lines = opts.lines;
  const p = await startProxy({
    filter: filterWasm,
    upstream: upstream.url,
    clusters: { auth: upstream.url },
    listen: "127.0.0.1:0",
    log: (l) => lines?.push(l),
    ...opts,
  });
  proxies.push(p);
  return p;
}

before(async () => {
  filterWasm = (await built(FILTER, { debug: true })).wasm;
  upstream = await startUpstream();
});

after(async () => {
  for (const p of proxies) await p.close();
  await upstream.close();
});

// ------------------------------------------------------------------ the seed examples

describe("seed examples", () => {
  test("x-service-name answers every request itself, with no upstream configured", async () => {
    const { wasm } = await built("examples/x-service-name/index.ts", { debug: true });
    const lines: string[] = [];
    const p = await startProxy({ filter: wasm, listen: "127.0.0.1:0", log: (l) => lines.push(l) });
    proxies.push(p);
    const r = await request(`${p.url}/hello?x=1`);
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.equal(r.text, "Hello from Wasm!\n");
    assert.ok(
      lines.some((l) => l.includes(`Received request for: 127.0.0.1:${p.port} /hello?x=1`)),
      `the filter's info log is printed with its :authority and :path:\n${lines.join("")}`,
    );
    assert.ok(lines.every((l) => !l.includes("\x1b[")), "no colour codes when stderr is not a terminal");
    assert.ok(lines.some((l) => /^\d\d:\d\d:\d\d\.\d{3} info +filter #\d+: Received request/.test(l)), "time, level, filter and context id");
  });

  test("log lines carry the level, in colour when asked (a terminal)", () => {
    const out: string[] = [];
    const logger = new Logger({ level: LogLevel.Debug, color: true, filterName: "demo", write: (l) => out.push(l) });
    logger.filter({ level: LogLevel.Trace, message: "hidden", contextId: 2, vm: 0 });
    logger.filter({ level: LogLevel.Warn, message: "careful", contextId: 2, vm: 0 });
    logger.filter({ level: LogLevel.Critical, message: "line one\nline two", contextId: 0, vm: 1 });
    assert.equal(out.length, 2, "below --log-level is not printed");
    assert.match(out[0], /\x1b\[33mwarn +\x1b\[0m demo #2: careful\n$/);
    assert.match(out[1], /critical\x1b\[0m demo \(vm 1\): line one\\nline two\n$/, "one line per message");
  });

  test("add-header adds x-service-name to the upstream's response and the upstream sees Envoy's request headers", async () => {
    const { wasm } = await built("examples/add-header/index.ts", { debug: true });
    const p = await startProxy({ filter: wasm, upstream: upstream.url, listen: "127.0.0.1:0", log: () => {} });
    proxies.push(p);
    const before = upstream.seen.length;
    const r = await request(`${p.url}/items?id=7`, { headers: { "x-custom": "kept", connection: "keep-alive", "keep-alive": "timeout=5" } });
    assert.equal(r.status, 200);
    assert.equal(r.headers["x-service-name"], "my-custom-service");
    assert.equal(r.headers["x-upstream"], "yes");
    assert.match(String(r.headers["x-envoy-upstream-service-time"]), /^\d+$/);
    const s = upstream.seen[before];
    assert.equal(s.url, "/items?id=7");
    assert.equal(s.headers.host, `127.0.0.1:${p.port}`, "the client's :authority goes upstream as Host");
    assert.equal(s.headers["x-custom"], "kept");
    assert.equal(s.headers["x-forwarded-proto"], "http");
    assert.match(String(s.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    assert.equal(s.headers["keep-alive"], undefined, "connection headers are not forwarded");
  });
});

// ------------------------------------------------------------------ streaming

describe("streaming", () => {
  test("a large chunked request body reaches the upstream intact, chunk by chunk through the filter", async () => {
    const p = await proxyWith();
    const chunks: Buffer[] = [];
    for (let i = 0; i < 48; i++) chunks.push(Buffer.alloc(65536, i));
    const body = Buffer.concat(chunks);
    const r = await request(`${p.url}/upload`, { body: chunks, headers: { "transfer-encoding": "chunked" } });
    assert.equal(r.status, 200);
    const echo = JSON.parse(r.text);
    assert.equal(echo.bytes, body.length);
    assert.equal(echo.sha, sha(body));
    assert.ok(Number(r.headers["x-request-body-calls"]) > 1, `the body came in several callbacks, not one: ${r.headers["x-request-body-calls"]}`);
    assert.equal(r.headers["x-request-body-bytes"], String(body.length));
    assert.equal(r.headers["x-request-eos"], "1", "the last body callback had end_of_stream");
  });

  test("a content-length request body ends with end_of_stream on its last chunk", async () => {
    const p = await proxyWith();
    const body = Buffer.alloc(300_000, 7);
    const r = await request(`${p.url}/upload`, { body, headers: { "content-length": String(body.length) } });
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.text).sha, sha(body));
    assert.equal(r.headers["x-request-eos"], "1");
    assert.equal(r.headers["x-request-body-bytes"], String(body.length));
  });

  test("a chunked body on a GET or DELETE goes upstream framed (Node frames only POST/PUT/PATCH by default)", async () => {
    const p = await proxyWith();
    for (const method of ["GET", "DELETE"]) {
      const r = await request(`${p.url}/with-body`, { method, body: ["abc", "de"].map((x) => Buffer.from(x)), headers: { "transfer-encoding": "chunked" } });
      assert.equal(r.status, 200, method);
      assert.equal(JSON.parse(r.text).bytes, 5, method);
    }
  });

  test("a large response streams back intact", async () => {
    const p = await proxyWith();
    const size = 5 * 1024 * 1024 + 123;
    const r = await request(`${p.url}/big?size=${size}`);
    assert.equal(r.status, 200);
    assert.equal(r.body.length, size);
    assert.equal(r.headers["x-filtered"], "yes");
    let expected = 0;
    for (let off = 0; off < size; off += 16384) {
      assert.equal(r.body[off], off % 251, `byte ${off}`);
      expected++;
    }
    assert.ok(expected > 300);
  });

  test("a filter that rewrites the response body streams it, and content-length it removed is not sent", async () => {
    const p = await proxyWith();
    const r = await request(`${p.url}/upper/text`);
    assert.equal(r.status, 200);
    assert.equal(r.text, "{\"METHOD\":\"GET\",\"URL\":\"/UPPER/TEXT\",\"BYTES\":0,\"SHA\":\"" + sha(Buffer.alloc(0)).toUpperCase() + "\"}");
    assert.equal(r.headers["content-length"], undefined);
  });

  test("a filter that changes a body but keeps content-length gets a warning: 503 for a request, a reset for a response", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const r = await request(`${p.url}/grow-request`, { body: "12345", headers: { "content-length": "5" } });
    assert.equal(r.status, 503);
    assert.match(r.text, /did not match its content-length/);
    assert.ok(lines.some((l) => l.includes("must remove content-length in onHttpRequestHeaders")), lines.join(""));
    await assert.rejects(request(`${p.url}/grow-response?text`), /socket hang up|ECONNRESET|aborted/);
    assert.ok(lines.some((l) => l.includes("must remove content-length in onHttpResponseHeaders")), lines.join(""));
    assert.equal((await request(`${p.url}/text`)).text, "hello world", "the proxy keeps serving");
  });

  test("trailers pass both ways", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const up = await request(`${p.url}/upload-trailers`, { body: "abc", headers: { "transfer-encoding": "chunked", trailer: "x-sum" }, trailers: { "x-sum": "42" } });
    assert.equal(up.status, 200);
    assert.deepEqual(upstream.seen[before].trailers, { "x-sum": "42" });
    const down = await request(`${p.url}/trailers`);
    assert.equal(down.text, "part one, part two");
    assert.equal(down.trailers["x-checksum"], "abc123");
  });

  test("HEAD and 204 responses have no body", async () => {
    const p = await proxyWith();
    const head = await request(`${p.url}/anything`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const none = await request(`${p.url}/nocontent`);
    assert.equal(none.status, 204);
    assert.equal(none.headers["x-filtered"], "yes");
  });
});

// ------------------------------------------------------------------ pausing, callouts, local replies

describe("pause, callouts and local replies", () => {
  test("a request paused for an http callout continues upstream when the filter resumes it", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const r = await request(`${p.url}/callout`, { body: "payload", headers: { "content-length": "7" } });
    assert.equal(r.status, 200);
    const calls = upstream.seen.slice(before);
    const check = calls.find((s) => s.url === "/check");
    const main = calls.find((s) => s.url === "/callout");
    assert.ok(check && main, "the callout and then the request reached the upstream");
    assert.equal(check.headers.host, "auth.local", "the callout's :authority is its Host");
    assert.equal(main.headers["x-callout-status"], "200");
    assert.equal(main.headers["x-callout-body"], "ok-token");
    assert.equal(main.body.toString(), "payload", "the body held while paused was delivered");
  });

  test("a callout that times out gets Envoy's 504 answer, one to a closed port Envoy's 503, one cut after its headers a failure", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const p = await proxyWith({ clusters: { auth: upstream.url, down: `http://127.0.0.1:${deadPort}` } });
    const before = upstream.seen.length;
    const slow = await request(`${p.url}/callout`, { headers: { "x-callout-path": "/slow", "x-callout-timeout": "150" } });
    assert.equal(slow.status, 200);
    const refused = await request(`${p.url}/callout`, { headers: { "x-callout-cluster": "down" } });
    assert.equal(refused.status, 200);
    const mains = upstream.seen.slice(before).filter((s) => s.url === "/callout");
    assert.equal(mains.length, 2);
    assert.equal(mains[0].headers["x-callout-status"], "504");
    assert.equal(mains[0].headers["x-callout-body"], "upstream request timeout");
    assert.equal(mains[1].headers["x-callout-status"], "503");
    assert.match(String(mains[1].headers["x-callout-body"]), /^upstream connect error or disconnect\/reset before headers/);
    const cut = await request(`${p.url}/callout`, { headers: { "x-callout-path": "/cut" } });
    assert.equal(cut.status, 200);
    const cutMain = upstream.seen.slice(before).filter((s) => s.url === "/callout")[2];
    assert.equal(cutMain.headers["x-callout-status"], "failed", "a reset after the response headers is a failure: 0 headers");
    const unknown = await request(`${p.url}/callout`, { headers: { "x-callout-cluster": "nowhere" } });
    assert.equal(unknown.status, 500, "an unknown cluster is refused at dispatch (BAD_ARGUMENT)");
    assert.equal(unknown.text, "dispatch failed\n");
  });

  test("a local reply answers without contacting the upstream", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const done = nextExchange(p, "/reply");
    const r = await request(`${p.url}/reply`, { body: Buffer.alloc(200_000, 1) });
    assert.equal(r.status, 403);
    assert.equal(r.text, "denied by filter\n");
    assert.equal(r.headers["x-reply"], "filter");
    assert.equal(r.headers["x-filtered"], "yes", "the local reply went through the filter's response path");
    assert.equal((await done).outcome, "local_reply");
    assert.equal(upstream.seen.length, before);
  });

  test("a local reply after the request went upstream aborts the upstream request", async () => {
    const p = await proxyWith();
    const before = upstream.seen.length;
    const req = http.request(`${p.url}/late-reply`, { method: "POST", agent: false, headers: { "transfer-encoding": "chunked" } });
    const response = new Promise<Reply>((resolve, reject) => {
      req.on("response", (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.from(text), text, trailers: {} }));
      });
      req.on("error", reject);
    });
    req.write(Buffer.alloc(1000, 1));
    await until("the upstream to see the request", () => upstream.seen.length > before);
    req.end(Buffer.alloc(1000, 2));
    const r = await response;
    assert.equal(r.status, 409);
    assert.equal(r.text, "late reply\n");
    await until("the upstream request to be aborted", () => upstream.seen[before].aborted);
  });

  test("a request paused for a slow callout holds its body (past the buffer limit) and delivers it intact on resume", async () => {
    const p = await proxyWith({ bufferLimit: 64 * 1024 });
    const held = upstream.nextHeld();
    const before = upstream.seen.length;
    const body = Buffer.alloc(1024 * 1024, 9);
    const pending = request(`${p.url}/callout`, { body, headers: { "x-callout-path": "/slow/callout", "content-length": String(body.length) } });
    const h = await held;
    assert.equal(upstream.seen.filter((s) => s.url === "/callout").length, upstream.seen.slice(0, before).filter((s) => s.url === "/callout").length, "nothing went upstream while paused");
    h.res.writeHead(200).end("late-token");
    const r = await pending;
    assert.equal(r.status, 200);
    const main = upstream.seen.slice(before).find((s) => s.url === "/callout")!;
    assert.equal(main.headers["x-callout-body"], "late-token");
    assert.equal(main.body.length, body.length);
    assert.equal(sha(main.body), sha(body));
  });

  test("a body the filter buffers is replaced; past the buffer limit the request gets 413", async () => {
    const p = await proxyWith({ bufferLimit: 64 * 1024 });
    const before = upstream.seen.length;
    const small = await request(`${p.url}/buffer`, { body: [Buffer.alloc(1000), Buffer.alloc(2000)], headers: { "transfer-encoding": "chunked" } });
    assert.equal(small.status, 200);
    assert.equal(upstream.seen[before].body.toString(), "buffered 3000 bytes");
    const big = await request(`${p.url}/buffer`, { body: Array.from({ length: 8 }, () => Buffer.alloc(32 * 1024)), headers: { "transfer-encoding": "chunked" } });
    assert.equal(big.status, 413);
    assert.equal(big.text, "Payload Too Large");
    assert.equal(upstream.seen.length, before + 1, "the oversized request never reached the upstream");
  });

  test("ticks run on a real timer", async () => {
    const p = await proxyWith({ config: "tick" });
    await until("a tick", async () => {
      const r = await request(`${p.url}/ticks`);
      return r.status === 200 && r.text !== "ticks 0";
    });
  });

  test("properties: source and destination from the socket, one connection.id per connection", async () => {
    const p = await proxyWith();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const parse = (t: string) => Object.fromEntries(t.trim().split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2)));
      let clientPort = 0;
      const first = await new Promise<Reply>((resolve, reject) => {
        const req = http.get(`${p.url}/props`, { agent }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), text: Buffer.concat(chunks).toString(), trailers: {} }));
        });
        req.on("socket", (s) => s.on("connect", () => (clientPort = s.localPort!)));
        req.on("error", reject);
      });
      const a = parse(first.text);
      assert.equal(a["source.address"], `127.0.0.1:${clientPort}`);
      assert.equal(a["source.port"], String(clientPort));
      assert.equal(a["destination.address"], `127.0.0.1:${p.port}`);
      assert.equal(a["destination.port"], String(p.port));
      assert.equal(a["request.protocol"], "HTTP/1.1");
      assert.equal(a["request.method"], "GET");
      assert.equal(a["request.host"], `127.0.0.1:${p.port}`);
      assert.match(a["request.id"], /^[0-9a-f-]{36}$/);
      assert.deepEqual(a["headers"].split(",").slice(0, 4), [":authority", ":path", ":method", ":scheme"]);
      assert.ok(a["headers"].includes("x-forwarded-proto") && !a["headers"].split(",").includes("host") && !a["headers"].includes("connection"));
      const second = parse((await request(`${p.url}/props`, { agent })).text);
      const other = parse((await request(`${p.url}/props`)).text);
      assert.equal(second["connection.id"], a["connection.id"], "same keep-alive connection, same connection.id");
      assert.notEqual(other["connection.id"], a["connection.id"]);
    } finally {
      agent.destroy();
    }
  });
});

// ------------------------------------------------------------------ robustness

describe("robustness", () => {
  test("concurrent requests (plain, callouts, local replies) are each answered right", async () => {
    const p = await proxyWith();
    const jobs = Array.from({ length: 60 }, (_, i) => {
      const kind = i % 3;
      if (kind === 0) return request(`${p.url}/c/${i}`, { body: `body-${i}` }).then((r) => [r.status, JSON.parse(r.text).url, JSON.parse(r.text).bytes] as const);
      if (kind === 1) return request(`${p.url}/callout/${i}`).then((r) => [r.status, JSON.parse(r.text).url, 0] as const);
      return request(`${p.url}/reply/${i}`).then((r) => [r.status, r.text, 0] as const);
    });
    const results = await Promise.all(jobs);
    results.forEach((r, i) => {
      const kind = i % 3;
      if (kind === 0) assert.deepEqual(r, [200, `/c/${i}`, `body-${i}`.length]);
      if (kind === 1) assert.deepEqual(r, [200, `/callout/${i}`, 0]);
      if (kind === 2) assert.deepEqual(r, [403, "denied by filter\n", 0]);
    });
    await until("no request in flight", () => p.active === 0);
  });

  test("a client that goes away aborts the upstream request and completes the stream in the filter", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const held = upstream.nextHeld();
    const done = nextExchange(p, "/slow/abort");
    const req = http.get(`${p.url}/slow/abort`, { agent: false });
    req.on("error", () => {});
    const h = await held;
    req.destroy();
    const summary = await done;
    assert.equal(summary.outcome, "downstream_remote_disconnect");
    await until("the upstream request to be aborted", () => h.seen.aborted);
    await until("proxy_on_log for the aborted stream", () => lines.some((l) => l.includes("done /slow/abort")));
    assert.equal(p.active, 0);
  });

  test("an upstream that refuses connections gets 503 with Envoy's text; one that is slow gets 504", async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const down = await proxyWith({ upstream: `http://127.0.0.1:${deadPort}` });
    const r = await request(`${down.url}/x`);
    assert.equal(r.status, 503);
    assert.match(r.text, /^upstream connect error or disconnect\/reset before headers\. reset reason: remote connection failure/);
    assert.match(r.text, /Connection refused/);
    assert.equal(r.headers["x-filtered"], "yes", "the filter saw the proxy's answer as the response");

    const slow = await proxyWith({ timeout: 200 });
    const held = upstream.nextHeld();
    const t = await request(`${slow.url}/slow/timeout`);
    assert.equal(t.status, 504);
    assert.equal(t.text, "upstream request timeout");
    await until("the timed-out upstream request to be aborted", async () => (await held).seen.aborted);
  });

  test("an upstream that drops the connection in the middle of a response resets the client's connection", async () => {
    const p = await proxyWith();
    const done = nextExchange(p, "/cut");
    await assert.rejects(request(`${p.url}/cut`), /aborted|ECONNRESET|socket hang up/);
    assert.equal((await done).outcome, "reset: upstream_reset_after_response_started");
    assert.equal((await request(`${p.url}/text`)).text, "hello world");
  });

  test("without --upstream, a request the filter lets through gets a clear 503", async () => {
    const p = await proxyWith({ upstream: undefined });
    const r = await request(`${p.url}/passes`);
    assert.equal(r.status, 503);
    assert.match(r.text, /^no upstream configured: start proxy-wasm-as run with --upstream/);
    const local = await request(`${p.url}/reply`);
    assert.equal(local.status, 403, "local replies still work");
  });

  test("a filter that traps gets 503 for that request (fail-closed), then a fresh VM serves the next", async () => {
    const lines: string[] = [];
    const p = await proxyWith({ lines });
    const before = upstream.seen.length;
    const trap = await request(`${p.url}/trap`);
    assert.equal(trap.status, 503);
    assert.equal(upstream.seen.length, before, "the failed request did not reach the upstream");
    assert.ok(lines.some((l) => l.includes("trap on purpose")), "the trap and its message are printed");
    const next = await request(`${p.url}/after-trap`);
    assert.equal(next.status, 200);
    assert.equal(next.headers["x-filtered"], "yes", "a fresh VM ran the filter");
    assert.equal(upstream.seen[before].headers["x-filter"], "on");
    const late = await request(`${p.url}/trap-response`);
    assert.equal(late.status, 503, "a trap in the response path after the upstream answered is a 503 too");
    assert.equal((await request(`${p.url}/again`)).status, 200);
  });

  test("with fail-open a trapping filter is bypassed for that request", async () => {
    const p = await proxyWith({ failOpen: true });
    const before = upstream.seen.length;
    const trap = await request(`${p.url}/trap`);
    assert.equal(trap.status, 200);
    assert.equal(JSON.parse(trap.text).url, "/trap");
    assert.equal(trap.headers["x-filtered"], undefined, "the filter did not run on the response");
    assert.equal(upstream.seen[before].headers["x-filter"], "on", "what the filter did before it trapped stays");
    const next = await request(`${p.url}/next`);
    assert.equal(next.headers["x-filtered"], "yes");
  });

  test("a request paused in a VM that then fails gets 503 at once (fail-closed), or goes through unfiltered (fail-open)", async () => {
    for (const failOpen of [false, true]) {
      const p = await proxyWith({ failOpen });
      const held = upstream.nextHeld();
      const before = upstream.seen.length;
      const waiting = request(`${p.url}/callout`, { headers: { "x-callout-path": "/slow/stuck" } });
      const h = await held;
      const trap = await request(`${p.url}/trap`);
      assert.equal(trap.status, failOpen ? 200 : 503);
      const r = await waiting;
      if (failOpen) {
        assert.equal(r.status, 200);
        const main = upstream.seen.slice(before).find((s) => s.url === "/callout")!;
        assert.equal(main.headers["x-callout-status"], undefined, "the callout never answered; the request went on without it");
        assert.equal(r.headers["x-filtered"], undefined);
      } else {
        assert.equal(r.status, 503);
        assert.equal(upstream.seen.slice(before).filter((s) => s.url === "/callout").length, 0);
      }
      h.res.writeHead(200).end("too late");
      const next = await request(`${p.url}/fresh`);
      assert.equal(next.headers["x-filtered"], "yes", "a fresh VM serves the next request");
    }
  });

  test("malformed requests get 400 and oversized headers 431; the proxy keeps serving", async () => {
    const p = await proxyWith();
    const bad = await rawExchange(p.port, "THIS IS NOT HTTP\r\n\r\n");
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
    const huge = await rawExchange(p.port, `GET / HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(70 * 1024)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431 /);
    const fine = await request(`${p.url}/still-here`);
    assert.equal(fine.status, 200);
  });

  test("a WebSocket upgrade is refused with 403 like Envoy without upgrade_configs", async () => {
    const p = await proxyWith();
    const r = await request(`${p.url}/ws`, { headers: { connection: "upgrade", upgrade: "websocket" } });
    assert.equal(r.status, 403);
  });
});

// ------------------------------------------------------------------ reloading

describe("reload", () => {
  test("close() waits for a request in flight", async () => {
    const p = await startProxy({ filter: filterWasm, upstream: upstream.url, listen: "127.0.0.1:0", log: () => {} });
    const held = upstream.nextHeld();
    const pending = request(`${p.url}/slow/closing`);
    const h = await held;
    const closing = p.close();
    h.res.writeHead(200).end("late but complete");
    const r = await pending;
    assert.equal(r.text, "late but complete");
    await closing;
    await assert.rejects(request(`${p.url}/x`), /ECONNREFUSED/);
  });
});
