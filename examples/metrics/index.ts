// metrics: request statistics as Envoy metrics (the filter changes nothing in the traffic).
//   http_stats.requests.method.<METHOD>.class.<Nxx>   counter per method and status class
//   http_stats.active_requests                        gauge: streams between request headers and the end
//   http_stats.latency_ms                             histogram: request headers -> response headers
//   http_stats.request_body_bytes, .response_body_bytes   histograms: body sizes
// Envoy shows them as wasmcustom.http_stats.*; envoy.yaml turns the method and class parts of the
// counter's name into tags (stats_tags), so Prometheus sees
// wasmcustom_http_stats_requests{method="GET",status_class="2xx"}.
// Methods outside the standard nine count as OTHER and statuses that are not 1xx-5xx as "other",
// so a client cannot create metrics at will. A stream reset before any response counts as "none".
// Metrics are defined with the host on first use, so they can be module-level constants.
import { Action, Counter, Gauge, Histogram, HttpContext, setHttpContext } from "proxy-wasm-as";

const METHODS: string[] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"];
const CLASSES: string[] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other", "none"];
const OTHER_METHOD = 9;
const OTHER_CLASS = 5;
const NO_RESPONSE = 6;

// One counter per (method, class), created when first needed.
const requests = new StaticArray<Counter | null>(METHODS.length * CLASSES.length);
const active = new Gauge("http_stats.active_requests");
const latency = new Histogram("http_stats.latency_ms");
const requestBytes = new Histogram("http_stats.request_body_bytes");
const responseBytes = new Histogram("http_stats.response_body_bytes");

function methodIndex(method: string): i32 {
  for (let i = 0; i < OTHER_METHOD; i++) if (unchecked(METHODS[i]) == method) return i;
  return OTHER_METHOD;
}

function classIndex(status: string | null): i32 {
  if (status === null) return NO_RESPONSE;
  if (status.length != 3) return OTHER_CLASS;
  const c = status.charCodeAt(0) - 0x31; // '1' -> 0
  return c >= 0 && c < 5 ? c : OTHER_CLASS;
}

function requestCounter(method: i32, klass: i32): Counter {
  const i = method * CLASSES.length + klass;
  let c = unchecked(requests[i]);
  if (c === null) {
    c = new Counter("http_stats.requests.method." + unchecked(METHODS[method]) + ".class." + unchecked(CLASSES[klass]));
    unchecked((requests[i] = c));
  }
  return c;
}

class StatsFilter extends HttpContext {
  private methodId: i32 = -1;
  private statusClass: i32 = NO_RESPONSE;
  private startNanos: u64 = 0;
  private requestSize: u64 = 0;
  private responseSize: u64 = 0;

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const m = this.getHttpRequestHeader(":method");
    this.methodId = methodIndex(m !== null ? m : "");
    this.startNanos = this.getCurrentTime();
    active.add(1);
    return Action.Continue;
  }

  onHttpRequestBody(bodySize: u32, endOfStream: bool): Action {
    // Continue: each call carries one chunk of `bodySize` bytes.
    this.requestSize += bodySize;
    return Action.Continue;
  }

  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    this.statusClass = classIndex(this.getHttpResponseHeader(":status"));
    const now = this.getCurrentTime();
    // The clock can step back; a host without a clock returns 0.
    if (this.startNanos != 0 && now >= this.startNanos) latency.record((now - this.startNanos) / 1_000_000);
    return Action.Continue;
  }

  onHttpResponseBody(bodySize: u32, endOfStream: bool): Action {
    this.responseSize += bodySize;
    return Action.Continue;
  }

  onLog(): void {
    if (this.methodId < 0) return; // no request headers were seen
    requestCounter(this.methodId, this.statusClass).increment();
    requestBytes.record(this.requestSize);
    responseBytes.record(this.responseSize);
    active.add(-1);
  }
}

setHttpContext((contextId: u32, rootContextId: u32): HttpContext => new StatsFilter(contextId));
