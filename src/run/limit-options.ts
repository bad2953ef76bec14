// The limits `run` puts on a filter and on HTTP peers, as flags with Envoy's defaults (see
// docs/security.md). Each bad value is one UserError naming the flag and the range.
import { UserError } from "../errors.js";
import {
  DEFAULT_LOG_BYTES_PER_MESSAGE,
  DEFAULT_LOG_BYTES_PER_STREAM,
  DEFAULT_MEMORY_LIMIT_PAGES,
  DEFAULT_TIME_LIMIT_MS,
} from "../host/limits.js";
import { parseBytes, parseDuration } from "./options.js";
import { MAX_HEADER_BYTES, MAX_HEADERS_COUNT } from "./server.js";

const PAGE = 65536;

export interface LimitFlags {
  /** How long one call into the filter may run ("500ms", "2s"; 0 = no limit). Default 500 ms. */
  timeLimit?: number | string;
  /** The VM's memory ceiling ("1GiB", "256MiB"; at most 4 GiB). Default 1 GiB, Envoy's. */
  maxMemory?: number | string;
  /** Bytes of one log message kept (default 64 KiB). */
  maxLogMessage?: number | string;
  /** Bytes of log output kept per request (default 1 MiB). */
  maxLogPerStream?: number | string;
  /** Request headers allowed before a 431 (default 100, Envoy's max_headers_count). */
  maxHeaders?: number | string;
  /** Bytes of a request head allowed before a 431 (default 60 KiB, Envoy's max_request_headers_kb). */
  maxRequestHeaders?: number | string;
}

export interface RunLimits {
  timeLimitMs: number;
  memoryLimitPages: number;
  logBytesPerMessage: number;
  logBytesPerStream: number;
  maxHeadersCount: number;
  maxHeaderBytes: number;
}

function within(flag: string, value: number, min: number, max: number, unit: string): number {
  if (value < min || value > max) throw new UserError(`${flag} ${value}${unit} is out of range: use ${min}${unit} to ${max}${unit}`);
  return value;
}

export function parseLimits(f: LimitFlags): RunLimits {
  const headers = f.maxHeaders === undefined ? MAX_HEADERS_COUNT : Number(f.maxHeaders);
  if (!Number.isInteger(headers))
    throw new UserError(`--max-headers ${JSON.stringify(String(f.maxHeaders))} is not a whole number of headers, e.g. 100`);
  const memory = f.maxMemory === undefined ? DEFAULT_MEMORY_LIMIT_PAGES * PAGE : parseBytes(f.maxMemory, "--max-memory");
  return {
    timeLimitMs: f.timeLimit === undefined ? DEFAULT_TIME_LIMIT_MS : parseDuration(f.timeLimit, "--time-limit"),
    memoryLimitPages: Math.ceil(within("--max-memory", memory, PAGE, 65536 * PAGE, " bytes") / PAGE),
    logBytesPerMessage: f.maxLogMessage === undefined ? DEFAULT_LOG_BYTES_PER_MESSAGE : parseBytes(f.maxLogMessage, "--max-log-message"),
    logBytesPerStream:
      f.maxLogPerStream === undefined ? DEFAULT_LOG_BYTES_PER_STREAM : parseBytes(f.maxLogPerStream, "--max-log-per-stream"),
    maxHeadersCount: within("--max-headers", headers, 1, 10_000, ""),
    maxHeaderBytes: within(
      "--max-request-headers",
      f.maxRequestHeaders === undefined ? MAX_HEADER_BYTES : parseBytes(f.maxRequestHeaders, "--max-request-headers"),
      1024,
      8 * 1024 * 1024,
      " bytes",
    ),
  };
}
