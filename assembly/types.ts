// The SDK's types: the enumerations of the proxy-wasm ABI 0.2.1 (generated from the ABI table into
// enums.generated.ts, with the numbers used on the wire), and the SDK's own ones. They mirror the
// Rust SDK's `types` module.
export {
  Action,
  BufferType,
  GrpcStatusCode,
  LogLevel,
  MapType,
  MetricType,
  PeerType,
  Status,
  StreamType,
} from "./enums.generated";

/** Kind of a non-root context, as in the Rust SDK. */
export enum ContextType {
  HttpContext = 0,
  StreamContext = 1,
}

/** Raw bytes: header values, bodies, properties and shared data are bytes first. */
export type Bytes = ArrayBuffer;
