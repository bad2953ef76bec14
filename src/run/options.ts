// Checks and normalizes what `proxy-wasm-as run` (and startProxy) is given. Every problem is a
// UserError with one line that names the flag, the value and what to do.
import { readFile } from "node:fs/promises";
import { LogLevel } from "../abi.js";
import { UserError } from "../errors.js";

export const LOG_LEVEL_NAMES = ["trace", "debug", "info", "warn", "error", "critical"] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

/** Envoy's default route timeout (RouteAction.timeout): 15 s from the end of the request. */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** Envoy's default per-connection buffer limit (per_connection_buffer_limit_bytes): 1 MiB. */
export const DEFAULT_BUFFER_LIMIT = 1024 * 1024;
export const DEFAULT_LISTEN = "127.0.0.1:10000";

export interface ListenAddress {
  host: string;
  port: number;
}

/** An upstream or cluster target. */
export interface Target {
  url: URL;
  /** What to print: scheme://host:port. */
  display: string;
  hostname: string;
  port: number;
  tls: boolean;
}

export function parseLogLevel(value: string, flag = "--log-level"): number {
  const i = (LOG_LEVEL_NAMES as readonly string[]).indexOf(String(value).toLowerCase());
  if (i < 0) throw new UserError(`${flag} ${JSON.stringify(value)} is not a log level: use one of ${LOG_LEVEL_NAMES.join(", ")}`);
  return [LogLevel.Trace, LogLevel.Debug, LogLevel.Info, LogLevel.Warn, LogLevel.Error, LogLevel.Critical][i];
}

/** "127.0.0.1:10000", "localhost:8080", "[::1]:10000", ":10000" or "10000" (host 127.0.0.1). */
export function parseListen(value: string, flag = "--listen"): ListenAddress {
  const v = String(value).trim();
  const bad = (why: string) => new UserError(`${flag} ${JSON.stringify(value)} ${why}: give it as HOST:PORT, e.g. 127.0.0.1:10000`);
  let host: string;
  let portText: string;
  if (/^\d+$/.test(v)) {
    host = "127.0.0.1";
    portText = v;
  } else if (v.startsWith("[")) {
    const m = /^\[([^\]]+)\]:(\d+)$/.exec(v);
    if (!m) throw bad("is not an address");
    host = m[1];
    portText = m[2];
  } else {
    const i = v.lastIndexOf(":");
    if (i < 0) throw bad("has no port");
    host = v.slice(0, i) || "127.0.0.1";
    portText = v.slice(i + 1);
    if (host.includes(":")) throw bad("is not an address (write IPv6 hosts in brackets, e.g. [::1]:10000)");
  }
  if (!/^\d+$/.test(portText)) throw bad("has no valid port");
  const port = Number(portText);
  if (port > 65535) throw bad("has a port above 65535");
  if (!/^[A-Za-z0-9.\-_:%]+$/.test(host)) throw bad("has an invalid host");
  return { host, port };
}

/** An http:// or https:// URL with a host, an optional port and no path. */
export function parseTarget(value: string, flag: string): Target {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch {
    throw new UserError(`${flag} ${JSON.stringify(value)} is not a URL: give it as http://HOST:PORT`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UserError(`${flag} ${JSON.stringify(value)} must be an http:// or https:// URL, not ${url.protocol.replace(/:$/, "")}`);
  }
  if (!url.hostname) throw new UserError(`${flag} ${JSON.stringify(value)} has no host: give it as http://HOST:PORT`);
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new UserError(
      `${flag} ${JSON.stringify(value)} has a path or query; requests keep their own path, so give only http://HOST:PORT`,
    );
  }
  if (url.username || url.password)
    throw new UserError(`${flag} ${JSON.stringify(value)} has credentials; add auth headers in the filter instead`);
  const tls = url.protocol === "https:";
  const port = url.port ? Number(url.port) : tls ? 443 : 80;
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  return { url, display: `${url.protocol}//${url.host}`, hostname, port, tls };
}

