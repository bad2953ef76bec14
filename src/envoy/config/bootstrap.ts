// Reads an Envoy bootstrap (YAML or JSON) into an EnvoyConfig: admin, static_resources (listeners
// and clusters), stats_config.stats_tags and envoy.bootstrap.wasm services. Anything else is refused
// with its path.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "../../errors.js";
import { Node, readAddress } from "./fields.js";
import { readHttpManager, readAccessLog } from "./http.js";
import type { ClusterConfig, EnvoyConfig, ListenerConfig, StatsTag, TcpProxyConfig, WasmPluginConfig } from "./types.js";
import { readPluginConfig } from "./wasm.js";

const NETWORK_WASM = "envoy.extensions.filters.network.wasm.v3.Wasm";
const TCP_PROXY = "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const WASM_SERVICE = "envoy.extensions.wasm.v3.WasmService";
const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

function readCluster(n: Node): ClusterConfig {
  const f = n.object([
    "name",
    "type",
    "connect_timeout",
    "load_assignment",
    "lb_policy",
    "dns_lookup_family",
    "http2_protocol_options",
    "typed_extension_protocol_options",
    "per_connection_buffer_limit_bytes",
  ]);
  const name = f.need("name").string();
  const type = f.opt("type", (x) => x.oneOf(["STATIC", "STRICT_DNS", "LOGICAL_DNS"] as const), "STATIC");
  if (f.has("lb_policy")) f.get("lb_policy").oneOf(["ROUND_ROBIN"]);
  if (f.has("dns_lookup_family")) f.get("dns_lookup_family").oneOf(["AUTO", "V4_ONLY", "V6_ONLY", "V4_PREFERRED", "ALL"]);
  if (f.has("per_connection_buffer_limit_bytes")) f.get("per_connection_buffer_limit_bytes").int(1);
  let http2 = false;
  if (f.has("http2_protocol_options")) {
    f.get("http2_protocol_options").object([]);
    http2 = true;
  }
  if (f.has("typed_extension_protocol_options")) {
    const t = f.get("typed_extension_protocol_options").object([HTTP_OPTIONS]);
    const o = t.need(HTTP_OPTIONS).typed(HTTP_OPTIONS, ["explicit_http_config"]);
    const e = o.need("explicit_http_config").object(["http2_protocol_options", "http_protocol_options"]);
    if (e.has("http2_protocol_options")) {
      e.get("http2_protocol_options").object([]);
      http2 = true;
    } else if (e.has("http_protocol_options")) e.get("http_protocol_options").object([]);
    else e.fail("needs http2_protocol_options or http_protocol_options");
  }
  const la = f.need("load_assignment").object(["cluster_name", "endpoints"]);
  const endpoints = la
    .need("endpoints")
    .list()
    .flatMap((ep) =>
      ep
        .object(["lb_endpoints"])
        .need("lb_endpoints")
        .list()
        .map((lb) => readAddress(lb.object(["endpoint"]).need("endpoint").object(["address"]).need("address"))),
    );
  if (endpoints.length === 0) la.fail("has no endpoints");
  return { name, type, connectTimeoutMs: f.opt("connect_timeout", (x) => x.duration(), 5000), endpoints, http2 };
}

function readTcpChain(filters: Node[], configDir: string): TcpProxyConfig {
  const wasm: WasmPluginConfig[] = [];
  for (let i = 0; i < filters.length; i++) {
    const ff = filters[i].object(["name", "typed_config"]);
    const name = ff.need("name").string();
    const last = i === filters.length - 1;
    if (name === "envoy.filters.network.tcp_proxy") {
      if (!last) ff.get("name").fail("tcp_proxy must be the last network filter");
      const t = ff.need("typed_config").typed(TCP_PROXY, ["stat_prefix", "cluster", "access_log"]);
      return {
        kind: "tcp",
        statPrefix: t.need("stat_prefix").string(),
        cluster: t.need("cluster").string(),
        filters: wasm,
        accessLogs: t.opt("access_log", (x) => x.list().map(readAccessLog), []),
      };
    }
    if (name !== "envoy.filters.network.wasm")
      ff.get("name").fail(
        `${JSON.stringify(name)} is not supported: use envoy.filters.network.wasm filters, then tcp_proxy or http_connection_manager`,
      );
    wasm.push(readPluginConfig(ff.need("typed_config").typed(NETWORK_WASM, ["config"]).need("config"), configDir));
  }
  return filters[filters.length - 1].fail("the last network filter must be envoy.filters.network.tcp_proxy or http_connection_manager");
}

