// What `npm run hostile` tries, and how: each case is a filter (hostile, or a plain pass-through
// for hostile HTTP input) and the requests sent to it, tried against `proxy-wasm-as run` (a separate
// process: answers, peak RSS, time to exit on SIGTERM while a request is in flight) and, for the
// hostile filters, against the test harness (what a test sees).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createHost } from "../../src/host/index.js";
import { watModule } from "../../src/host/wat-builder.js";
import { get, rawRequest, startRun, startUpstream, type RawResponse, type Upstream } from "./run-process.js";
import * as modules from "./modules.js";

export interface Case {
  name: string;
  /** What was tried, in a few words. */
  tried: string;
  module: () => Promise<Uint8Array>;
  /** Raw requests sent, one connection each, `n` of them in parallel. */
  request: string | Buffer;
  /** Drive the filter in the harness too (the hostile filters). */
  harness: boolean;
  /** Extra text about what the upstream saw or the responses carried. */
  note?: (responses: RawResponse[], upstream: Upstream) => string;
}

/** A filter that lets everything through (for hostile HTTP input). */
const passThrough = () => watModule(() => `(func (export "proxy_on_context_create") (param i32 i32))`);
const manyHeaders = (n: number) => Array.from({ length: n }, (_, i) => `x-h${i}: v`);
/** The response headers a local reply case looks at, as "name: value; ...", plus the body length. */
const replyShape = (names: string[]) => (responses: RawResponse[]) => {
  const r = responses[0];
  const shown = r.headers.filter(([k]) => names.includes(k)).map(([k, v]) => `${k}: ${v}`);
  return `${shown.join("; ")}; body ${r.body.length} bytes`;
};

export const CASES: Case[] = [
  { name: "loop-forever", tried: "proxy_on_request_headers loops forever", module: modules.loopForever, request: get(), harness: true },
  {
    name: "log-flood",
    tried: "4,000 proxy_log calls of 1 MiB each per request",
    module: () => modules.logFlood(4000),
    request: get(),
    harness: true,
  },
  {
    name: "wasi-amplify",
    tried: "2,000 fd_write calls, 64 iovecs over one 1 MiB buffer each",
    module: () => modules.wasiAmplify(2000),
    request: get(),
    harness: true,
  },
  {
    name: "memory-grow",
    tried: "memory.grow by 64 MiB, touching every page, until it fails",
    module: modules.memoryGrow,
    request: get(),
    harness: true,
  },
  {
    name: "many-headers",
    tried: "1,001 request headers, then Transfer-Encoding",
    module: passThrough,
    request: [
      `POST / HTTP/1.1`,
      "host: h",
      "connection: close",
      ...manyHeaders(1001),
      "transfer-encoding: chunked",
      "",
      "5",
      "hello",
      "0",
      "",
      "",
    ].join("\r\n"),
    harness: false,
  },
  {
    name: "big-headers",
    tried: "61 KiB of request headers",
    module: passThrough,
    request: get("/", [`x-big: ${"a".repeat(61 * 1024)}`]),
    harness: false,
  },
  {
    name: "connect",
    tried: "a CONNECT request",
    module: passThrough,
    request: ["CONNECT upstream.test:443 HTTP/1.1", "host: upstream.test:443", "", ""].join("\r\n"),
    harness: false,
  },
  {
    name: "hop-by-hop",
    tried: "Connection: close, x-secret with an x-secret header",
    module: passThrough,
    request: get("/", ["x-secret: 1"]).replace("connection: close", "connection: close, x-secret"),
    harness: false,
    note: (_r, up) =>
      `upstream saw x-secret: ${up.seen.some((s) => s.rawHeaders.some((h) => h.toLowerCase() === "x-secret")) ? "yes" : "no"}`,
  },
  {
    name: "reply-content-type",
    tried: "a local reply with the filter's own content-type",
    module: () => modules.localReply(403, [["content-type", "application/json"]], '{"denied":true}'),
    request: get(),
    harness: false,
    note: replyShape(["content-type"]),
  },
  {
    name: "reply-head",
    tried: "a local reply with a body, to a HEAD request",
    module: () => modules.localReply(403, [], "denied"),
    request: get("/", [], "HEAD"),
    harness: false,
    note: replyShape(["content-length"]),
  },
  {
    name: "reply-grpc",
    tried: "a 403 local reply to a gRPC request",
    module: () => modules.localReply(403, [], "no way: 100%"),
    request: [
      "POST /pkg.Svc/Call HTTP/1.1",
      "host: h",
      "connection: close",
      "content-type: application/grpc",
      "content-length: 0",
      "",
      "",
    ].join("\r\n"),
    harness: false,
    note: replyShape(["content-type", "grpc-status", "grpc-message", "content-length"]),
  },
  {
    name: "reply-content-length",
    tried: "a local reply whose filter-set content-length is wrong",
    module: () => modules.localReply(403, [["content-length", "999"]], "denied"),
    request: get(),
    harness: false,
    note: replyShape(["content-length"]),
  },
  {
    name: "trailer-bytes",
    tried: "request trailers that are not valid UTF-8 (bytes ff fe)",
    module: passThrough,
    request: Buffer.from(
      ["POST / HTTP/1.1", "host: h", "connection: close", "transfer-encoding: chunked", "", "2", "hi", "0", "x-t: \xff\xfe", "", ""].join(
        "\r\n",
      ),
      "latin1",
    ),
    harness: false,
    note: (_r, up) => {
      const t = up.seen[0]?.rawTrailers ?? [];
      const i = t.findIndex((h) => h.toLowerCase() === "x-t");
      return `upstream trailer bytes: ${i < 0 ? "none" : Buffer.from(t[i + 1], "latin1").toString("hex")}`;
    },
  },
];

