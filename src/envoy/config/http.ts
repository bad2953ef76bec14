// envoy.filters.network.http_connection_manager: routes, virtual hosts, headers to add, access logs
// and the HTTP filter chain (Wasm filters, then the router).
import type { Node, Fields } from "./fields.js";
import type {
  AccessLogConfig,
  HeaderAppend,
  HeaderMatcher,
  HeaderToAdd,
  HttpManagerConfig,
  RouteConfig,
  VirtualHostConfig,
  WasmPluginConfig,
} from "./types.js";
import { readPluginConfig } from "./wasm.js";
import { checkFormat } from "../format.js";

const HCM = "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const HTTP_WASM = "envoy.extensions.filters.http.wasm.v3.Wasm";
const ROUTER = "envoy.extensions.filters.http.router.v3.Router";
const STDOUT_LOG = "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";
const STDERR_LOG = "envoy.extensions.access_loggers.stream.v3.StderrAccessLog";
const FILE_LOG = "envoy.extensions.access_loggers.file.v3.FileAccessLog";

/** Envoy's default access log format (text). */
export const DEFAULT_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"\n';

function headersToAdd(n: Node): HeaderToAdd[] {
  return n.list().map((h) => {
    const f = h.object(["header", "append_action", "append", "keep_empty_value"]);
    const hv = f.need("header").object(["key", "value"]);
    const key = hv.need("key").string().toLowerCase();
    const value = hv.opt("value", (x) => x.string(), "");
    checkFormat(hv.get("value"), value, "header");
    let append: HeaderAppend = "APPEND_IF_EXISTS_OR_ADD";
    if (f.has("append")) append = f.get("append").bool() ? "APPEND_IF_EXISTS_OR_ADD" : "OVERWRITE_IF_EXISTS_OR_ADD";
    if (f.has("append_action"))
      append = f
        .get("append_action")
        .oneOf(["APPEND_IF_EXISTS_OR_ADD", "ADD_IF_ABSENT", "OVERWRITE_IF_EXISTS_OR_ADD", "OVERWRITE_IF_EXISTS"]);
    return { key, value, append, keepEmpty: f.opt("keep_empty_value", (x) => x.bool(), false) };
  });
}

function headerNames(n: Node): string[] {
  return n.list().map((x) => x.string().toLowerCase());
}

function headerMatcher(n: Node): HeaderMatcher {
  const f = n.object([
    "name",
    "string_match",
    "present_match",
    "exact_match",
    "prefix_match",
    "suffix_match",
    "contains_match",
    "invert_match",
  ]);
  const name = f.need("name").string().toLowerCase();
  const invert = f.opt("invert_match", (x) => x.bool(), false);
  const base = { name, invert, ignoreCase: false };
  if (f.has("present_match")) return { ...base, kind: "present", value: "", invert: invert !== !f.get("present_match").bool() };
  for (const k of ["exact", "prefix", "suffix", "contains"] as const) {
    if (f.has(`${k}_match`)) return { ...base, kind: k, value: f.get(`${k}_match`).string() };
  }
  if (f.has("string_match")) {
    const sm = f.get("string_match").object(["exact", "prefix", "suffix", "contains", "ignore_case"]);
    const ignoreCase = sm.opt("ignore_case", (x) => x.bool(), false);
    for (const k of ["exact", "prefix", "suffix", "contains"] as const) {
      if (sm.has(k)) return { ...base, kind: k, value: sm.get(k).string(), ignoreCase };
    }
    sm.fail("needs one of exact, prefix, suffix, contains (safe_regex is not supported)");
  }
  return { ...base, kind: "present", value: "" };
}

function readRoute(n: Node): RouteConfig {
  const f = n.object([
    "name",
    "match",
    "route",
    "direct_response",
    "request_headers_to_add",
    "response_headers_to_add",
    "request_headers_to_remove",
    "response_headers_to_remove",
  ]);
  const m = f.need("match").object(["prefix", "path", "headers", "case_sensitive"]);
  if (!m.has("prefix") && !m.has("path")) m.fail("needs prefix or path (safe_regex and path_separated_prefix are not supported)");
  const match = {
    prefix: m.has("prefix") ? m.get("prefix").string() : undefined,
    path: m.has("path") ? m.get("path").string() : undefined,
    caseSensitive: m.opt("case_sensitive", (x) => x.bool(), true),
    headers: m.opt("headers", (x) => x.list().map(headerMatcher), []),
  };
  let action: RouteConfig["action"];
  if (f.has("route") === f.has("direct_response")) f.fail("needs exactly one of route or direct_response (redirect is not supported)");
  if (f.has("route")) {
    const r = f.get("route").object(["cluster", "timeout", "prefix_rewrite"]);
    action = {
      kind: "cluster",
      cluster: r.need("cluster").string(),
      timeoutMs: r.opt("timeout", (x) => x.duration(), 15_000),
      prefixRewrite: r.opt<string | null>("prefix_rewrite", (x) => x.string(), null),
    };
  } else {
    const d = f.get("direct_response").object(["status", "body"]);
    let body: Buffer | null = null;
    if (d.has("body")) {
      const b = d.get("body").object(["inline_string", "inline_bytes"]);
      if (b.has("inline_string")) body = Buffer.from(b.get("inline_string").string(), "utf8");
      else if (b.has("inline_bytes")) body = Buffer.from(b.get("inline_bytes").string(), "base64");
      else b.fail("needs inline_string or inline_bytes (filename is not supported)");
    }
    action = { kind: "direct", status: d.need("status").int(200, 599), body };
  }
  return {
    match,
    action,
    ...headerEdits(f),
  };
}

