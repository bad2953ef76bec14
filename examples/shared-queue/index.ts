// shared-queue: one module, two plugins (root_ids) that talk through a shared queue.
// - root_id "request-summary": an HTTP filter. When each request ends (onLog) it enqueues a short
//   summary "<status> <method> <authority>" on the queue it resolves by vm_id and name.
// - root_id "request-summary-aggregator": registers that queue, drains it on onQueueReady, keeps
//   counters (request_summary.requests, .status_2xx ... .status_5xx, .no_response, .malformed) and
//   logs a report of the last interval on every tick (requests by status class, busiest authorities).
//   In Envoy it runs once, as a singleton WasmService on the main thread: every worker's filter VM
//   feeds the same aggregator.
// Configuration (JSON, optional):
//   request-summary:            {"queue": "request_summaries", "aggregator_vm_id": "aggregator"}
//                               (aggregator_vm_id defaults to the filter's own vm_id)
//   request-summary-aggregator: {"queue": "request_summaries", "report_seconds": 10, "top": 3}
import {
  Counter,
  HttpContext,
  JsonKind,
  JsonValue,
  RootContext,
  Status,
  bytesToString,
  encodeUtf8,
  jsonError,
  logError,
  logInfo,
  logWarn,
  parseJson,
  properties,
  registerRootContext,
} from "proxy-wasm-as";

const DEFAULT_QUEUE = "request_summaries";

// ---------------------------------------------------------------- the HTTP filter (producer)

const dropped = new Counter("request_summary.dropped");

class SummaryRoot extends RootContext {
  queueName: string = DEFAULT_QUEUE;
  aggregatorVmId: string = "";
  queueId: u32 = 0;
  warned: bool = false;

  onConfigure(pluginConfigurationSize: u32): bool {
    const config = readConfig(this, "request-summary");
    if (config === null) return false;
    const queue = stringField(config, "queue", DEFAULT_QUEUE);
    const own = properties.pluginVmId();
    const vmId = stringField(config, "aggregator_vm_id", own !== null ? own : "");
    if (queue === null || vmId === null) return false;
    this.queueName = queue;
    this.aggregatorVmId = vmId;
    this.queueId = 0;
    this.warned = false;
    // The aggregator may start after us: resolve now if we can, otherwise on the next request.
    this.resolve();
    return true;
  }

  /** The queue's id, resolving it when not known yet; 0 while nobody registered it. */
  resolve(): u32 {
    if (this.queueId == 0) {
      this.queueId = this.resolveSharedQueue(this.aggregatorVmId, this.queueName);
      if (this.queueId != 0 && this.warned) {
        logInfo("request-summary: found queue '" + this.queueName + "' of vm '" + this.aggregatorVmId + "'");
        this.warned = false;
      }
    }
    return this.queueId;
  }

  send(summary: string): void {
    if (this.resolve() == 0) {
      this.drop("is not registered (is the aggregator running?)");
      return;
    }
    const message = encodeUtf8(summary);
    let status = this.enqueueSharedQueue(this.queueId, message);
    if (status == Status.NotFound) {
      // The queue went away (its VM was replaced): resolve again once.
      this.queueId = 0;
      status = this.resolve() == 0 ? Status.NotFound : this.enqueueSharedQueue(this.queueId, message);
    }
    if (status != Status.Ok) this.drop("refused the message (status " + (<i32>status).toString() + ")");
  }

  /** Counts a lost summary; warns once until the queue works again, not on every request. */
  drop(why: string): void {
    dropped.increment();
    if (!this.warned) {
      this.warned = true;
      logWarn("request-summary: queue '" + this.queueName + "' of vm '" + this.aggregatorVmId + "' " + why + "; summaries are dropped");
    }
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new SummaryFilter(contextId, this);
  }
}

class SummaryFilter extends HttpContext {
  constructor(
    contextId: u32,
    private root: SummaryRoot,
  ) {
    super(contextId);
  }

  // After the response (or a reset): request headers and response properties are readable here.
  onLog(): void {
    const code = properties.responseCode(); // -1 when no response was sent
    const method = this.getHttpRequestMethod();
    const authority = this.getHttpRequestHost();
    this.root.send(
      (code >= 0 ? code.toString() : "-") + " " + (method.length > 0 ? method : "-") + " " + (authority.length > 0 ? authority : "-"),
    );
  }
}

// ---------------------------------------------------------------- the aggregator (consumer)

const requests = new Counter("request_summary.requests");
const byClass: Counter[] = [
  new Counter("request_summary.status_1xx"),
  new Counter("request_summary.status_2xx"),
  new Counter("request_summary.status_3xx"),
  new Counter("request_summary.status_4xx"),
  new Counter("request_summary.status_5xx"),
];
const noResponse = new Counter("request_summary.no_response");
const malformed = new Counter("request_summary.malformed");

// At most this many authorities are counted per interval; the rest are added up as "(other)".
const MAX_AUTHORITIES: i32 = 1000;

class AggregatorRoot extends RootContext {
  queueName: string = DEFAULT_QUEUE;
  reportSeconds: i64 = 10;
  top: i32 = 3;
  queueId: u32 = 0;
  // Counts since the last report.
  interval: u64 = 0;
  classes: StaticArray<u64> = new StaticArray<u64>(6); // 1xx..5xx, then "no response"
  authorities: Map<string, u64> = new Map<string, u64>();
  otherAuthorities: u64 = 0;

