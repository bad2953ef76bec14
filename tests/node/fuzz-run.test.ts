// Fuzzing `proxy-wasm-as run` from raw sockets: request lines, header blocks and bodies built by
// fast-check, valid and broken (bad methods, targets and versions, header lines without a colon or
// with control bytes, oversized heads, conflicting or broken framing, bad chunked encoding), written
// in random pieces, with the client half-closing or vanishing at any byte. The proxy must answer
// with a well-formed HTTP/1.1 response or close the connection, never hang or crash, and serve the
// next request. A well-formed request must reach the filter and the upstream intact; a head over
// Envoy's 60 KiB must get 431. FUZZ_RUNS=<n> raises the number of runs (default 120).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import fc from "fast-check";
import { startProxy, MAX_HEADER_BYTES, type RunningProxy } from "../../src/run/index.js";
import { built } from "./helpers.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 120);
/** FUZZ_SEED=<n> replays a run (fast-check prints the seed of a failing one). */
const SEED = process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {};
/** A connection the proxy neither answers nor closes within this long is a hang. */
const HANG_MS = 10_000;

let upstream: http.Server;
/** Requests the upstream received (each answered request must be exactly one of them). */
let upstreamRequests = 0;
let upstreamUrl: string;
let proxy: RunningProxy;
const proxyLog: string[] = [];
const crashes: unknown[] = [];
const onCrash = (e: unknown) => crashes.push(e);

