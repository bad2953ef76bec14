// The documented effect of each example, checked by soak-examples every CHECK_EVERY requests (and
// after the last one) on the host that has taken the soak traffic so far: a probe request or
// connection with known inputs, and the answer the example's README promises. Every example under
// examples/ must have an entry here; a new example without one fails the soak with a message.
import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import type { Host, HttpStream } from "../../src/host/index.js";

type Plugin = Pick<Host, "httpStream" | "tcpConnection" | "tick">;

export interface CheckContext {
  host: Host;
  /** The plugin of the example's wasmplugin.yaml with this pluginName (the host itself for the first). */
  plugin(name: string): Plugin;
  /** Soak requests (or connections) sent through each plugin so far. */
  requests: number;
  /** Kept between the checks of one example: probes sent so far, counter values seen. */
  state: Record<string, number>;
  /** Where the check runs, for assertion messages. */
  at: string;
}

export type ExampleCheck = (ctx: CheckContext) => void;

const GET: Array<[string, string]> = [
  [":method", "GET"],
  [":path", "/soak-probe"],
  [":authority", "probe.example.com"],
  [":scheme", "http"],
];

function probe(plugin: Plugin, extra: Array<[string, string]> = []): HttpStream {
  const http = plugin.httpStream();
  http.requestHeaders([...GET, ...extra], true);
  return http;
}

/** A probe the upstream answers 200 (what most filters see), completed. */
function throughUpstream(http: HttpStream, headers: Array<[string, string]> = [], body = "upstream body"): void {
  http.responseHeaders([[":status", "200"], ["content-type", "text/plain"], ...headers], false);
  http.responseBody(body, true);
}

const counter = (host: Host, name: string) => host.metric(name)?.value ?? 0;
const header = (headers: Array<[string, string]>, name: string) => headers.filter(([k]) => k === name).map(([, v]) => v);

/** A protobuf message of one length-delimited string field (CheckResponse { subject = 1 }). */
function protoString(field: number, s: string): Uint8Array {
  const data = Buffer.from(s, "utf8");
  assert.ok(data.length < 128, "one-byte length");
  return Buffer.concat([Buffer.from([(field << 3) | 2, data.length]), data]);
}

const TEXT = "soak probe text, compressible. ".repeat(20);

