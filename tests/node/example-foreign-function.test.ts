// examples/foreign-function: response compression through the host's "compress" foreign function
// (registered here like Envoy's: zlib data), and the fallbacks on hosts that lack it or fail.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { parse } from "yaml";
import { Status } from "../../src/abi.js";
import { createHost, Action, LogLevel, type Host, type HostOptions, type HttpStream } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

/** Envoy's "compress": zlib compress() of the arguments. Records every call. */
function envoyCompress(calls: Buffer[] = []) {
  return (args: Uint8Array) => {
    calls.push(Buffer.from(args));
    return zlib.deflateSync(args);
  };
}

async function start(options: Partial<HostOptions> = {}): Promise<Host> {
  const { wasm } = await built("examples/foreign-function/index.ts");
  const host = await createHost({ wasm, foreignFunctions: { compress: envoyCompress() }, ...options });
  assert.equal(host.startPlugin(), true);
  return host;
}

const TEXT = "The quick brown fox jumps over the lazy dog. ".repeat(40);

function exchange(
  host: Host,
  opts: {
    accept?: string;
    method?: string;
    response?: Array<[string, string]>;
    chunks?: Array<string | Buffer>;
    trailers?: Array<[string, string]>;
  } = {},
): HttpStream {
  const http = host.httpStream();
  const request: Array<[string, string]> = [
    [":method", opts.method ?? "GET"],
    [":path", "/page"],
    [":authority", "example.com"],
  ];
  if (opts.accept !== undefined) request.push(["accept-encoding", opts.accept]);
  http.requestHeaders(request, true);
  const chunks = opts.chunks ?? [TEXT.slice(0, 700), TEXT.slice(700)];
  http.responseHeaders(
    opts.response ?? [
      [":status", "200"],
      ["content-type", "text/html; charset=utf-8"],
    ],
    chunks.length === 0 && !opts.trailers,
  );
  chunks.forEach((c, i) => http.responseBody(c, i === chunks.length - 1 && !opts.trailers));
  if (opts.trailers) http.responseTrailers(opts.trailers);
  return http;
}

const metric = (host: Host, name: string) => host.metric(name)?.value ?? 0;

test("foreign-function: compresses an eligible response with the host's compress function", async () => {
  const calls: Buffer[] = [];
  const host = await start({ foreignFunctions: { compress: envoyCompress(calls) } });
  assert.deepEqual(host.logMessages(LogLevel.Info), ["foreign-function: host function 'compress' found; compressing responses"]);
  calls.length = 0; // the probe at configure time
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
      ["accept-encoding", "gzip, deflate, br"],
    ],
    true,
  );
  assert.equal(
    http.responseHeaders(
      [
        [":status", "200"],
        ["content-type", "text/html"],
        ["content-length", String(TEXT.length)],
        ["etag", '"v1"'],
      ],
      false,
    ),
    Action.Continue,
  );
  assert.equal(http.response.header("content-encoding"), "deflate");
  assert.equal(http.response.header("content-length"), undefined);
  assert.equal(http.response.header("vary"), "accept-encoding");
  assert.equal(http.response.header("etag"), 'W/"v1"');
  // The body is held until the end, then replaced by its compressed form.
  assert.equal(http.responseBody(TEXT.slice(0, 1000), false), Action.Pause);
  assert.equal(http.responseBody(TEXT.slice(1000), true), Action.Continue);
  assert.deepEqual(
    calls.map((c) => c.toString()),
    [TEXT],
    "one call with the whole body",
  );
  const body = http.response.body;
  assert.ok(body.length < TEXT.length / 4, `compressed ${TEXT.length} -> ${body.length}`);
  assert.equal(zlib.inflateSync(body).toString(), TEXT, "a client's inflate gets the original back");
  http.complete();
  assert.equal(metric(host, "deflate.responses"), 1);
  assert.equal(metric(host, "deflate.bytes_in"), TEXT.length);
  assert.equal(metric(host, "deflate.bytes_out"), body.length);
});

test("foreign-function: leaves responses alone when the client or the response does not allow deflate", async () => {
  const host = await start();
  const cases: Array<[string, Parameters<typeof exchange>[1]]> = [
    ["no accept-encoding", {}],
    ["gzip only", { accept: "gzip, br" }],
    ["deflate;q=0", { accept: "gzip, deflate;q=0" }],
    ["*;q=0", { accept: "*;q=0.000" }],
    ["HEAD", { accept: "deflate", method: "HEAD" }],
    [
      "already encoded",
      {
        accept: "deflate",
        response: [
          [":status", "200"],
          ["content-type", "text/html"],
          ["content-encoding", "gzip"],
        ],
      },
    ],
    [
      "image/png",
      {
        accept: "deflate",
        response: [
          [":status", "200"],
          ["content-type", "image/png"],
        ],
      },
    ],
    ["no content-type", { accept: "deflate", response: [[":status", "200"]] }],
    [
      "small content-length",
      {
        accept: "deflate",
        response: [
          [":status", "200"],
          ["content-type", "text/plain"],
          ["content-length", "10"],
        ],
        chunks: ["0123456789"],
      },
    ],
    [
      "no-transform",
      {
        accept: "deflate",
        response: [
          [":status", "200"],
          ["content-type", "text/plain"],
          ["cache-control", "public, No-Transform"],
        ],
      },
    ],
    [
      "206",
      {
        accept: "deflate",
        response: [
          [":status", "206"],
          ["content-type", "text/plain"],
        ],
      },
    ],
    ["no body", { accept: "deflate", chunks: [] }],
  ];
  for (const [name, opts] of cases) {
    const http = exchange(host, opts);
    assert.equal(http.response.header("content-encoding"), name === "already encoded" ? "gzip" : undefined, name);
    assert.equal(http.response.body.toString(), (opts!.chunks ?? [TEXT]).map(String).join(""), name);
    http.complete();
  }
  assert.equal(metric(host, "deflate.responses"), 0);
  // Accepted forms: any case, "*" and q-values above 0.
  for (const accept of ["DEFLATE", "*", "gzip;q=1, deflate;q=0.5", "identity, *;q=0.1"]) {
    const http = exchange(host, { accept });
    assert.equal(http.response.header("content-encoding"), "deflate", accept);
    assert.equal(zlib.inflateSync(http.response.body).toString(), TEXT);
  }
});