before(async () => {
  process.on("uncaughtException", onCrash);
  process.on("unhandledRejection", onCrash);
  // The upstream answers every request with what it received: method, target, body length.
  // (Node's default 16 KiB header limit would answer 431 to heads the proxy rightly accepts.)
  upstream = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    upstreamRequests++;
    let n = 0;
    req.on("data", (c: Buffer) => (n += c.length));
    req.on("end", () =>
      res.writeHead(200, { "content-type": "text/plain", "x-upstream-body": String(n) }).end(`${req.method} ${req.url} ${n}\n`),
    );
    req.on("error", () => {});
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as net.AddressInfo).port}`;
  const { wasm } = await built("tests/fixtures/fuzz/inspect.ts");
  proxy = await startProxy({
    filter: wasm,
    upstream: upstreamUrl,
    listen: "127.0.0.1:0",
    log: (l) => proxyLog.push(l),
    logLevel: "warn",
    accessLog: false,
    timeout: 5000,
  });
});

after(async () => {
  await proxy?.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
  process.off("uncaughtException", onCrash);
  process.off("unhandledRejection", onCrash);
});

// ------------------------------------------------------------------ generators

const tchar = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tokenArb = (max = 12) => fc.array(fc.constantFrom(...tchar.split("")), { minLength: 1, maxLength: max }).map((a) => a.join(""));
const anyText = (max = 16) => fc.uint8Array({ maxLength: max }).map((b) => Buffer.from(b).toString("latin1"));

interface Head {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
  /** Raw header lines that are not name: value (broken on purpose). */
  rawLines: string[];
  valid: boolean;
}

const methodArb = fc.oneof(
  { arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"), weight: 6 },
  { arbitrary: fc.constantFrom("HEAD", "TRACE", "CONNECT", "PRI", "gEt", "G ET", "GET\0", ""), weight: 1 },
  { arbitrary: tokenArb(), weight: 1 },
);
const targetArb = fc.oneof(
  { arbitrary: fc.constantFrom("/", "/a/b?c=d&e", "/%20x", "/caf%C3%A9", "//double//slash"), weight: 6 },
  { arbitrary: fc.constantFrom("*", "http://example.com/abs", "x", "/a b", "/\x7f", "/\x00", "/%zz", ""), weight: 1 },
  { arbitrary: anyText(24).map((t) => "/" + t), weight: 1 },
);
const versionArb = fc.oneof(
  { arbitrary: fc.constant("HTTP/1.1"), weight: 8 },
  { arbitrary: fc.constantFrom("HTTP/1.0", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "http/1.1", "HTTP/1", "HTTP/1.1 x", ""), weight: 1 },
);
const goodHeaderArb = fc.tuple(
  fc.oneof(
    fc.constantFrom("x-a", "accept", "user-agent", "x-forwarded-for", "cookie", "x-dup"),
    tokenArb(20).map((t) => "x-" + t),
  ),
  fc.oneof(
    fc.constantFrom("1", "text/html", "a=b; c=d", "", "\xff\xfe latin1", "caf\xc3\xa9"),
    fc.string({ maxLength: 40 }).map((s) => s.replace(/[\x00-\x1f\x7f]/g, "")),
  ),
);
const badLineArb = fc.oneof(
  fc.constantFrom(
    "no-colon-here",
    " folded: continuation",
    "\tfold",
    "bad name: v",
    ": empty-name",
    "x-nul: a\0b",
    "x-cr: a\rb",
    "x-ctl: \x01",
    "x-\xff: v",
  ),
  anyText(30),
);

const headArb: fc.Arbitrary<Head> = fc
  .record({
    method: methodArb,
    target: targetArb,
    version: versionArb,
    headers: fc.array(goodHeaderArb, { maxLength: 12 }),
    rawLines: fc.oneof(
      { arbitrary: fc.constant([] as string[]), weight: 4 },
      { arbitrary: fc.array(badLineArb, { minLength: 1, maxLength: 3 }), weight: 1 },
    ),
    big: fc.oneof(
      { arbitrary: fc.constant(0), weight: 6 },
      { arbitrary: fc.constantFrom(10_000, MAX_HEADER_BYTES - 2_000, MAX_HEADER_BYTES + 1, 100_000), weight: 1 },
    ),
  })
  .map(({ big, ...h }) => {
    const headers = [...h.headers];
    if (big > 0) headers.push(["x-big", "b".repeat(big)]);
    const valid =
      /^(GET|POST|PUT|DELETE|PATCH|OPTIONS)$/.test(h.method) &&
      /^\/[!-~]*$/.test(h.target) &&
      !/%(?![0-9A-Fa-f]{2})/.test(h.target) &&
      h.version === "HTTP/1.1" &&
      h.rawLines.length === 0;
    return { ...h, headers, valid };
  });

type Framing =
  | { kind: "none" }
  | { kind: "length"; body: Buffer; declared: number }
  | { kind: "chunked"; chunks: Buffer[]; trailers: Array<[string, string]>; broken: string | null }
  | { kind: "both"; body: Buffer }
  | { kind: "twoLengths"; body: Buffer; other: number };

const bodyArb = fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b));
const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { arbitrary: fc.constant({ kind: "none" } as Framing), weight: 3 },
  {
    arbitrary: fc
      .tuple(bodyArb, fc.oneof({ arbitrary: fc.constant(0), weight: 5 }, { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 1 }))
      .map(([body, delta]): Framing => ({ kind: "length", body, declared: body.length + delta })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({
        chunks: fc.array(
          fc.uint8Array({ minLength: 1, maxLength: 800 }).map((b) => Buffer.from(b)),
          { maxLength: 5 },
        ),
        trailers: fc.array(
          fc.tuple(
            tokenArb(8).map((t) => "x-t-" + t),
            fc.constantFrom("1", "v"),
          ),
          { maxLength: 2 },
        ),
        broken: fc.oneof(
          { arbitrary: fc.constant(null), weight: 4 },
          { arbitrary: fc.constantFrom("bad-hex", "no-crlf", "negative", "huge", "no-last-chunk", "extension", "lf-only"), weight: 1 },
        ),
      })
      .map((c): Framing => ({ kind: "chunked", ...c })),
    weight: 3,
  },
  { arbitrary: bodyArb.map((body): Framing => ({ kind: "both", body })), weight: 1 },
  {
    arbitrary: fc
      .tuple(bodyArb, fc.nat({ max: 100 }))
      .map(([body, other]): Framing => ({ kind: "twoLengths", body, other: body.length + other + 1 })),
    weight: 1,
  },
);

function encodeChunked(f: Extract<Framing, { kind: "chunked" }>): Buffer {
  const parts: Buffer[] = [];
  const eol = f.broken === "lf-only" ? "\n" : "\r\n";
  f.chunks.forEach((c, i) => {
    let size = c.length.toString(16);
    if (i === 0 && f.broken === "bad-hex") size = "zz";
    if (i === 0 && f.broken === "negative") size = "-1";
    if (i === 0 && f.broken === "huge") size = "ffffffffffffffffff";
    if (f.broken === "extension") size += ";name=value";
    parts.push(Buffer.from(size + eol), c, Buffer.from(i === 0 && f.broken === "no-crlf" ? "" : eol));
  });
  if (f.broken !== "no-last-chunk") {
    parts.push(Buffer.from("0" + eol));
    for (const [k, v] of f.trailers) parts.push(Buffer.from(`${k}: ${v}${eol}`));
    parts.push(Buffer.from(eol));
  }
  return Buffer.concat(parts);
}

interface Case {
  head: Head;
  framing: Framing;
  bytes: Buffer;
  /** A request the proxy must pass to the upstream and answer with 200. */
  wellFormed: boolean;
  /** A head over 60 KiB: 431 (when the rest of the request line is fine). */
  oversized: boolean;
  /** All bytes of the request are there: nothing makes the proxy wait for more. */
  complete: boolean;
  bodyLength: number;
  [fc.toStringMethod]: () => string;
}

function encode(head: Head, framing: Framing): Case {
  const headers = [...head.headers, ["host", "fuzz.example"] as [string, string]];
  let body: Buffer = Buffer.alloc(0);
  let framingOk = true;
  switch (framing.kind) {
    case "length":
      headers.push(["content-length", String(framing.declared)]);
      body = framing.body;
      framingOk = framing.declared === framing.body.length;
      break;
    case "chunked":
      headers.push(["transfer-encoding", "chunked"]);
      body = encodeChunked(framing);
      framingOk = framing.broken === null || framing.broken === "extension";
      break;
    case "both":
      headers.push(["content-length", String(framing.body.length)], ["transfer-encoding", "chunked"]);
      body = framing.body;
      framingOk = false;
      break;
    case "twoLengths":
      headers.push(["content-length", String(framing.body.length)], ["content-length", String(framing.other)]);
      body = framing.body;
      framingOk = false;
      break;
  }
  const lines = [`${head.method} ${head.target} ${head.version}`, ...headers.map(([k, v]) => `${k}: ${v}`), ...head.rawLines];
  const headText = lines.join("\r\n") + "\r\n\r\n";
  const bytes = Buffer.concat([Buffer.from(headText, "latin1"), body]);
  const oversized = Buffer.byteLength(headText, "latin1") > MAX_HEADER_BYTES + 1024;
  const bodyLength = framing.kind === "chunked" ? framing.chunks.reduce((n, c) => n + c.length, 0) : body.length;
  // Header values with bytes >= 0x80 are fine for Node; only the structure decides.
  const wellFormed = head.valid && framingOk && !oversized && Buffer.byteLength(headText, "latin1") < MAX_HEADER_BYTES - 1024;
  const summary = `${JSON.stringify(`${head.method} ${head.target.slice(0, 40)} ${head.version}`)} +${headers.length} headers${head.rawLines.length ? ` +${head.rawLines.length} broken lines` : ""}, head ${Buffer.byteLength(headText, "latin1")} bytes, ${framing.kind}${framing.kind === "chunked" && framing.broken ? `(${framing.broken})` : ""}, body ${body.length} bytes: ${JSON.stringify(bytes.subarray(0, 160).toString("latin1"))}`;
  const waitsForMore =
    (framing.kind === "length" && framing.declared > framing.body.length) ||
    (framing.kind === "chunked" && (framing.broken === "no-last-chunk" || framing.broken === "huge")) ||
    (framing.kind === "twoLengths" && false);
  return {
    head,
    framing,
    bytes,
    wellFormed,
    oversized: head.valid && oversized,
    complete: !waitsForMore,
    bodyLength,
    // What fast-check prints for a counterexample (the bytes can be 100 KB).
    [fc.toStringMethod]: () => summary,
  };
}

const caseArb = fc.tuple(headArb, framingArb).map(([h, f]) => encode(h, f));

/**
 * How the client ends: "keep" writes everything and waits for the answer with the connection open;
 * "end" writes everything and half-closes (Envoy, and this proxy, then drop the stream as a
 * downstream disconnect: an answer is not required); "cut" writes a prefix and half-closes;
 * "reset" writes a prefix and destroys the socket.
 */
type Ending = { kind: "keep" } | { kind: "end" } | { kind: "cut"; at: number } | { kind: "reset"; at: number };
const endingArb: fc.Arbitrary<Ending> = fc.oneof(
  { arbitrary: fc.constant({ kind: "keep" } as Ending), weight: 5 },
  { arbitrary: fc.constant({ kind: "end" } as Ending), weight: 1 },
  { arbitrary: fc.nat().map((at): Ending => ({ kind: "cut", at })), weight: 1 },
  { arbitrary: fc.nat().map((at): Ending => ({ kind: "reset", at })), weight: 1 },
);
const splitsArb = fc.array(fc.integer({ min: 1, max: 4096 }), { maxLength: 6 });

// ------------------------------------------------------------------ running one case

interface Outcome {
  data: Buffer;
  /** The proxy closed the connection (or, for "keep", a complete answer arrived). */
  done: boolean;
}

/** Whether `buf` holds one complete HTTP/1.1 response (status line, headers, body by its framing). */
function completeResponse(buf: Buffer, head = false): boolean {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const text = buf.subarray(0, end).toString("latin1");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return true;
  const body = buf.subarray(end + 4);
  if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(text)) return body.indexOf("0\r\n\r\n") === 0 || body.indexOf("\r\n0\r\n\r\n") >= 0;
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(text);
  return cl !== null && body.length >= Number(cl[1]);
}

function exchange(bytes: Buffer, splits: number[], ending: Ending, waitMs = HANG_MS, head = false): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(proxy.port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (done: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(chunks), done });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    timer.unref();
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      if (ending.kind === "keep" && completeResponse(Buffer.concat(chunks), head)) finish(true);
    });
    s.on("error", () => {});
    s.on("close", () => finish(true));
    const limit = ending.kind === "keep" || ending.kind === "end" ? bytes.length : ending.at % (bytes.length + 1);
    const data = bytes.subarray(0, limit);
    s.on("connect", async () => {
      let off = 0;
      for (const n of splits) {
        if (off >= data.length || s.destroyed) break;
        s.write(data.subarray(off, off + n));
        off += n;
        await new Promise((r) => setImmediate(r));
      }
      if (s.destroyed) return;
      if (off < data.length) s.write(data.subarray(off));
      if (ending.kind === "reset") s.destroy();
      else if (ending.kind !== "keep") s.end();
    });
  });
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3}) [^\r\n]*\r\n/;

/** A plain request through a new connection: the proxy still serves. */
async function probe(): Promise<void> {
  const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
    const req = http.request(`${proxy.url}/probe`, { method: "POST", agent: false, headers: { "content-type": "text/plain" } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end("ping");
  });
  assert.equal(r.status, 200);
  assert.equal(r.text, "POST /probe 4\n");
  assert.equal(r.headers["x-seen-request-body"], "4");
}

test("run: raw, broken and truncated requests get a well-formed answer or a close, never a hang or a crash; the proxy keeps serving", async () => {
  const statuses = new Map<number, number>();
  let closedWithoutAnswer = 0;
  await fc.assert(
    fc.asyncProperty(caseArb, splitsArb, endingArb, async (c, splits, ending) => {
      // Kept open, an incomplete request may rightly wait for more bytes (a short look is enough);
      // anything else must be answered or closed.
      const before = upstreamRequests;
      const out = await exchange(c.bytes, splits, ending, ending.kind === "keep" && !c.complete ? 300 : HANG_MS, c.head.method === "HEAD");
      if (ending.kind !== "keep" || c.complete) {
        assert.ok(
          out.done,
          `the proxy neither answered nor closed within ${HANG_MS} ms (got ${out.data.length} bytes): ${JSON.stringify(c.bytes.subarray(0, 120).toString("latin1"))}`,
        );
      }
      if (out.data.length > 0) {
        const m = STATUS_LINE.exec(out.data.toString("latin1"));
        assert.ok(m, `not an HTTP/1.1 status line: ${JSON.stringify(out.data.subarray(0, 80).toString("latin1"))}`);
        const status = Number(m[1]);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (ending.kind === "keep" && c.wellFormed) {
          assert.equal(status, 200, `a well-formed request: ${JSON.stringify(c.bytes.subarray(0, 200).toString("latin1"))}`);
          const text = out.data.toString("latin1");
          assert.match(text, new RegExp(`\\r\\nx-seen-request-body: ${c.bodyLength}\\r\\n`, "i"), "the filter saw the whole body");
          assert.match(text, new RegExp(`\\r\\nx-upstream-body: ${c.bodyLength}\\r\\n`, "i"), "the upstream got the whole body");
          assert.equal(upstreamRequests - before, 1, "the upstream saw exactly one request for this one");
        }
        // A head the codec refused before any filter ran never reaches the upstream.
        if (status === 431) assert.equal(upstreamRequests - before, 0, "a 431 request reached the upstream");
        if (ending.kind === "keep" && c.oversized) assert.equal(status, 431);
      } else {
        closedWithoutAnswer++;
        assert.ok(!(ending.kind === "keep" && (c.wellFormed || c.oversized)), "a complete request was not answered");
      }
      await probe();
    }),
    { numRuns: RUNS, includeErrorInReport: true, ...SEED },
  );
  assert.deepEqual(crashes, []);
  // Every exchange finished: nothing is left open in the proxy.
  const stop = Date.now() + 5000;
  while (proxy.active > 0 && Date.now() < stop) await new Promise((r) => setTimeout(r, 20));
  assert.equal(proxy.active, 0, "no exchange left behind");
  assert.ok(!proxyLog.some((l) => /uncaught|TypeError|RangeError|ReferenceError/.test(l)), proxyLog.join(""));
  if (process.env.FUZZ_VERBOSE) console.error({ statuses: Object.fromEntries(statuses), closedWithoutAnswer });
});

test("run: pipelined requests on one connection are answered in order; a broken one after them gets 400 or a close", async () => {
  const good = "GET /one HTTP/1.1\r\nhost: a\r\n\r\n";
  const good2 = "POST /two HTTP/1.1\r\nhost: a\r\ncontent-length: 3\r\n\r\nabc";
  const last = "GET /three HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n";
  const ok = await exchange(Buffer.from(good + good2 + last), [], { kind: "end" });
  // With a half-close after the last request, the proxy may drop it as a downstream disconnect;
  // the kept-open form below must answer all three.
  void ok;
  const kept = await new Promise<string>((resolve) => {
    const s = net.connect(proxy.port, "127.0.0.1", () => s.write(good + good2 + last));
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    setTimeout(() => s.destroy(), HANG_MS).unref();
  });
  assert.deepEqual(
    [...kept.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]),
    ["200", "200", "200"],
  );
  assert.ok(
    kept.indexOf("GET /one 0") < kept.indexOf("POST /two 3") && kept.indexOf("POST /two 3") < kept.indexOf("GET /three 0"),
    "in order",
  );
  // A broken request after an answered one.
  const broken = await new Promise<string>((resolve) => {
    const s = net.connect(proxy.port, "127.0.0.1", () => s.write(good));
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      if (completeResponse(Buffer.concat(chunks))) s.write("GET /x HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n");
    });
    s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    setTimeout(() => s.destroy(), HANG_MS).unref();
  });
  const answers = [...broken.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);
  assert.equal(answers[0], "200");
  assert.ok(answers.length === 1 || answers[1] === "400", `then a 400 or a close: ${answers}`);
  await probe();
});

test("run: a chunked request body on any method (GET, DELETE, OPTIONS as well as POST) reaches the upstream framed and whole", async () => {
  // Found by the fuzzer: Node frames a request body by default only for POST, PUT and PATCH.
  for (const method of ["GET", "DELETE", "OPTIONS", "POST"]) {
    const req = `${method} /m HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n`;
    const out = await exchange(Buffer.from(req), [], { kind: "keep" });
    const text = out.data.toString("latin1");
    assert.match(text, /^HTTP\/1\.1 200 /, `${method}: ${JSON.stringify(text.slice(0, 120))}`);
    assert.match(text, /\r\nx-upstream-body: 5\r\n/i, `${method}: the upstream read the 5 body bytes as the body`);
    assert.match(text, /\r\nx-seen-request-body: 5\r\n/i);
  }
  await probe();
});