export const exampleChecks: Record<string, ExampleCheck> = {
  "x-service-name": ({ host, at }) => {
    const http = probe(host);
    const local = http.sentHttpResponse;
    assert.ok(local, `x-service-name answers itself ${at}`);
    assert.equal(local.status, 200, at);
    assert.deepEqual(header(local.headers, "x-service-name"), ["my-custom-service"], at);
    assert.equal(local.body.toString(), "Hello from Wasm!\n", at);
    http.complete();
  },

  "add-header": ({ host, at }) => {
    const http = probe(host);
    assert.equal(http.sentHttpResponse, null, at);
    throughUpstream(http);
    assert.deepEqual(http.response.headerValues("x-service-name"), ["my-custom-service"], at);
    assert.equal(http.response.body.toString(), "upstream body", at);
    http.complete();
  },

  "config-headers": ({ host, at }) => {
    const http = probe(host, [
      ["x-debug", "1"],
      ["x-env", "dev"],
    ]);
    assert.equal(http.request.header("x-debug"), undefined, `request.remove ${at}`);
    assert.deepEqual(http.request.headerValues("x-env"), ["prod"], `request.set ${at}`);
    assert.deepEqual(http.request.headerValues("x-via"), ["wasm"], `request.add ${at}`);
    throughUpstream(http, [
      ["server", "upstream"],
      ["cache-control", "max-age=60"],
    ]);
    assert.equal(http.response.header("server"), undefined, `response.remove ${at}`);
    assert.deepEqual(http.response.headerValues("cache-control"), ["no-store"], `response.set ${at}`);
    assert.deepEqual(http.response.headerValues("x-filtered-by"), ["config-headers"], `response.add ${at}`);
    http.complete();
  },

  "auth-callout": ({ host, at }) => {
    const allowed = probe(host, [
      ["authorization", "Bearer good"],
      ["x-user", "spoofed"],
    ]);
    assert.equal(host.httpCalls.length, 1, `one auth call ${at}`);
    host.httpCalls[0].respond({
      headers: [
        [":status", "200"],
        ["x-user", "alice"],
      ],
      body: "",
    });
    assert.equal(allowed.sentHttpResponse, null, `an authorized request goes upstream ${at}`);
    assert.equal(allowed.request.paused, false, at);
    assert.deepEqual(allowed.request.headerValues("x-user"), ["alice"], `x-user from the auth answer ${at}`);
    throughUpstream(allowed);
    allowed.complete();
    const refused = probe(host, [["authorization", "Bearer bad"]]);
    host.httpCalls[0].respond({
      headers: [
        [":status", "401"],
        ["x-auth-reason", "soak says no"],
      ],
      body: "",
    });
    assert.equal(refused.sentHttpResponse?.status, 403, `an unauthorized request is refused ${at}`);
    assert.equal(refused.sentHttpResponse?.body.toString(), "access denied: soak says no\n", at);
    refused.complete();
  },

  "grpc-callout": ({ host, at }) => {
    const allowed = probe(host, [
      ["authorization", "Bearer good"],
      ["x-auth-subject", "spoofed"],
    ]);
    assert.equal(host.grpcCalls.length, 1, `one gRPC call ${at}`);
    const call = host.grpcCalls[0];
    assert.equal(call.kind, "call", at);
    if (call.kind === "call") call.respond(protoString(1, "soak-subject"));
    assert.equal(allowed.sentHttpResponse, null, `an OK answer lets the request through ${at}`);
    assert.deepEqual(allowed.request.headerValues("x-auth-subject"), ["soak-subject"], at);
    throughUpstream(allowed);
    allowed.complete();
    const denied = probe(host, [["authorization", "Bearer bad"]]);
    host.grpcCalls[0].close(7, "denied by soak");
    assert.equal(denied.sentHttpResponse?.status, 403, `PERMISSION_DENIED is a 403 ${at}`);
    assert.equal(denied.sentHttpResponse?.body.toString(), "access denied: denied by soak\n", at);
    denied.complete();
  },

  "rate-limit": ({ host, state, at }) => {
    // A client key of its own (capacity 5 in wasmplugin.yaml): five requests pass, the sixth is refused.
    const key = `soak-probe-${(state.probes = (state.probes ?? 0) + 1)}`;
    for (let n = 1; n <= 6; n++) {
      const http = probe(host, [["x-api-key", key]]);
      if (n <= 5) {
        assert.equal(http.sentHttpResponse, null, `request ${n} of ${key} is within the limit ${at}`);
        throughUpstream(http);
      } else {
        assert.equal(http.sentHttpResponse?.status, 429, `request ${n} of ${key} is past the limit ${at}`);
        assert.equal(header(http.sentHttpResponse.headers, "retry-after").length, 1, `429 has retry-after ${at}`);
      }
      http.complete();
    }
  },

  "body-rewrite": ({ host, at }) => {
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "POST"],
        [":path", "/login"],
        [":authority", "api"],
        ["content-type", "application/json"],
      ],
      false,
    );
    http.requestBody('{"user":"ann","password":', false);
    http.requestBody('"hunter2","card":"4111-1111-1111-1111"}', true);
    assert.equal(http.request.body.toString(), '{"user":"ann","password":"[redacted]","card":"****-****-****-1111"}', at);
    throughUpstream(http);
    http.complete();
  },

  metrics: ({ host, requests, state, at }) => {
    const total = () =>
      host.metrics.filter((m) => m.type === "counter" && m.name.startsWith("http_stats.requests.")).reduce((sum, m) => sum + m.value, 0);
    const probes = state.probes ?? 0;
    assert.equal(total(), requests + probes, `one count per finished stream ${at}`);
    const before = counter(host, "http_stats.requests.method.PATCH.class.2xx");
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "PATCH"],
        [":path", "/soak-probe"],
        [":authority", "probe.example.com"],
      ],
      true,
    );
    throughUpstream(http);
    http.complete();
    state.probes = probes + 1;
    assert.equal(total(), requests + probes + 1, `the probe counted once ${at}`);
    assert.equal(counter(host, "http_stats.requests.method.PATCH.class.2xx") - before, 1, `the probe counted as PATCH 2xx ${at}`);
  },

  properties: ({ host, at }) => {
    const http = host.httpStream({ properties: { "source.address": "10.9.8.7:6543", "source.port": 6543 } });
    http.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "shop.example.com"],
        ["x-canary", "1"],
      ],
      true,
    );
    assert.deepEqual(http.request.headerValues("x-client-address"), ["10.9.8.7:6543"], at);
    assert.deepEqual(http.request.headerValues("x-client-port"), ["6543"], at);
    assert.deepEqual(http.request.headerValues("x-connection-id"), [String(http.connectionId)], at);
    assert.equal(http.request.header(":authority"), "canary.internal", `canary routing ${at}`);
    assert.equal(http.request.header("x-forwarded-host"), "shop.example.com", at);
    throughUpstream(http);
    http.complete();
  },

  "shared-queue": ({ host, plugin, requests, state, at }) => {
    // Every request through the request-summary filter reaches the aggregator through the queue.
    const probes = state.probes ?? 0;
    assert.equal(counter(host, "request_summary.requests"), requests + probes, `every summary delivered ${at}`);
    const before = counter(host, "request_summary.status_4xx");
    const http = probe(plugin("request-summary"));
    http.responseHeaders([[":status", "418"]], true);
    http.complete();
    state.probes = probes + 1;
    assert.equal(counter(host, "request_summary.requests"), requests + probes + 1, `the probe's summary delivered ${at}`);
    assert.equal(counter(host, "request_summary.status_4xx") - before, 1, `the probe counted as 4xx ${at}`);
    assert.equal(counter(host, "request_summary.dropped"), 0, at);
    assert.equal(host.queue("request_summaries", "")?.messages.length ?? 0, 0, `the queue is drained ${at}`);
  },

  "tcp-logger": ({ host, requests, state, at }) => {
    const probes = state.probes ?? 0;
    assert.equal(counter(host, "tcp_logger.connections"), requests + probes, `one count per connection ${at}`);
    const client = counter(host, "tcp_logger.bytes_from_client");
    const upstream = counter(host, "tcp_logger.bytes_from_upstream");
    const conn = host.tcpConnection();
    conn.downstreamData("PING\r\n");
    conn.upstreamData("+PONG\r\n");
    assert.equal(conn.downstream.forwardedData.toString(), "PING\r\n", `data passes unchanged ${at}`);
    assert.equal(conn.upstream.forwardedData.toString(), "+PONG\r\n", at);
    assert.equal(counter(host, "tcp_logger.active_connections"), 1, at);
    conn.closeDownstream();
    state.probes = probes + 1;
    assert.equal(counter(host, "tcp_logger.bytes_from_client") - client, 6, at);
    assert.equal(counter(host, "tcp_logger.bytes_from_upstream") - upstream, 7, at);
    assert.equal(counter(host, "tcp_logger.active_connections"), 0, at);
  },

  "foreign-function": ({ host, at }) => {
    const http = probe(host, [["accept-encoding", "gzip, deflate"]]);
    http.responseHeaders(
      [
        [":status", "200"],
        ["content-type", "text/plain"],
      ],
      false,
    );
    http.responseBody(TEXT, true);
    assert.equal(http.response.header("content-encoding"), "deflate", `compressed by the foreign function ${at}`);
    assert.equal(inflateSync(http.response.body).toString(), TEXT, at);
    http.complete();
  },
};
