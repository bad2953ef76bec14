// A fake OCI registry on 127.0.0.1: just enough of the distribution API for push and pull, in
// memory, with a hook that lets a test make any request misbehave; and the CLI helpers the push
// tests share.
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(ROOT, "dist/src/cli.js");

/** The OCI fixture module with `data` in its data segment: a distinct module per string. */
export async function wat(data: string): Promise<Buffer> {
  const wabt = await wabtInit();
  const text = (await readFile(join(ROOT, "tests/fixtures/oci/filter.wat"), "utf8")).replace("proxy-wasm-as oci fixture", data);
  const mod = wabt.parseWat("filter.wat", text);
  try {
    return Buffer.from(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; resolves with its exit code and output (stdin gets `input`, or nothing). */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...opts.env },
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.input ?? "");
  });
}

/** A failed push: non-zero exit, one line "proxy-wasm-as: …" last on stderr, nothing on stdout. */
export function assertFailed(r: Run, pattern: RegExp): void {
  assert.notEqual(r.code, 0, `expected failure; stdout: ${r.stdout}`);
  assert.equal(r.stdout, "", "nothing is reported as pushed");
  const last = r.stderr.trimEnd().split("\n").pop()!;
  assert.match(last, /^proxy-wasm-as: /);
  assert.match(last, pattern);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
}

export function pushed(r: Run): { digest: string; reference: string } {
  assert.equal(r.code, 0, r.stderr);
  const digest = /^digest: (sha256:[a-f0-9]{64})$/m.exec(r.stdout)?.[1];
  const reference = /^reference: (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(digest && reference, r.stdout);
  return { digest, reference };
}

export type Hook = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean;

/** Just enough of the distribution API for push and pull, with hooks to misbehave. */
export class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  readonly manifests = new Map<string, { bytes: Buffer; type: string }>();
  readonly uploads = new Map<string, Buffer>();
  readonly requests: string[] = [];
  hook: Hook = () => false;
  /** Basic: every request needs this Authorization header; Bearer: a token from /token. */
  auth?: { scheme: "basic" | "bearer"; user: string; password: string };
  private server!: Server;
  host = "";

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private basic(): string {
    return `Basic ${Buffer.from(`${this.auth!.user}:${this.auth!.password}`).toString("base64")}`;
  }

  private authorized(req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.auth) return true;
    const expected = this.auth.scheme === "basic" ? this.basic() : "Bearer t0k3n";
    if (req.headers.authorization === expected) return true;
    const challenge =
      this.auth.scheme === "basic" ? `Basic realm="fake"` : `Bearer realm="http://${this.host}/token",service="fake-registry"`;
    res.writeHead(401, { "WWW-Authenticate": challenge, "Content-Type": "application/json" });
    res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
    return false;
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url!, `http://${this.host}`);
    this.requests.push(`${req.method} ${url.pathname}`);
    if (this.hook(req, res, body)) return;
    if (url.pathname === "/token") {
      const ok =
        req.headers.authorization === this.basic() && url.searchParams.getAll("scope").includes("repository:filters/demo:pull,push");
      res.writeHead(ok ? 200 : 401, { "Content-Type": "application/json" });
      res.end(ok ? JSON.stringify({ token: "t0k3n" }) : "{}");
      return;
    }
    if (!this.authorized(req, res)) return;
    let m: RegExpExecArray | null;
    if (url.pathname === "/v2/") {
      res.writeHead(200).end("{}");
    } else if ((m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname))) {
      const blob = this.blobs.get(m[2]);
      res.writeHead(blob ? 200 : 404, blob ? { "Content-Length": blob.length } : {});
      res.end(req.method === "GET" ? blob : undefined);
    } else if (req.method === "POST" && (m = /^\/v2\/(.+)\/blobs\/uploads\/$/.exec(url.pathname))) {
      const id = randomUUID();
      this.uploads.set(id, Buffer.alloc(0));
      res.writeHead(202, { Location: `/v2/${m[1]}/blobs/uploads/${id}` }).end();
    } else if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([-a-f0-9]+)$/.exec(url.pathname))) {
      const sofar = this.uploads.get(m[2]);
      if (!sofar) return void res.writeHead(404).end();
      if (req.method === "PATCH") {
        const range = /^(\d+)-(\d+)$/.exec(String(req.headers["content-range"]));
        if (!range || Number(range[1]) !== sofar.length) return void res.writeHead(416).end();
        const next = Buffer.concat([sofar, body]);
        this.uploads.set(m[2], next);
        res.writeHead(202, { Location: url.pathname, Range: `0-${next.length - 1}` }).end();
      } else if (req.method === "PUT") {
        const all = Buffer.concat([sofar, body]);
        const digest = url.searchParams.get("digest")!;
        if (`sha256:${createHash("sha256").update(all).digest("hex")}` !== digest) {
          res.writeHead(400, { "Content-Type": "application/json" });
          return void res.end(JSON.stringify({ errors: [{ code: "DIGEST_INVALID", message: "digest mismatch" }] }));
        }
        this.blobs.set(digest, all);
        this.uploads.delete(m[2]);
        res.writeHead(201, { Location: `/v2/blobs/${digest}` }).end();
      }
    } else if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname))) {
      if (req.method === "PUT") {
        const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        this.manifests.set(m[2], { bytes: body, type: String(req.headers["content-type"]) });
        this.manifests.set(digest, { bytes: body, type: String(req.headers["content-type"]) });
        res.writeHead(201, { "Docker-Content-Digest": digest }).end();
      } else {
        const got = this.manifests.get(m[2]);
        if (!got) return void res.writeHead(404).end();
        res.writeHead(200, { "Content-Type": got.type }).end(got.bytes);
      }
    } else {
      res.writeHead(404).end();
    }
  }
}
