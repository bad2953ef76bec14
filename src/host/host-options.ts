// What an embedder passes to createHost, and the shapes the host hands back to tests.
import type { ModuleSourceMap } from "../sourcemap/index.js";
import type { Bytesish } from "./bytes.js";
import type { VirtualClock } from "./clock.js";
import type { PropertyInput } from "./properties.js";
import type { SharedState } from "./shared.js";
import type { LimitOptions } from "./limits.js";
import type { LogEntry } from "./types.js";

export type FailurePolicy = "fail-closed" | "fail-open";
export type ForeignFunction = (args: Uint8Array) => Uint8Array | number;

export interface HostOptions extends LimitOptions {
  /** The module: bytes, a path to a .wasm file, or a compiled WebAssembly.Module. */
  wasm: Uint8Array | string | WebAssembly.Module;
  /** PLUGIN_CONFIGURATION buffer (what Envoy's `configuration` / Istio's pluginConfig carries). */
  pluginConfig?: Bytesish;
  /** VM_CONFIGURATION buffer. */
  vmConfig?: Bytesish;
  /** plugin_root_id property (Envoy `root_id`). Default "". */
  rootId?: string;
  /** plugin_vm_id property and the key of shared data and queues. Default "". */
  vmId?: string;
  /** plugin_name property. Default "". */
  pluginName?: string;
  /** Properties, keys are path segments joined by "." (e.g. "source.address", "xds.cluster_name"). */
  properties?: Record<string, PropertyInput>;
  /** WASI environment (Envoy vm_config.environment_variables). */
  env?: Record<string, string>;
  /** Messages below this level are not recorded; also what proxy_get_log_level returns. Default Trace. */
  logLevel?: number;
  /** What a stream gets when the VM has failed: a 503 (default) or the filter is skipped. */
  failurePolicy?: FailurePolicy;
  /** Give new streams a fresh VM after a failure (Envoy's FAIL_RELOAD). Default true. */
  reloadOnFailure?: boolean;
  /** Functions for proxy_call_foreign_function: return bytes (OK) or a status number. */
  foreignFunctions?: Record<string, ForeignFunction>;
  /** Ceiling for the guest's linear memory, in 64 KiB pages (default 16384 = 1 GiB, like Envoy; applied when given the module's bytes or path). */
  memoryLimitPages?: number;
  /** Enforce Envoy's header/body lifetimes (default true). false = every map and body always reachable. */
  strictLifetimes?: boolean;
  /** Cluster names proxy_http_call / proxy_grpc_* accept; others get BAD_ARGUMENT like an unknown cluster. Default: any. */
  upstreams?: string[];
  /** Process-wide state (shared data, queues, metrics) to share with other hosts of the same vm_id. */
  shared?: SharedState;
  /**
   * The module's source map, for traps reported at the filter's TypeScript line (Failure.at/stack and
   * the failure's log line): a path, a ModuleSourceMap, or false for none. Default: `<wasm>.map`
   * (or the module's sourceMappingURL) when `wasm` is a path; none for bytes.
   */
  sourceMap?: string | ModuleSourceMap | false;
  /**
   * What the host reads time from: the machine's clock (default), "virtual" (a VirtualClock at
   * 2026-01-01T00:00:00Z) or a VirtualClock of your own. With a virtual clock, `host.advanceTime(ms)`
   * moves time: ticks fire as their period passes and pending HTTP callouts time out.
   */
  clock?: "real" | "virtual" | VirtualClock;
  /** Called for every recorded log entry (e.g. to print them). */
  onLog?: (entry: LogEntry) => void;
}

export interface MetricView {
  name: string;
  type: "counter" | "gauge" | "histogram";
  /** Counter/gauge value (histogram: number of values), as a number. */
  value: number;
  /** The exact u64 value. */
  exact: bigint;
  /** Histogram values recorded (first 100,000). */
  values: number[];
}
