// Deployment manifests for a proxy-wasm module, as plain objects (serialized by the `yaml`
// library in toYaml). Four targets:
//   wasmplugin     Istio WasmPlugin (extensions.istio.io/v1alpha1), the supported API;
//   envoyfilter    two Istio EnvoyFilters (EXTENSION_CONFIG + HTTP_FILTER with config_discovery),
//                  for meshes older than WasmPlugin or needing a knob it lacks;
//   envoy          a standalone envoy.yaml loading the module from a local file in front of an
//                  upstream;
//   envoy-gateway  an Envoy Gateway EnvoyExtensionPolicy (gateway.envoyproxy.io/v1alpha1).
// Only real API: no `wasm:` block in a VirtualService, no `extensionProviders[].wasm`.
import { Document } from "yaml";
import type { EnvVar, FailStrategy, MatchMode, Phase, PluginConfig, PluginType, PullPolicy, TargetRef } from "./flags.js";
import { formatReference, type ImageReference } from "../oci/reference.js";

export type ManifestKind = "wasmplugin" | "envoyfilter" | "envoy" | "envoy-gateway";
export const MANIFEST_KINDS: readonly ManifestKind[] = ["wasmplugin", "envoyfilter", "envoy", "envoy-gateway"];

export type ModuleSource =
  /** An OCI image; sha256 is the image manifest digest (hex), what Istio compares. */
  | { type: "oci"; ref: ImageReference; sha256?: string }
  /** http(s):// or file:// URL; sha256 is the module's own. */
  | { type: "url"; url: string; sha256?: string }
  /** A file on the machine that runs Envoy (envoy kind). */
  | { type: "local"; path: string };

export interface ManifestSpec {
  name: string;
  namespace?: string;
  source: ModuleSource;
  config?: PluginConfig;
  selector?: Record<string, string>;
  targetRefs?: TargetRef[];
  phase?: Phase;
  priority?: number;
  failStrategy?: FailStrategy;
  pullPolicy?: PullPolicy;
  pullSecret?: string;
  pluginName?: string;
  type?: PluginType;
  /** The VM's WASI environment (read with environ_get, not proxy_get_buffer). */
  env?: EnvVar[];
  /** Which traffic the filter applies to (WasmPlugin match, EnvoyFilter context and port). */
  match?: { mode?: MatchMode; ports?: number[] };
  upstream?: { host: string; port: number };
  listen?: { host: string; port: number };
  adminPort?: number;
}

const WASM_HTTP_FILTER = "envoy.extensions.filters.http.wasm.v3.Wasm";
const WASM_NETWORK_FILTER = "envoy.extensions.filters.network.wasm.v3.Wasm";
const isNetwork = (s: ManifestSpec) => s.type === "NETWORK";
const wasmFilterType = (s: ManifestSpec) => (isNetwork(s) ? WASM_NETWORK_FILTER : WASM_HTTP_FILTER);
const TYPE_PREFIX = "type.googleapis.com/";
const STRING_VALUE = `${TYPE_PREFIX}google.protobuf.StringValue`;

/** The URL Istio's WasmPlugin and EnvoyFilter use for the module. */
export function moduleUrl(source: ModuleSource): string {
  switch (source.type) {
    case "oci":
      return `oci://${formatReference(source.ref)}`;
    case "url":
      return source.url;
    case "local":
      return `file://${source.path}`;
  }
}

function metadata(s: ManifestSpec, name = s.name) {
  return { name, ...(s.namespace ? { namespace: s.namespace } : {}) };
}

export function wasmPlugin(s: ManifestSpec): object {
  const sha256 = s.source.type === "local" ? undefined : s.source.sha256;
  return {
    apiVersion: "extensions.istio.io/v1alpha1",
    kind: "WasmPlugin",
    metadata: metadata(s),
    spec: {
      ...(s.selector ? { selector: { matchLabels: s.selector } } : {}),
      ...(s.targetRefs ? { targetRefs: s.targetRefs.map((r) => ({ group: r.group, kind: r.kind, name: r.name })) } : {}),
      url: moduleUrl(s.source),
      ...(sha256 ? { sha256 } : {}),
      ...(s.pullPolicy ? { imagePullPolicy: s.pullPolicy } : {}),
      ...(s.pullSecret ? { imagePullSecret: s.pullSecret } : {}),
      ...(s.phase ? { phase: s.phase } : {}),
      ...(s.priority !== undefined ? { priority: s.priority } : {}),
      ...(s.failStrategy ? { failStrategy: s.failStrategy } : {}),
      ...(s.pluginName ? { pluginName: s.pluginName } : {}),
      ...(s.type ? { type: s.type } : {}),
      ...(s.env?.length ? { vmConfig: { env: s.env } } : {}),
      ...(s.match
        ? {
            match: [
              {
                ...(s.match.mode ? { mode: s.match.mode } : {}),
                ...(s.match.ports ? { ports: s.match.ports.map((number) => ({ number })) } : {}),
              },
            ],
          }
        : {}),
      // Istio requires a Struct: istiod sends it to the plugin as JSON text.
      ...(s.config ? { pluginConfig: s.config.value } : {}),
    },
  };
}