export interface CaseResult {
  name: string;
  tried: string;
  answers: string;
  peakRssMiB: number;
  exitMs: number;
  harness: string;
  note: string;
}

/** Counts statuses: "503 ×3", "no answer ×1". */
function summarize(responses: RawResponse[]): string {
  const counts = new Map<string, number>();
  for (const r of responses) {
    const k = r.status === 0 ? "no answer" : String(r.status);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k} ×${n}`).join(", ");
}

/** What the harness does with the filter on one request: the failure it records, or what it throws. */
async function inHarness(wasm: Uint8Array): Promise<string> {
  const t = performance.now();
  try {
    const host = await createHost({ wasm });
    const s = host.httpStream();
    s.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "h"],
      ],
      true,
    );
    const ms = Math.round(performance.now() - t);
    const f = host.failures[0];
    const reply = s.localResponse ? `local reply ${s.localResponse.status}` : "continued";
    const logged = host.logs.reduce((n, e) => n + e.message.length, 0);
    return f
      ? `${reply}; ${f.kind} in ${f.callback}: ${f.message} (${ms} ms)`
      : `${reply}; ${host.logs.length} log entries, ${logged} chars kept (${ms} ms)`;
  } catch (e) {
    return `throws after ${Math.round(performance.now() - t)} ms: ${(e as Error).message.split("\n")[0]}`;
  }
}

/** Runs one case: `n` requests in parallel, then one more with SIGTERM 100 ms into it. */
export async function runCase(c: Case, n: number, dir: string): Promise<CaseResult> {
  const wasm = await c.module();
  const file = path.join(dir, `${c.name}.wasm`);
  await writeFile(file, wasm);
  const upstream = await startUpstream();
  const cli = await startRun(file, ["--upstream", `http://127.0.0.1:${upstream.port}`, "--log-level", "critical"]);
  let result: CaseResult;
  try {
    const responses = await Promise.all(Array.from({ length: n }, () => rawRequest(cli.port, c.request)));
    const last = rawRequest(cli.port, c.request, 5000);
    await new Promise((r) => setTimeout(r, 100));
    const peak = cli.peakRss();
    const exitMs = await cli.stop("SIGTERM");
    await last;
    result = {
      name: c.name,
      tried: c.tried,
      answers: summarize(responses),
      peakRssMiB: Math.round(peak / (1024 * 1024)),
      exitMs: Math.round(exitMs),
      harness: c.harness ? await inHarness(wasm) : "-",
      note: c.note ? c.note(responses, upstream) : "",
    };
  } finally {
    await cli.stop("SIGKILL");
    await upstream.close();
  }
  return result;
}

export async function runAll(cases: Case[], n: number, onResult: (r: CaseResult) => void): Promise<CaseResult[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "pwa-hostile-"));
  const out: CaseResult[] = [];
  try {
    for (const c of cases) {
      const r = await runCase(c, n, dir);
      onResult(r);
      out.push(r);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

/** The Markdown table docs/security.md shows. */
export function table(results: CaseResult[], n: number): string {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${r.tried} | ${r.answers}${r.note ? `; ${r.note}` : ""} | ${r.peakRssMiB} MiB | ${Number.isFinite(r.exitMs) ? `${r.exitMs} ms` : "did not exit (killed)"} | ${r.harness.replace(/\|/g, "\\|")} |`,
  );
  return [
    `| Case | Tried | \`run\`: answers to ${n} parallel requests | \`run\`: peak RSS | \`run\`: exit after SIGTERM (request in flight) | Harness (one request) |`,
    "| --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
