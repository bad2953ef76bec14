// auth-callout: asks an auth service about every request before letting it through.
// On request headers the filter pauses the request and sends the auth cluster a GET with the
// request's credentials (the configured headers, `authorization` by default) and where it was going
// (x-original-method, x-original-host, x-original-uri). The answer decides:
//   2xx            -> the request continues upstream, with the headers named in copy_headers taken
//                     from the auth answer (e.g. x-user). Values the client sent under those names
//                     are always removed first, so a client cannot claim an identity itself;
//   any other code -> 403 "access denied: <x-auth-reason of the answer, or its status>";
//   no answer      -> 503 (timeout, reset, unknown cluster: the call fails closed).
// Each stream waits for its own call: answers may arrive in any order.
// Configuration (JSON; only "cluster" is required):
//   {"cluster": "auth", "authority": "auth.internal", "path": "/check", "timeout_ms": 500,
//    "forward_headers": ["authorization"], "copy_headers": ["x-user"]}
import {
  Action,
  Counter,
  Header,
  HttpContext,
  JsonKind,
  JsonValue,
  RootContext,
  jsonError,
  lastStatus,
  logError,
  logWarn,
  parseJsonBytes,
  setRootContext,
} from "proxy-wasm-as";

const allowed = new Counter("auth_callout.allowed");
const denied = new Counter("auth_callout.denied");
const failed = new Counter("auth_callout.failed");

class Settings {
  cluster: string = "";
  authority: string = "";
  path: string = "/check";
  timeoutMs: u32 = 1000;
  forwardHeaders: string[] = ["authorization"];
  copyHeaders: string[] = ["x-user"];
}

/** A list of lowercase header names, or null (and `problem` set) when it is not one. */
function headerList(config: JsonValue, key: string, fallback: string[]): string[] | null {
  const v = config.get(key);
  if (v === null) return fallback;
  if (v.kind != JsonKind.Array) {
    problem = '"' + key + '" must be an array of header names, not ' + v.typeName();
    return null;
  }
  const out = new Array<string>();
  for (let i = 0, n = v.length; i < n; i++) {
    const s = v.at(i)!.asString();
    if (s === null || !isLowercaseName(s)) {
      problem = '"' + key + '" must hold lowercase header names';
      return null;
    }
    out.push(s);
  }
  return out;
}

let problem = "";

function isLowercaseName(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || (c >= 0x41 && c <= 0x5a) || c == 0x3a) return false;
  }
  return true;
}

function readSettings(config: JsonValue): Settings | null {
  const s = new Settings();
  problem = "";
  for (let i = 0, n = config.length; i < n; i++) {
    const key = config.keyAt(i)!;
    if (
      key != "cluster" &&
      key != "authority" &&
      key != "path" &&
      key != "timeout_ms" &&
      key != "forward_headers" &&
      key != "copy_headers"
    ) {
      problem = '"' + key + '" is not a known field';
      return null;
    }
  }
  const cluster = config.getString("cluster");
  if (cluster === null || cluster.length == 0) {
    problem = '"cluster" (the Envoy cluster of the auth service) must be a non-empty string';
    return null;
  }
  s.cluster = cluster;
  const authority = config.getString("authority");
  s.authority = authority !== null ? authority : cluster;
  const path = config.getString("path");
  if (path !== null) s.path = path;
  if (config.has("path") && (path === null || !path.startsWith("/"))) {
    problem = '"path" must be a string starting with "/"';
    return null;
  }
  if (config.has("timeout_ms")) {
    const t = config.getInteger("timeout_ms", -1);
    if (t < 1 || t > 60000) {
      problem = '"timeout_ms" must be a whole number of milliseconds from 1 to 60000';
      return null;
    }
    s.timeoutMs = <u32>t;
  }
  const forward = headerList(config, "forward_headers", s.forwardHeaders);
  if (forward === null) return null;
  s.forwardHeaders = forward;
  const copy = headerList(config, "copy_headers", s.copyHeaders);
  if (copy === null) return null;
  s.copyHeaders = copy;
  return s;
}

class AuthRoot extends RootContext {
  settings: Settings = new Settings();

  onConfigure(pluginConfigurationSize: u32): bool {
    const bytes: ArrayBuffer | null = pluginConfigurationSize == 0 ? null : this.getPluginConfiguration();
    const config: JsonValue | null = bytes === null ? null : parseJsonBytes(bytes);
    if (config === null || config.kind != JsonKind.Object) {
      const why = bytes === null ? "it is missing" : config === null ? "not valid JSON: " + jsonError() : "not a JSON object";
      logError('auth-callout: the configuration must be a JSON object with at least {"cluster": "<auth cluster>"}: ' + why);
      return false;
    }
    const s = readSettings(config);
    if (s === null) {
      logError("auth-callout: " + problem);
      return false;
    }
    this.settings = s;
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new AuthFilter(contextId, this.settings);
  }
}

class AuthFilter extends HttpContext {
  private token: u32 = 0;

  constructor(
    contextId: u32,
    private settings: Settings,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const s = this.settings;
    // Identity headers come only from the auth service.
    for (let i = 0, n = s.copyHeaders.length; i < n; i++) this.removeHttpRequestHeader(unchecked(s.copyHeaders[i]));
    const headers: Header[] = [
      new Header(":method", "GET"),
      new Header(":path", s.path),
      new Header(":authority", s.authority),
      new Header("x-original-method", this.getHttpRequestMethod()),
      new Header("x-original-host", this.getHttpRequestHost()),
      new Header("x-original-uri", this.getHttpRequestPath()),
    ];
    for (let i = 0, n = s.forwardHeaders.length; i < n; i++) {
      const name = unchecked(s.forwardHeaders[i]);
      const value = this.getHttpRequestHeader(name);
      if (value !== null) headers.push(new Header(name, value));
    }
    const token = this.dispatchHttpCall(s.cluster, headers, null, [], s.timeoutMs);
    if (token == 0) {
      failed.increment();
      logWarn("auth-callout: cannot call cluster '" + s.cluster + "' (status " + (<i32>lastStatus()).toString() + "); answering 503");
      this.sendHttpResponse(503, [], "auth service unavailable\n");
      return Action.Pause;
    }
    this.token = token;
    return Action.Pause;
  }

  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    if (token != this.token) return;
    this.token = 0;
    if (numHeaders == 0) {
      failed.increment();
      logWarn("auth-callout: the call to '" + this.settings.cluster + "' failed (timeout or reset); answering 503");
      this.sendHttpResponse(503, [], "auth service unavailable\n");
      return;
    }
    const status = this.getHttpCallResponseHeader(":status");
    if (status !== null && status.length == 3 && status.charCodeAt(0) == 0x32 /* 2xx */) {
      const copy = this.settings.copyHeaders;
      for (let i = 0, n = copy.length; i < n; i++) {
        const name = unchecked(copy[i]);
        const value = this.getHttpCallResponseHeader(name);
        if (value !== null) this.setHttpRequestHeader(name, value);
      }
      allowed.increment();
      this.resumeHttpRequest();
      return;
    }
    denied.increment();
    const reason = this.getHttpCallResponseHeader("x-auth-reason");
    const why = reason !== null ? reason : "auth service answered " + (status !== null ? status : "no status");
    this.sendHttpResponse(403, [], "access denied: " + why + "\n");
  }
}

setRootContext((contextId: u32): RootContext => new AuthRoot(contextId));