/** VmConfig.environment_variables: HOST names in host_env_keys, INLINE pairs in key_values. */
function environmentVariables(s: ManifestSpec): object {
  const host = (s.env ?? []).filter((e) => e.valueFrom === "HOST").map((e) => e.name);
  const inline = (s.env ?? []).filter((e) => e.valueFrom === "INLINE");
  if (host.length === 0 && inline.length === 0) return {};
  return {
    environment_variables: {
      ...(host.length ? { host_env_keys: host } : {}),
      ...(inline.length ? { key_values: Object.fromEntries(inline.map((e) => [e.name, e.value ?? ""])) } : {}),
    },
  };
}

/** Envoy PluginConfig fields shared by the EnvoyFilter and envoy.yaml targets. */
function envoyPluginConfig(s: ManifestSpec, name: string, code: object): object {
  return {
    name,
    ...(s.pluginName ? { root_id: s.pluginName } : {}),
    vm_config: { runtime: "envoy.wasm.runtime.v8", code, ...environmentVariables(s) },
    ...(s.config ? { configuration: { "@type": STRING_VALUE, value: s.config.json } } : {}),
    // fail_open works on every Envoy; failure_policy (FAIL_RELOAD) needs Envoy >= 1.33.
    ...(s.failStrategy === "FAIL_OPEN" ? { fail_open: true } : {}),
    ...(s.failStrategy === "FAIL_RELOAD" ? { failure_policy: "FAIL_RELOAD" } : {}),
  };
}

/** The ECDS resource name both EnvoyFilters agree on. */
export function extensionConfigName(s: ManifestSpec): string {
  return s.namespace ? `${s.namespace}.${s.name}` : s.name;
}

export function envoyFilters(s: ManifestSpec): object[] {
  const extName = extensionConfigName(s);
  const workloadSelector = s.selector ? { workloadSelector: { labels: s.selector } } : {};
  const sha256 = s.source.type === "local" ? undefined : s.source.sha256;
  // The istio-agent downloads remote modules in ECDS resources (oci:// and http(s)://), checks
  // sha256 (for OCI: the image manifest digest) and rewrites them to a local file. Older agents
  // only look inside a udpa TypedStruct, so the Wasm config is wrapped in one.
  const code = {
    remote: {
      http_uri: { uri: moduleUrl(s.source), cluster: "_", timeout: "30s" },
      ...(sha256 ? { sha256 } : {}),
    },
  };
  const extensionConfig = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: metadata(s, `${s.name}-config`),
    spec: {
      ...workloadSelector,
      configPatches: [
        {
          applyTo: "EXTENSION_CONFIG",
          patch: {
            operation: "ADD",
            value: {
              name: extName,
              typed_config: {
                "@type": `${TYPE_PREFIX}udpa.type.v1.TypedStruct`,
                type_url: `${TYPE_PREFIX}${wasmFilterType(s)}`,
                value: { config: envoyPluginConfig(s, extName, code) },
              },
            },
          },
        },
      ],
    },
  };
  // An HTTP filter goes before the router of every HTTP connection manager; a network filter
  // before tcp_proxy, the last filter of the chains that carry plain TCP.
  const [applyTo, filter] = isNetwork(s)
    ? ["NETWORK_FILTER", { name: "envoy.filters.network.tcp_proxy" }]
    : ["HTTP_FILTER", { name: "envoy.filters.network.http_connection_manager", subFilter: { name: "envoy.filters.http.router" } }];
  const discoveredFilter = {
    apiVersion: "networking.istio.io/v1alpha3",
    kind: "EnvoyFilter",
    metadata: metadata(s),
    spec: {
      ...workloadSelector,
      // One patch per --match-port (an EnvoyFilter match names one port); the direction is the context.
      configPatches: (s.match?.ports ?? [undefined]).map((port) => ({
        applyTo,
        match: {
          ...(s.match?.mode && s.match.mode !== "CLIENT_AND_SERVER"
            ? { context: s.match.mode === "CLIENT" ? "SIDECAR_OUTBOUND" : "SIDECAR_INBOUND" }
            : {}),
          listener: { ...(port !== undefined ? { portNumber: port } : {}), filterChain: { filter } },
        },
        patch: {
          operation: "INSERT_BEFORE",
          value: {
            name: extName,
            config_discovery: {
              // Wait for the module instead of serving traffic without the filter.
              config_source: { ads: {}, initial_fetch_timeout: "0s" },
              type_urls: [`${TYPE_PREFIX}${wasmFilterType(s)}`],
            },
          },
        },
      })),
    },
  };
  return [extensionConfig, discoveredFilter];
}

