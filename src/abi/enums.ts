// Enumerations of the proxy-wasm ABI (spec "Types"), with the numbers on the wire. The host uses
// these objects directly; `npm run gen` writes them as AssemblyScript enums into the SDK
// (assembly/enums.generated.ts), with the names of the Rust SDK's `types` module.

export const Status = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  InternalFailure: 10,
  Unimplemented: 12,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const LogLevel = { Trace: 0, Debug: 1, Info: 2, Warn: 3, Error: 4, Critical: 5 } as const;
export const Action = { Continue: 0, Pause: 1 } as const;
export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  ForeignFunctionArguments: 8,
} as const;
export const MapType = {
  HttpRequestHeaders: 0,
  HttpRequestTrailers: 1,
  HttpResponseHeaders: 2,
  HttpResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
} as const;
export const PeerType = { Unknown: 0, Local: 1, Remote: 2 } as const;
export const StreamType = { HttpRequest: 0, HttpResponse: 1, Downstream: 2, Upstream: 3 } as const;
export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2 } as const;
/** gRPC status codes (grpc/status.h), as proxy_send_local_response's grpc_status and proxy_on_grpc_close. */
export const GrpcStatusCode = {
  Ok: 0,
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export interface AbiEnum {
  name: string;
  /** One line for the generated declaration's doc comment ("" for none). */
  doc: string;
  values: Readonly<Record<string, number>>;
  /** Doc comments of single values. */
  valueDocs?: Readonly<Record<string, string>>;
  /** First ABI version with the enumeration (values added later are noted in the doc). */
  since: "0.1.0" | "0.2.0";
}

/** Every ABI enumeration, in the order the SDK declares them. */
export const ENUMS: readonly AbiEnum[] = [
  {
    name: "Action",
    doc: "What a stream callback tells the host to do next (Envoy maps Pause to StopIteration, or StopAllIterationAndWatermark after headers).",
    values: Action,
    valueDocs: {
      Continue: "Hand the data to the next filter.",
      Pause: "Stop iteration until the filter resumes the stream (resumeHttpRequest / resumeHttpResponse).",
    },
    since: "0.1.0",
  },
  { name: "LogLevel", doc: "", values: LogLevel, since: "0.1.0" },
  { name: "Status", doc: "Status returned by every host call (`proxy_status_t`).", values: Status, since: "0.1.0" },
  {
    name: "BufferType",
    doc: "Buffers a host call reads or writes (VmConfiguration, PluginConfiguration and ForeignFunctionArguments: 0.2.0 and later).",
    values: BufferType,
    since: "0.1.0",
  },
  { name: "MapType", doc: "", values: MapType, since: "0.1.0" },
  { name: "MetricType", doc: "", values: MetricType, since: "0.1.0" },
  { name: "PeerType", doc: "Who closed a TCP connection.", values: PeerType, since: "0.1.0" },
  {
    name: "StreamType",
    doc: "The stream proxy_continue_stream / proxy_close_stream act on (0.2.0 and later).",
    values: StreamType,
    since: "0.2.0",
  },
  { name: "GrpcStatusCode", doc: "gRPC status codes (grpc/status.h).", values: GrpcStatusCode, since: "0.1.0" },
];