function readListener(n: Node, configDir: string): ListenerConfig {
  const f = n.object(["name", "address", "filter_chains", "per_connection_buffer_limit_bytes"]);
  if (f.has("per_connection_buffer_limit_bytes")) f.get("per_connection_buffer_limit_bytes").int(1);
  const chains = f.need("filter_chains").list();
  if (chains.length !== 1)
    f.get("filter_chains").fail("proxy-wasm-as envoy supports exactly one filter chain per listener (no filter_chain_match)");
  const filters = chains[0].object(["filters", "name"]).need("filters").list();
  if (filters.length === 0) chains[0].fail("has no filters");
  const lastNode = filters[filters.length - 1];
  const lastName = (lastNode.value as Record<string, unknown> | null)?.name;
  let chain: ListenerConfig["chain"];
  if (lastName === "envoy.filters.network.http_connection_manager") {
    if (filters.length > 1) filters[0].fail("network filters before http_connection_manager are not supported");
    chain = readHttpManager(lastNode.object(["name", "typed_config"]).need("typed_config"), configDir);
  } else {
    chain = readTcpChain(filters, configDir);
  }
  return { name: f.opt("name", (x) => x.string(), ""), address: readAddress(f.need("address")), chain };
}

function readStatsTags(n: Node): StatsTag[] {
  const f = n.object(["stats_tags", "use_all_default_tags"]);
  return f
    .opt("stats_tags", (x) => x.list(), [])
    .map((t) => {
      const tf = t.object(["tag_name", "regex"]);
      const name = tf.need("tag_name").string();
      const src = tf.need("regex").string();
      let regex: RegExp;
      try {
        regex = new RegExp(src);
      } catch (e) {
        return tf.get("regex").fail(`not a valid regular expression: ${(e as Error).message}`);
      }
      return { name, regex };
    });
}

/** Parses configuration text (YAML, which includes JSON) from `file`. */
export function parseBootstrap(text: string, file: string): EnvoyConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new UserError(`${file}: not valid YAML or JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  const dir = path.dirname(file);
  const root = new Node("", doc);
  const top = root.object(["admin", "static_resources", "stats_config", "bootstrap_extensions", "node"]);
  const sub = (k: string) => new Node(k, (doc as Record<string, unknown>)[k]);
  let admin = null;
  if (top.has("admin")) {
    const a = sub("admin").object(["address"]);
    admin = readAddress(a.need("address"));
  }
  if (top.has("node")) sub("node").object(["id", "cluster"]);
  const sr = top.has("static_resources") ? sub("static_resources").object(["listeners", "clusters"]) : null;
  const listeners = sr ? sr.opt("listeners", (x) => x.list().map((l) => readListener(l, dir)), []) : [];
  const clusters = new Map<string, ClusterConfig>();
  for (const c of sr ? sr.opt("clusters", (x) => x.list(), []) : []) {
    const cl = readCluster(c);
    if (clusters.has(cl.name)) c.fail(`cluster ${JSON.stringify(cl.name)} is defined twice`);
    clusters.set(cl.name, cl);
  }
  const services: WasmPluginConfig[] = [];
  for (const be of top.has("bootstrap_extensions") ? sub("bootstrap_extensions").list() : []) {
    const f = be.object(["name", "typed_config"]);
    const t = f.need("typed_config").typed(WASM_SERVICE, ["singleton", "config"]);
    if (!t.opt("singleton", (x) => x.bool(), false))
      t.fail("singleton: false (one service per worker) is not supported; use singleton: true");
    services.push(readPluginConfig(t.need("config"), dir));
  }
  // Every cluster a route or tcp_proxy names must exist (Envoy refuses the configuration too).
  listeners.forEach((l, i) => {
    const where = `static_resources.listeners[${i}]`;
    const names =
      l.chain.kind === "tcp"
        ? [l.chain.cluster]
        : l.chain.virtualHosts.flatMap((v) => v.routes.flatMap((r) => (r.action.kind === "cluster" ? [r.action.cluster] : [])));
    for (const name of names) {
      if (!clusters.has(name))
        throw new UserError(`${where}: route to unknown cluster ${JSON.stringify(name)}: define it under static_resources.clusters`);
    }
  });
  return { file, admin, listeners, clusters, services, statsTags: top.has("stats_config") ? readStatsTags(sub("stats_config")) : [] };
}

/** Reads and checks the configuration file given to -c. */
export function readBootstrap(file: string): EnvoyConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read ${file}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : (e as Error).message}`,
    );
  }
  return parseBootstrap(text, abs);
}