  onConfigure(pluginConfigurationSize: u32): bool {
    const config = readConfig(this, "request-summary-aggregator");
    if (config === null) return false;
    const queue = stringField(config, "queue", DEFAULT_QUEUE);
    if (queue === null) return false;
    const seconds = config.get("report_seconds");
    const top = config.get("top");
    this.reportSeconds = seconds === null ? 10 : seconds.asInteger(-1);
    this.top = top === null ? 3 : <i32>top.asInteger(-1);
    if (this.reportSeconds < 0 || this.reportSeconds > 86400 || this.top < 0 || this.top > 100) {
      logError("request-summary-aggregator: 'report_seconds' must be a whole number from 0 to 86400 and 'top' from 0 to 100");
      return false;
    }
    this.queueName = queue;
    this.queueId = this.registerSharedQueue(queue);
    if (this.queueId == 0) {
      logError("request-summary-aggregator: could not register queue '" + queue + "'");
      return false;
    }
    this.setTickPeriod(<u32>(this.reportSeconds * 1000));
    return true;
  }

  onQueueReady(queueId: u32): void {
    if (queueId != this.queueId) return;
    // Drain everything: one notification can stand for several messages.
    let message = this.dequeueSharedQueue(queueId);
    while (message !== null) {
      this.add(bytesToString(message));
      message = this.dequeueSharedQueue(queueId);
    }
  }

  add(summary: string): void {
    const a = summary.indexOf(" ");
    const b = a < 0 ? -1 : summary.indexOf(" ", a + 1);
    if (b < 0) {
      malformed.increment();
      return;
    }
    const code = summary.substring(0, a);
    let cls: i32 = -1;
    if (code == "-") cls = 5;
    else if (code.length == 3) {
      const c = code.charCodeAt(0) - 0x30;
      if (c >= 1 && c <= 5 && isDigit(code.charCodeAt(1)) && isDigit(code.charCodeAt(2))) cls = c - 1;
    }
    if (cls < 0) {
      malformed.increment();
      return;
    }
    requests.increment();
    if (cls == 5) noResponse.increment();
    else unchecked(byClass[cls]).increment();
    this.interval++;
    unchecked((this.classes[cls] += 1));
    const authority = summary.substring(b + 1);
    const m = this.authorities;
    if (m.has(authority)) m.set(authority, m.get(authority) + 1);
    else if (m.size < MAX_AUTHORITIES) m.set(authority, 1);
    else this.otherAuthorities++;
  }

  onTick(): void {
    if (this.interval == 0) return;
    let line = "request summary: " + this.interval.toString() + " requests (";
    const names = ["1xx", "2xx", "3xx", "4xx", "5xx", "no response"];
    let first = true;
    for (let i = 0; i < 6; i++) {
      const n = unchecked(this.classes[i]);
      if (n == 0) continue;
      line += (first ? "" : ", ") + names[i] + " " + n.toString();
      first = false;
    }
    line += ")";
    if (this.top > 0) line += "; top authorities: " + this.topAuthorities();
    logInfo(line);
    this.interval = 0;
    for (let i = 0; i < 6; i++) unchecked((this.classes[i] = 0));
    this.authorities.clear();
    this.otherAuthorities = 0;
  }

  /** "a (3), b (2)": the `top` busiest authorities, most requests first, ties by name. */
  topAuthorities(): string {
    const keys = this.authorities.keys();
    const counts = new Array<u64>(keys.length);
    for (let i = 0; i < keys.length; i++) counts[i] = this.authorities.get(keys[i]);
    let out = "";
    const n = min(this.top, keys.length);
    for (let k = 0; k < n; k++) {
      let best = -1;
      for (let i = 0; i < keys.length; i++) {
        if (counts[i] == u64.MAX_VALUE) continue;
        if (best < 0 || counts[i] > counts[best] || (counts[i] == counts[best] && keys[i] < keys[best])) best = i;
      }
      out += (k > 0 ? ", " : "") + keys[best] + " (" + counts[best].toString() + ")";
      counts[best] = u64.MAX_VALUE;
    }
    if (this.otherAuthorities > 0) out += (n > 0 ? ", " : "") + "(other) (" + this.otherAuthorities.toString() + ")";
    return out;
  }

  // Under Istio both plugins are HTTP filters on the same VM, so the aggregator's root gets
  // streams too: let them through untouched.
  createHttpContext(contextId: u32): HttpContext | null {
    return new HttpContext(contextId);
  }
}

// ---------------------------------------------------------------- configuration helpers

/** The plugin configuration as a JSON object ({} when empty); null (logged) when invalid. */
function readConfig(root: RootContext, who: string): JsonValue | null {
  const text = root.getPluginConfigurationString();
  if (text.length == 0) return JsonValue.newObject();
  const config = parseJson(text);
  if (config === null) {
    logError(who + ": the configuration is not valid JSON: " + jsonError());
    return null;
  }
  if (config.kind != JsonKind.Object) {
    logError(who + ": the configuration must be a JSON object, not " + config.typeName());
    return null;
  }
  return config;
}

/** Optional string member `key`: its value, `fallback` when absent or null, null (logged) for another type. */
function stringField(config: JsonValue, key: string, fallback: string): string | null {
  const v = config.get(key);
  if (v === null || v.kind == JsonKind.Null) return fallback;
  const s = v.asString();
  if (s === null) logError("shared-queue: '" + key + "' must be a string, not " + v.typeName());
  return s;
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

registerRootContext("request-summary", (contextId: u32): RootContext => new SummaryRoot(contextId));
registerRootContext("request-summary-aggregator", (contextId: u32): RootContext => new AggregatorRoot(contextId));
