// proxy-wasm-as/host: a proxy-wasm host that behaves like Envoy's, for unit tests and benchmarks
// of compiled filters. See docs/host.md.
export { createHost, detectAbiVersion, checkImports } from "./create-host.js";
export { Host } from "./host.js";
export { HostPlugin } from "./host-plugin.js";
export { HttpCallout, GrpcCallout } from "./callouts.js";
export type { HostOptions, FailurePolicy, ForeignFunction, MetricView } from "./host-options.js";
export { HttpStream } from "./http.js";
export { HttpMessageView } from "./http-message.js";
export type { HttpStreamOptions } from "./http.js";
export { TcpConnection, TcpSideView } from "./tcp.js";
export { SharedState } from "./shared.js";
export { HeaderMap } from "./headers.js";
export type { PairsInput } from "./headers.js";
export type { PropertyInput } from "./properties.js";
export { encodePairs, decodePairs } from "./pairs.js";
export type { Failure, LogEntry, LogSource } from "./types.js";
export { SentHttpResponse } from "./types.js";
export { HOST_FUNCTION_NAMES } from "./imports.js";
export { VirtualClock, realClock, type Clock } from "./clock.js";
export { FAULTABLE_CALLS } from "./faults.js";
export { faultSweep, type SweepFault, type SweepRun, type SweepReport } from "./fault-sweep.js";
export {
  TimeLimitError,
  DEFAULT_TIME_LIMIT_MS,
  DEFAULT_MEMORY_LIMIT_PAGES,
  DEFAULT_LOG_BYTES_PER_MESSAGE,
  DEFAULT_LOG_BYTES_PER_STREAM,
} from "./limits.js";
export type { LimitOptions } from "./limits.js";
export { LogLevel, Action, Status, MapType, BufferType, PeerType, StreamType, MetricType } from "../abi.js";