test("foreign-function: on a host without the function it warns once and passes every response through", async () => {
  for (const [foreignFunctions, status] of [
    [{}, "NotFound"],
    [{ compress: () => Status.Unimplemented }, "Unimplemented"],
  ] as const) {
    const host = await start({ foreignFunctions });
    assert.deepEqual(host.logMessages(LogLevel.Warn), [
      `foreign-function: host function 'compress' is not available (${status}); responses pass uncompressed`,
    ]);
    host.resetHostCalls();
    for (let i = 0; i < 50; i++) {
      const http = exchange(host, { accept: "deflate" });
      assert.equal(http.response.header("content-encoding"), undefined);
      assert.equal(http.response.body.toString(), TEXT);
      http.complete();
    }
    assert.equal(host.logMessages(LogLevel.Warn).length, 1, "no warning per request");
    assert.deepEqual(host.hostCalls(), {}, "and no host call per request at all");
  }
});

test("foreign-function: when the function fails on a body, the response is still valid deflate (stored blocks)", async () => {
  // Works for the probe, fails (SerializationFailure, as Envoy's compress can) for real bodies.
  const compress = (args: Uint8Array) => (args.length > 5 ? Status.SerializationFailure : zlib.deflateSync(args));
  const host = await start({ foreignFunctions: { compress } });
  for (const size of [1000, 65535, 65536, 200_000]) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 8)) & 0xff;
    const http = exchange(host, {
      accept: "deflate",
      response: [
        [":status", "200"],
        ["content-type", "application/json"],
      ],
      chunks: [data],
    });
    assert.equal(http.response.header("content-encoding"), "deflate");
    const out = http.response.body;
    assert.equal(out.length, 2 + Math.ceil(size / 65535) * 5 + size + 4, "stored blocks: no compression");
    assert.deepEqual(zlib.inflateSync(out), data, `size ${size}`);
    http.complete();
  }
  assert.deepEqual(host.logMessages(LogLevel.Warn), [
    "foreign-function: 'compress' failed (status 3); sending stored (uncompressed) deflate data",
  ]);
  assert.equal(metric(host, "deflate.fallbacks"), 4);
});

test("foreign-function: a response with trailers is compressed when the trailers arrive", async () => {
  const host = await start();
  const http = exchange(host, { accept: "deflate", trailers: [["x-checksum", "abc"]] });
  assert.equal(http.response.header("content-encoding"), "deflate");
  assert.equal(zlib.inflateSync(http.response.body).toString(), TEXT);
  assert.equal(http.response.trailer("x-checksum"), "abc");
});

test("foreign-function: configuration: another function name, thresholds and types; bad values are rejected", async () => {
  const calls: Buffer[] = [];
  const host = await start({
    pluginConfig: JSON.stringify({ function: "my_deflate", min_bytes: 0, content_types: ["Application/X-Custom"] }),
    foreignFunctions: { my_deflate: envoyCompress(calls) },
  });
  const http = exchange(host, {
    accept: "deflate",
    response: [
      [":status", "200"],
      ["content-type", "application/x-custom+v2"],
      ["content-length", "3"],
    ],
    chunks: ["abc"],
  });
  assert.equal(zlib.inflateSync(http.response.body).toString(), "abc");
  const html = exchange(host, { accept: "deflate" });
  assert.equal(html.response.header("content-encoding"), undefined, "text/html is no longer listed");

  const { wasm } = await built("examples/foreign-function/index.ts");
  for (const [config, message] of [
    ['{"min_bytes": -1}', "foreign-function: 'min_bytes' must be a whole number of bytes, 0 or more"],
    ['{"content_types": "text/"}', "foreign-function: 'content_types' must be a list of content-type prefixes"],
    ['{"content_types": ["text/", 3]}', "foreign-function: 'content_types' must be a list of content-type prefixes"],
    ['{"function": ""}', "foreign-function: 'function' must be a host function name"],
    ["[]", "foreign-function: the configuration must be a JSON object, not array"],
  ]) {
    const bad = await createHost({ wasm, pluginConfig: config });
    assert.equal(bad.startPlugin(), false, config);
    assert.deepEqual(
      bad.logMessages(LogLevel.Error).filter((m) => m.startsWith("foreign-function:")),
      [message],
    );
  }
});

test("foreign-function: envoy.yaml and wasmplugin.yaml configure what the tests run", async () => {
  const dir = path.join(repoRoot, "examples", "foreign-function");
  const envoy = parse(readFileSync(path.join(dir, "envoy.yaml"), "utf8"));
  const filter = envoy.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config;
  assert.equal(filter.vm_config.code.local.filename, "build/foreign-function.wasm");
  const plugin = parse(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8"));
  assert.equal(plugin.spec.pluginName, filter.root_id);
  assert.deepEqual(plugin.spec.pluginConfig, JSON.parse(filter.configuration.value));
  const host = await start({ pluginConfig: filter.configuration.value, rootId: filter.root_id });
  const http = exchange(host, { accept: "gzip, deflate" });
  assert.equal(zlib.inflateSync(http.response.body).toString(), TEXT);
});
