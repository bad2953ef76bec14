// Reading properties with Envoy's encodings (envoy source/extensions/common/wasm/context.cc):
// strings and bytes raw, integers as 8 bytes little-endian, booleans as 1 byte, timestamps and
// durations as int64 nanoseconds, maps as proxy-wasm pairs. Paths are lists of segments; the host
// gets them joined by NUL. Other hosts encode differently (Kong: all strings) or serve few properties
// (Google Service Extensions: only plugin_root_id): every getter can return "missing".

import { getProperty } from "./hostcalls";
import { bytesToString } from "./utf8";
import { Header, deserializeHeaders } from "./headers";

/** A property as text (invalid UTF-8 becomes U+FFFD); null when missing. */
export function getPropertyString(path: string[]): string | null {
  const b = getProperty(path);
  return b === null ? null : bytesToString(b);
}

/** An integer property (8 bytes little-endian), or `missing` when absent or not 8 bytes long. */
export function getPropertyInt(path: string[], missing: i64 = -1): i64 {
  const b = getProperty(path);
  if (b === null || b.byteLength != 8) return missing;
  return load<i64>(changetype<usize>(b));
}

/** A boolean property (1 byte), or `missing` when absent or malformed. */
export function getPropertyBool(path: string[], missing: bool = false): bool {
  const b = getProperty(path);
  if (b === null || b.byteLength != 1) return missing;
  return load<u8>(changetype<usize>(b)) != 0;
}

/** A map property (e.g. request.headers) as pairs; null when missing. */
export function getPropertyMap(path: string[]): Header[] | null {
  const b = getProperty(path);
  if (b === null) return null;
  return deserializeHeaders(changetype<usize>(b), <usize>b.byteLength);
}

/** Typed getters for common Envoy attributes. Strings are null and numbers -1 when missing. */
export namespace properties {
  /** request.path: path and query. */
  export function requestPath(): string | null {
    return getPropertyString(["request", "path"]);
  }
  export function requestUrlPath(): string | null {
    return getPropertyString(["request", "url_path"]);
  }
  export function requestHost(): string | null {
    return getPropertyString(["request", "host"]);
  }
  export function requestMethod(): string | null {
    return getPropertyString(["request", "method"]);
  }
  export function requestScheme(): string | null {
    return getPropertyString(["request", "scheme"]);
  }
  export function requestId(): string | null {
    return getPropertyString(["request", "id"]);
  }
  export function requestProtocol(): string | null {
    return getPropertyString(["request", "protocol"]);
  }
  export function requestQuery(): string | null {
    return getPropertyString(["request", "query"]);
  }
  export function requestUserAgent(): string | null {
    return getPropertyString(["request", "useragent"]);
  }
  /** request.time: nanoseconds since the epoch. */
  export function requestTimeNanos(): i64 {
    return getPropertyInt(["request", "time"]);
  }
  /** request.duration in nanoseconds (after the request completes). */
  export function requestDurationNanos(): i64 {
    return getPropertyInt(["request", "duration"]);
  }
  export function requestSize(): i64 {
    return getPropertyInt(["request", "size"]);
  }
  export function responseCode(): i64 {
    return getPropertyInt(["response", "code"]);
  }
  export function responseCodeDetails(): string | null {
    return getPropertyString(["response", "code_details"]);
  }
  export function responseSize(): i64 {
    return getPropertyInt(["response", "size"]);
  }
  /** source.address: "ip:port" of the downstream peer. */
  export function sourceAddress(): string | null {
    return getPropertyString(["source", "address"]);
  }
  export function sourcePort(): i64 {
    return getPropertyInt(["source", "port"]);
  }
  export function destinationAddress(): string | null {
    return getPropertyString(["destination", "address"]);
  }
  export function destinationPort(): i64 {
    return getPropertyInt(["destination", "port"]);
  }
  export function connectionId(): i64 {
    return getPropertyInt(["connection", "id"]);
  }
  export function connectionMtls(): bool {
    return getPropertyBool(["connection", "mtls"]);
  }
  export function connectionRequestedServerName(): string | null {
    return getPropertyString(["connection", "requested_server_name"]);
  }
  export function upstreamAddress(): string | null {
    return getPropertyString(["upstream", "address"]);
  }
  /** plugin_name: Envoy's PluginConfig name (Istio: "<namespace>.<WasmPlugin name>"). */
  export function pluginName(): string | null {
    return getPropertyString(["plugin_name"]);
  }
  /** plugin_root_id: Envoy's root_id (Istio: the WasmPlugin's pluginName). */
  export function pluginRootId(): string | null {
    return getPropertyString(["plugin_root_id"]);
  }
  export function pluginVmId(): string | null {
    return getPropertyString(["plugin_vm_id"]);
  }
  /** xds.route_name (Envoy >= 1.33 removed the old top-level route_name). */
  export function routeName(): string | null {
    return getPropertyString(["xds", "route_name"]);
  }
  export function clusterName(): string | null {
    return getPropertyString(["xds", "cluster_name"]);
  }
  export function listenerDirection(): i64 {
    return getPropertyInt(["xds", "listener_direction"]);
  }
}
