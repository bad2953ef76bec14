// Types shared by the VM and the stream drivers.
import type { HeaderMap } from "./headers.js";
import type { PropertyValue } from "./properties.js";

export interface Plugin {
  name: string;
  rootId: string;
  vmId: string;
  config: Buffer;
}

export interface RootContext {
  kind: "root";
  id: number;
  plugin: Plugin;
  /** proxy_set_tick_period_milliseconds value; 0 = no timer. */
  tickPeriod: number;
  /** With a virtual clock: when the next tick is due (ms). */
  nextTickAt?: number;
  /** proxy_on_done returned false and proxy_done was not called yet. */
  pendingDone: boolean;
  deleted: boolean;
  /** Set while proxy_on_configure / proxy_validate_configuration runs (PLUGIN_CONFIGURATION). */
  configuring: boolean;
  httpCallResponse: { headers: HeaderMap; body: Buffer; trailers: HeaderMap } | null;
  grpcInitialMetadata: HeaderMap | null;
  grpcTrailingMetadata: HeaderMap | null;
  grpcMessage: Buffer | null;
  /** proxy_get_status: code and message of the last callout result. */
  status: { code: number; message: string };
  /** FOREIGN_FUNCTION_ARGUMENTS (buffer 8) while proxy_on_foreign_function runs. */
  callData: Buffer | null;
}

/** A buffer a hostcall can read (and maybe write). */
export interface BufferSlot {
  data: Buffer;
  /** Immutable buffers (configuration, callout responses) reject proxy_set_buffer_bytes. */
  readonly mutable: boolean;
}

/**
 * The HTTP response a filter sent itself (the SDK's sendHttpResponse, ABI proxy_send_local_response,
 * Envoy's local reply), or the 503 of a failed stream. The header map is decoded only when a test
 * looks.
 */
export class SentHttpResponse {
  constructor(
    public status: number,
    /** @internal */ readonly map: HeaderMap,
    public body: Buffer,
    /** Response code details (whitespace replaced by "_", as Envoy does). */
    public details: string,
    /** -1 when the guest did not set a gRPC status (the SDKs pass -1 for plain HTTP). */
    public grpcStatus: number,
  ) {}
  /** Headers the plugin added (names lower-cased), decoded as UTF-8. */
  get headers(): Array<[string, string]> {
    return this.map.toPairs();
  }
  /** The same headers as exact bytes. */
  get headerBytes(): Array<[Buffer, Buffer]> {
    return this.map.toBytePairs();
  }
  toJSON(): object {
    return {
      status: this.status,
      headers: this.headers,
      body: this.body.toString("utf8"),
      details: this.details,
      grpcStatus: this.grpcStatus,
    };
  }
}

/** What the VM needs from an HTTP stream or TCP connection driver. */
export interface StreamHandler {
  readonly protocol: "http" | "tcp";
  /** The map for a stream map type (0..3), or null when not available now. */
  map(type: number, write: boolean): HeaderMap | null;
  /** True while proxy_on_log runs (missing maps then give NOT_FOUND instead of BAD_ARGUMENT). */
  inLogPhase(): boolean;
  buffer(type: number): BufferSlot | null;
  continueStream(type: number): number;
  closeStream(type: number): number;
  /** proxy_send_local_response on this stream (applied once the callback returns). */
  sendHttpResponse(r: SentHttpResponse): void;
  property(key: string): PropertyValue | undefined;
  guestSetProperty(key: string, value: Buffer): number;
}

export interface StreamContext {
  kind: "stream";
  id: number;
  root: RootContext;
  handler: StreamHandler;
  createdInVm: boolean;
  /** Bytes of log output this stream kept so far (capped by logBytesPerStream). */
  logBytes: number;
}

export interface VmContext {
  kind: "vm";
  id: 0;
}

export type Context = RootContext | StreamContext | VmContext;

export interface LogEntry {
  level: number;
  message: string;
  /** Context the message was logged from (0 = VM start). */
  contextId: number;
  /** Which VM of this host logged it (0 = first, increases on each reload). */
  vm: number;
  /** Who wrote it: the filter (proxy_log) or the host (failures, warnings about the filter). */
  source: LogSource;
}

export type LogSource = "filter" | "host";

export interface Failure {
  /** The module export that was running (e.g. "proxy_on_request_headers"). */
  callback: string;
  /** The trap or error message. */
  message: string;
  /** The last message the module logged at ERROR or CRITICAL during that call (e.g. AssemblyScript's abort text). */
  abortMessage?: string;
  kind: "trap" | "proc_exit" | "host_error" | "start_failed" | "configure_failed" | "time_limit";
  contextId: number;
  vm: number;
  /** Where it trapped in the filter's sources (`file.ts:line:col`), when the host has the module's source map. */
  at?: string;
  /** The filter's stack at the trap, innermost first (`name (file.ts:line:col)`), with a source map. */
  stack?: string[];
}