/** "NAME=URL" pairs (repeatable --cluster) or a record, checked. */
export function parseClusters(input: readonly string[] | Record<string, string> | undefined): Map<string, Target> {
  const out = new Map<string, Target>();
  if (!input) return out;
  const entries: Array<[string, string]> = Array.isArray(input)
    ? (input as readonly string[]).map((spec) => {
        const i = spec.indexOf("=");
        if (i <= 0) throw new UserError(`--cluster ${JSON.stringify(spec)} must be NAME=URL, e.g. --cluster auth=http://127.0.0.1:9000`);
        return [spec.slice(0, i), spec.slice(i + 1)];
      })
    : Object.entries(input as Record<string, string>);
  for (const [name, url] of entries) {
    if (!name) throw new UserError(`--cluster needs a name: NAME=URL`);
    if (out.has(name)) throw new UserError(`--cluster ${name} is given twice; each cluster name maps to one URL`);
    out.set(name, parseTarget(url, `--cluster ${name}=`));
  }
  return out;
}

/**
 * A configuration flag: inline text, or @file. Text that looks like JSON (starts with { or [) must
 * parse as JSON, since a typo there is almost always a mistake; other text is passed as it is.
 */
export async function readConfigArg(value: string | Uint8Array | undefined, flag: string): Promise<Buffer> {
  if (value === undefined) return Buffer.alloc(0);
  if (value instanceof Uint8Array) return Buffer.from(value);
  let bytes: Buffer;
  let where = flag;
  if (value.startsWith("@")) {
    const file = value.slice(1);
    if (!file) throw new UserError(`${flag} @ needs a file name, e.g. ${flag} @config.json`);
    try {
      bytes = await readFile(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why =
        code === "ENOENT"
          ? "no such file"
          : code === "EISDIR"
            ? "it is a directory"
            : code === "EACCES"
              ? "permission denied"
              : (e as Error).message;
      throw new UserError(`${flag} @${file}: cannot read the file: ${why}`);
    }
    where = `${flag} @${file}`;
  } else {
    bytes = Buffer.from(value, "utf8");
  }
  const text = bytes.toString("utf8").trim();
  if (text.startsWith("{") || text.startsWith("[")) {
    try {
      JSON.parse(text);
    } catch (e) {
      throw new UserError(
        `${where} is not valid JSON (${oneLine((e as Error).message)}); fix it, or pass plain text that does not start with { or [`,
      );
    }
  }
  return bytes;
}

/**
 * The longest duration a flag accepts: Node's timers hold at most 2^31-1 ms (about 24.8 days) and
 * fire after 1 ms instead for anything longer, so a longer value is refused rather than shortened.
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** "15s", "250ms", "1.5s", "2m" or a number of milliseconds; 0 disables. At most MAX_DURATION_MS. */
export function parseDuration(value: string | number, flag: string): number {
  let ms: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new UserError(`${flag} must be a duration of 0 or more, not ${value}`);
    ms = Math.round(value);
  } else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
    if (!m) throw new UserError(`${flag} ${JSON.stringify(value)} is not a duration: use e.g. 15s, 500ms or 0 (no timeout)`);
    const n = Number(m[1]);
    const unit = m[2] ?? "ms";
    ms = Math.round(unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000);
  }
  if (ms > MAX_DURATION_MS) {
    throw new UserError(
      `${flag} ${JSON.stringify(String(value))} is too long: the most is ${MAX_DURATION_MS} ms (about 24 days); use 0 for no limit`,
    );
  }
  return ms;
}

/** "1048576", "64KiB", "1MiB", "512k", "2m". */
export function parseBytes(value: string | number, flag: string): number {
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value <= 0) throw new UserError(`${flag} must be a positive number of bytes, not ${value}`);
    return value;
  }
  const m = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(value);
  if (!m || Number(m[1]) === 0)
    throw new UserError(`${flag} ${JSON.stringify(value)} is not a size: use e.g. 1048576, 64KiB, 1MiB or 1GiB`);
  const unit = (m[2] ?? "b").toLowerCase();
  const mult = unit.startsWith("k") ? 1024 : unit.startsWith("m") ? 1024 * 1024 : unit.startsWith("g") ? 1024 * 1024 * 1024 : 1;
  return Number(m[1]) * mult;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}