/** envoy.yaml, HTTP filter: the Wasm filter, then the router to the upstream cluster. */
function httpConnectionManager(s: ManifestSpec & { source: { type: "local"; path: string } }): object {
  return {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": `${TYPE_PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
      stat_prefix: "ingress_http",
      route_config: {
        virtual_hosts: [{ name: "upstream", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "upstream" } }] }],
      },
      http_filters: [
        {
          name: "envoy.filters.http.wasm",
          typed_config: {
            "@type": `${TYPE_PREFIX}${WASM_HTTP_FILTER}`,
            config: envoyPluginConfig(s, s.name, { local: { filename: s.source.path } }),
          },
        },
        { name: "envoy.filters.http.router", typed_config: { "@type": `${TYPE_PREFIX}envoy.extensions.filters.http.router.v3.Router` } },
      ],
    },
  };
}

/** envoy.yaml, network filter: the Wasm filter, then tcp_proxy to the upstream cluster (Envoy wants a terminal filter last). */
function tcpFilters(s: ManifestSpec & { source: { type: "local"; path: string } }): object[] {
  return [
    {
      name: "envoy.filters.network.wasm",
      typed_config: {
        "@type": `${TYPE_PREFIX}${WASM_NETWORK_FILTER}`,
        config: envoyPluginConfig(s, s.name, { local: { filename: s.source.path } }),
      },
    },
    {
      name: "envoy.filters.network.tcp_proxy",
      typed_config: {
        "@type": `${TYPE_PREFIX}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`,
        stat_prefix: "ingress_tcp",
        cluster: "upstream",
      },
    },
  ];
}

const IP = /^(\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$/;

export function envoyBootstrap(s: ManifestSpec): object {
  if (s.source.type !== "local") throw new Error("internal error: envoy.yaml needs a local module");
  const local = s as ManifestSpec & { source: { type: "local"; path: string } };
  const upstream = s.upstream!;
  const listen = s.listen ?? { host: "0.0.0.0", port: 10000 };
  const socket = (address: string, port: number) => ({ socket_address: { address, port_value: port } });
  return {
    admin: { address: socket("127.0.0.1", s.adminPort ?? 9901) },
    static_resources: {
      listeners: [
        {
          name: "ingress",
          address: socket(listen.host, listen.port),
          filter_chains: [
            {
              filters: isNetwork(s) ? tcpFilters(local) : [httpConnectionManager(local)],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "upstream",
          type: IP.test(upstream.host) ? "STATIC" : "STRICT_DNS",
          ...(IP.test(upstream.host) ? {} : { dns_lookup_family: "V4_PREFERRED" }),
          connect_timeout: "5s",
          load_assignment: {
            cluster_name: "upstream",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(upstream.host, upstream.port) } }] }],
          },
        },
      ],
    },
  };
}

export function envoyExtensionPolicy(s: ManifestSpec): object {
  let code: object;
  if (s.source.type === "oci") {
    code = {
      type: "Image",
      // Envoy Gateway takes REGISTRY/REPOSITORY:TAG without a scheme.
      image: {
        url: formatReference(s.source.ref),
        ...(s.source.sha256 ? { sha256: s.source.sha256 } : {}),
        ...(s.pullSecret ? { pullSecretRef: { name: s.pullSecret } } : {}),
      },
    };
  } else if (s.source.type === "url") {
    code = { type: "HTTP", http: { url: s.source.url, ...(s.source.sha256 ? { sha256: s.source.sha256 } : {}) } };
  } else {
    throw new Error("internal error: Envoy Gateway cannot load a local module");
  }
  return {
    apiVersion: "gateway.envoyproxy.io/v1alpha1",
    kind: "EnvoyExtensionPolicy",
    metadata: metadata(s),
    spec: {
      targetRefs: (s.targetRefs ?? []).map((r) => ({ group: r.group, kind: r.kind, name: r.name })),
      wasm: [
        {
          name: s.name,
          ...(s.pluginName ? { rootID: s.pluginName } : {}),
          code: { ...code, ...(s.pullPolicy ? { pullPolicy: s.pullPolicy } : {}) },
          // Envoy Gateway hands any JSON value to the plugin as a JSON string.
          ...(s.config ? { config: s.config.value } : {}),
          ...(s.failStrategy === "FAIL_OPEN" ? { failOpen: true } : {}),
          ...(s.env?.length ? { env: { hostKeys: s.env.map((e) => e.name) } } : {}),
        },
      ],
    },
  };
}

export function generate(kind: ManifestKind, s: ManifestSpec): object[] {
  switch (kind) {
    case "wasmplugin":
      return [wasmPlugin(s)];
    case "envoyfilter":
      return envoyFilters(s);
    case "envoy":
      return [envoyBootstrap(s)];
    case "envoy-gateway":
      return [envoyExtensionPolicy(s)];
  }
}

/** YAML documents separated by `---`, each serialized by the yaml library (no line folding). */
export function toYaml(docs: object[]): string {
  return docs
    .map((d, i) => {
      const doc = new Document(d);
      if (i > 0) doc.directives!.docStart = true;
      return doc.toString({ lineWidth: 0 });
    })
    .join("");
}
