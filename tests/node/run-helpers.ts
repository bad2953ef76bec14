// Shared by the run-*.test.ts files: an upstream server that records what reaches it, an HTTP
// client, and a fixture that builds the test filter once per file and closes every proxy after.
import { after, before } from "node:test";
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { startProxy, type ExchangeSummary, type ProxyOptions, type RunningProxy } from "../../src/run/index.js";
import { built } from "./helpers.js";

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: Record<string, string>;
  aborted: boolean;
}

export interface Upstream {
  url: string;
  seen: Seen[];
  /** Requests to /slow wait here until released. */
  held: Array<{ seen: Seen; res: http.ServerResponse }>;
  /** Resolves when the next request to /slow arrives (or was aborted). */
  nextHeld(): Promise<{ seen: Seen; res: http.ServerResponse }>;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const seen: Seen[] = [];
  const held: Upstream["held"] = [];
  let waiters: Array<(h: { seen: Seen; res: http.ServerResponse }) => void> = [];
  const server = http.createServer((req, res) => {
    const s: Seen = {
      method: req.method!,
      url: req.url!,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: Buffer.alloc(0),
      trailers: {},
      aborted: false,
    };
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

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  trailers: NodeJS.Dict<string>;
}

export function request(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | string | Buffer[];
    agent?: http.Agent | false;
    trailers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? (opts.body ? "POST" : "GET"), headers: opts.headers, agent: opts.agent ?? false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, body, text: body.toString(), trailers: res.trailers });
        });
        res.on("error", reject);
      },
    );
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

export function sha(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Sends raw bytes and returns everything the server answers before it closes. */
export function rawExchange(port: number, data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.end(data));
    const chunks: Buffer[] = [];
    s.on("data", (c) => chunks.push(c));
    s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    s.on("error", reject);
  });
}

export async function until(what: string, cond: () => boolean | Promise<boolean>, maxMs = 10_000): Promise<void> {
  const stop = Date.now() + maxMs;
  while (!(await cond())) {
    if (Date.now() > stop) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function nextExchange(proxy: RunningProxy, path: string): Promise<ExchangeSummary> {
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

export const FILTER = "tests/fixtures/run/proxy-filter.ts";
/** The test filter's module (set by useRunFixture's before hook). */
export let filterWasm: Uint8Array;
/** The recording upstream (set by useRunFixture's before hook). */
export let upstream: Upstream;
/** Every proxy started for the file; closed after its tests. */
export const proxies: RunningProxy[] = [];

/** A proxy with the test filter in front of the upstream (also the "auth" cluster), closed after the file's tests. */
export async function proxyWith(opts: Partial<ProxyOptions> & { lines?: string[] } = {}): Promise<RunningProxy> {
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

/** Builds the filter and starts the upstream before the file's tests; closes everything after. */
export function useRunFixture(): void {
  before(async () => {
    filterWasm = (await built(FILTER, { debug: true })).wasm;
    upstream = await startUpstream();
  });
  after(async () => {
    for (const p of proxies) await p.close();
    await upstream.close();
  });
}
