// What the Envoy configuration reader produces: the supported subset of Envoy's bootstrap, checked.

export interface Address {
  host: string;
  port: number;
}

export interface WasmPluginConfig {
  /** Where it sits in the configuration (for messages). */
  path: string;
  name: string;
  rootId: string;
  vmId: string;
  /** The module file, resolved against the configuration file's folder. */
  file: string;
  configuration: Buffer;
  vmConfiguration: Buffer;
  failOpen: boolean;
  /** environment_variables.key_values and host_env_keys, resolved. */
  env: Record<string, string>;
}

export type HeaderAppend = "APPEND_IF_EXISTS_OR_ADD" | "ADD_IF_ABSENT" | "OVERWRITE_IF_EXISTS_OR_ADD" | "OVERWRITE_IF_EXISTS";

export interface HeaderToAdd {
  key: string;
  /** The value with its %REQ(...)% / %RESP(...)% operators (see format.ts). */
  value: string;
  append: HeaderAppend;
  keepEmpty: boolean;
}

export interface HeaderMatcher {
  name: string;
  kind: "exact" | "prefix" | "suffix" | "contains" | "present";
  value: string;
  ignoreCase: boolean;
  invert: boolean;
}

export interface RouteConfig {
  match: { prefix?: string; path?: string; caseSensitive: boolean; headers: HeaderMatcher[] };
  action:
    | { kind: "cluster"; cluster: string; timeoutMs: number; prefixRewrite: string | null }
    | { kind: "direct"; status: number; body: Buffer | null };
  requestHeadersToAdd: HeaderToAdd[];
  responseHeadersToAdd: HeaderToAdd[];
  requestHeadersToRemove: string[];
  responseHeadersToRemove: string[];
}

export interface VirtualHostConfig {
  name: string;
  domains: string[];
  routes: RouteConfig[];
  requestHeadersToAdd: HeaderToAdd[];
  responseHeadersToAdd: HeaderToAdd[];
  requestHeadersToRemove: string[];
  responseHeadersToRemove: string[];
}

export interface AccessLogConfig {
  /** "stdout", "stderr" or a file path. */
  to: string;
  format: string;
}

export interface HttpManagerConfig {
  kind: "http";
  statPrefix: string;
  codec: "AUTO" | "HTTP1" | "HTTP2";
  virtualHosts: VirtualHostConfig[];
  /** route_config-level headers (applied after the virtual host's). */
  responseHeadersToAdd: HeaderToAdd[];
  requestHeadersToAdd: HeaderToAdd[];
  filters: WasmPluginConfig[];
  accessLogs: AccessLogConfig[];
}

export interface TcpProxyConfig {
  kind: "tcp";
  statPrefix: string;
  cluster: string;
  filters: WasmPluginConfig[];
  accessLogs: AccessLogConfig[];
}

export interface ListenerConfig {
  name: string;
  address: Address;
  chain: HttpManagerConfig | TcpProxyConfig;
}

export interface ClusterConfig {
  name: string;
  type: "STATIC" | "STRICT_DNS" | "LOGICAL_DNS";
  connectTimeoutMs: number;
  endpoints: Address[];
  http2: boolean;
}

export interface StatsTag {
  name: string;
  regex: RegExp;
}

export interface EnvoyConfig {
  /** The configuration file (absolute). */
  file: string;
  admin: Address | null;
  listeners: ListenerConfig[];
  clusters: Map<string, ClusterConfig>;
  /** bootstrap_extensions envoy.bootstrap.wasm singletons. */
  services: WasmPluginConfig[];
  statsTags: StatsTag[];
}
