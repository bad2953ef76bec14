// Drives `proxy-wasm-as run` as a separate process the way a user (or an attacker) does: raw
// HTTP/1.1 requests over sockets, the process's peak RSS from /proc, and how long it takes to
// exit after a signal.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = path.join(repoRoot, "dist/src/cli.js");

export interface RawResponse {
  /** 0 when the connection closed without a status line. */
  status: number;
  head: string;
  body: Buffer;
  /** Lower-cased header names to values, in order. */
  headers: Array<[string, string]>;
  ms: number;
}

/** Sends `request` bytes on a fresh connection and reads until the server closes it (or `timeoutMs`). */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve) => {
    const sock = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(parseResponse(Buffer.concat(chunks), performance.now() - started));
    };
    const timer = setTimeout(finish, timeoutMs);
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", finish);
    sock.on("close", finish);
    sock.on("error", finish);
    sock.write(request);
  });
}

function parseResponse(raw: Buffer, ms: number): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return { status: 0, head: raw.toString("latin1"), body: Buffer.alloc(0), headers: [], ms };
  const head = raw.subarray(0, end).toString("latin1");
  const lines = head.split("\r\n");
  const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(lines[0])?.[1] ?? 0);
  const headers = lines.slice(1).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()] as [string, string];
  });
  return { status, head, body: raw.subarray(end + 4), headers, ms };
}

/** A GET with `Connection: close` and the given extra header lines. */
export function get(pathname = "/", extra: string[] = [], method = "GET"): string {
  return [`${method} ${pathname} HTTP/1.1`, "host: hostile.test", "connection: close", ...extra, "", ""].join("\r\n");
}

export interface RunningCli {
  port: number;
  child: ChildProcess;
  stderr(): string;
  /** Peak resident set size so far (VmHWM), in bytes. */
  peakRss(): number;
  /** Sends `signal` and resolves with the milliseconds until the process exited (Infinity after `limitMs`, then it is killed). */
  stop(signal?: NodeJS.Signals, limitMs?: number): Promise<number>;
}

/** Starts `proxy-wasm-as run <wasm> --listen 127.0.0.1:0 ...args` and waits for its startup line. */
export function startRun(wasm: string, args: string[]): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, "run", wasm, "--listen", "127.0.0.1:0", "--no-access-log", ...args], {
    cwd: repoRoot,
    env: { ...process.env, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  child.stderr!.on("data", (c) => {
    // Keep the tail only: a flooding filter may log a lot.
    stderr = (stderr + c).slice(-20_000);
  });
  let exited = false;
  const exit = new Promise<void>((r) => child.on("exit", () => ((exited = true), r())));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`run did not start within 20s: ${stderr}`));
    }, 20_000);
    child.stdout!.on("data", (c) => {
      stdout += c;
      const m = /serving .* on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        port: Number(m[1]),
        child,
        stderr: () => stderr,
        peakRss: () => {
          try {
            const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
            return kb ? Number(kb[1]) * 1024 : 0;
          } catch {
            return 0;
          }
        },
        stop: async (signal = "SIGTERM", limitMs = 10_000) => {
          if (exited) return 0;
          const t = performance.now();
          child.kill(signal);
          const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), limitMs).unref());
          if ((await Promise.race([exit, timeout])) === "timeout") {
            child.kill("SIGKILL");
            await exit;
            return Infinity;
          }
          return performance.now() - t;
        },
      });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`run exited with ${code} before serving: ${stderr}`));
    });
  });
}

export interface Upstream {
  port: number;
  /** Requests seen: method, url and raw header pairs. */
  seen: Array<{ method: string; url: string; rawHeaders: string[]; rawTrailers: string[] }>;
  close(): Promise<void>;
}

/** An upstream that records every request and answers 200 "upstream ok". */
export function startUpstream(): Promise<Upstream> {
  const seen: Upstream["seen"] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", rawHeaders: req.rawHeaders, rawTrailers: req.rawTrailers });
      res.end("upstream ok");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        seen,
        close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
      }),
    ),
  );
}