function headerEdits(f: Fields) {
  return {
    requestHeadersToAdd: f.opt("request_headers_to_add", headersToAdd, []),
    responseHeadersToAdd: f.opt("response_headers_to_add", headersToAdd, []),
    requestHeadersToRemove: f.opt("request_headers_to_remove", headerNames, []),
    responseHeadersToRemove: f.opt("response_headers_to_remove", headerNames, []),
  };
}

function readVirtualHost(n: Node): VirtualHostConfig {
  const f = n.object([
    "name",
    "domains",
    "routes",
    "request_headers_to_add",
    "response_headers_to_add",
    "request_headers_to_remove",
    "response_headers_to_remove",
  ]);
  const domains = f
    .need("domains")
    .list()
    .map((d) => {
      const s = d.string().toLowerCase();
      if (s.length === 0) d.fail("must not be empty");
      if (s !== "*" && s.slice(1).includes("*") && !s.endsWith("*"))
        d.fail(`${JSON.stringify(s)}: a wildcard can only start or end a domain`);
      return s;
    });
  return { name: f.need("name").string(), domains, routes: f.opt("routes", (x) => x.list().map(readRoute), []), ...headerEdits(f) };
}

export function readAccessLog(n: Node): AccessLogConfig {
  const f = n.object(["name", "typed_config"]);
  const tc = f.need("typed_config");
  const t = (tc.value as Record<string, unknown> | null)?.["@type"];
  let to: string;
  let fields: Fields;
  if (t === `type.googleapis.com/${FILE_LOG}`) {
    fields = tc.typed(FILE_LOG, ["path", "log_format"]);
    to = fields.need("path").string();
    if (to === "/dev/stdout") to = "stdout";
    else if (to === "/dev/stderr") to = "stderr";
  } else if (t === `type.googleapis.com/${STDERR_LOG}`) {
    fields = tc.typed(STDERR_LOG, ["log_format"]);
    to = "stderr";
  } else {
    fields = tc.typed(STDOUT_LOG, ["log_format"]);
    to = "stdout";
  }
  let format = DEFAULT_ACCESS_LOG_FORMAT;
  if (fields.has("log_format")) {
    const lf = fields.get("log_format").object(["text_format_source", "text_format"]);
    if (lf.has("text_format")) format = lf.get("text_format").string();
    else if (lf.has("text_format_source")) format = lf.get("text_format_source").object(["inline_string"]).need("inline_string").string();
    else lf.fail("needs text_format_source.inline_string (json_format is not supported)");
    checkFormat(lf.path, format, "access log");
  }
  return { to, format };
}

/** The typed_config of envoy.filters.network.http_connection_manager. */
export function readHttpManager(n: Node, configDir: string): HttpManagerConfig {
  const f = n.typed(HCM, ["stat_prefix", "codec_type", "route_config", "http_filters", "access_log"]);
  const rc = f.need("route_config").object(["name", "virtual_hosts", "request_headers_to_add", "response_headers_to_add"]);
  const filtersNode = f.need("http_filters");
  const list = filtersNode.list();
  const filters: WasmPluginConfig[] = [];
  list.forEach((hf, i) => {
    const ff = hf.object(["name", "typed_config"]);
    const name = ff.need("name").string();
    const last = i === list.length - 1;
    if (name === "envoy.filters.http.router") {
      if (!last) ff.get("name").fail("the router must be the last HTTP filter");
      if (ff.has("typed_config")) ff.get("typed_config").typed(ROUTER, []);
      return;
    }
    if (name !== "envoy.filters.http.wasm")
      ff.get("name").fail(
        `${JSON.stringify(name)} is not supported: proxy-wasm-as envoy runs envoy.filters.http.wasm filters and the router`,
      );
    if (last) ff.get("name").fail("the last HTTP filter must be envoy.filters.http.router");
    const tc = ff.need("typed_config").typed(HTTP_WASM, ["config"]);
    filters.push(readPluginConfig(tc.need("config"), configDir));
  });
  if (list.length === 0) filtersNode.fail("needs at least envoy.filters.http.router");
  return {
    kind: "http",
    statPrefix: f.need("stat_prefix").string(),
    codec: f.opt("codec_type", (x) => x.oneOf(["AUTO", "HTTP1", "HTTP2"] as const), "AUTO"),
    virtualHosts: rc.opt("virtual_hosts", (x) => x.list().map(readVirtualHost), []),
    requestHeadersToAdd: rc.opt("request_headers_to_add", headersToAdd, []),
    responseHeadersToAdd: rc.opt("response_headers_to_add", headersToAdd, []),
    filters,
    accessLogs: f.opt("access_log", (x) => x.list().map(readAccessLog), []),
  };
}
