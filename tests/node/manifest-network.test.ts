// `manifest` deploys a network (TCP) filter as a network filter: the type is read from the module's
// exports (--type overrides, a module with both kinds of callbacks needs it), a WasmPlugin says
// `type: NETWORK`, envoy.yaml puts envoy.filters.network.wasm before tcp_proxy, and the EnvoyFilter
// pair patches NETWORK_FILTER with the network Wasm type.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import { buildManifests, type ManifestFlags } from "../../src/manifest/build.js";
import { exportedKind } from "../../src/manifest/plugin-type.js";
import { loadCrd, needCrd, validateWasmPlugin } from "./istio-crd.js";
import { checkListenerChains } from "./envoy-chain.js";
import { FakeRegistry, pushed, runCli } from "./fake-registry.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
let dir: string;
const files: Record<string, string> = {};
const STREAM = {
  http: ["proxy_on_request_headers", "proxy_on_response_headers"],
  network: ["proxy_on_new_connection", "proxy_on_downstream_data", "proxy_on_upstream_data"],
};

before(async () => {
  loadCrd();
  dir = await mkdtemp(join(tmpdir(), "pwa-manifest-net-"));
  const wabt = await wabtInit();
  const base = await readFile(join(ROOT, "tests/fixtures/oci/filter.wat"), "utf8");
  const variants: Record<string, string[]> = {
    http: STREAM.http,
    network: STREAM.network,
    both: [...STREAM.http, ...STREAM.network],
    root: [],
  };
  for (const [name, exports] of Object.entries(variants)) {
    const funcs = exports.map((e) => `  (func (export "${e}") (param i32 i32 i32) (result i32) i32.const 0)`).join("\n");
    const mod = wabt.parseWat(`${name}.wat`, base.replace(/\)\s*$/, `${funcs}\n)`));
    files[name] = join(dir, `${name}-filter.wasm`);
    await writeFile(files[name], Buffer.from(mod.toBinary({}).buffer));
    mod.destroy();
  }
});
after(() => rm(dir, { recursive: true, force: true }));

const warnings: string[] = [];
const build = (file: string | undefined, flags: ManifestFlags) =>
  buildManifests(file, { variant: "compat", ...flags }, (l) => warnings.push(l));
const image = { image: "registry.example.com/filters/tcp:v1" };

test("the exports say which kind of filter a module is", () => {
  const kind = (f: string) => exportedKind(readFileSync(f));
  assert.equal(kind(files.http).type, "HTTP");
  assert.equal(kind(files.network).type, "NETWORK");
  assert.deepEqual(kind(files.network).network, STREAM.network);
  assert.equal(kind(files.both).type, null);
  assert.equal(kind(files.root).type, null);
});

test("WasmPlugin: a module with network callbacks gets type NETWORK without --type, and validates", async (t) => {
  const net = (await build(files.network, { ...image, selector: ["app=redis"] })).docs[0] as { spec: Record<string, unknown> };
  assert.equal(net.spec.type, "NETWORK");
  if (needCrd(t)) assert.deepEqual(validateWasmPlugin(net), []);
  const http = (await build(files.http, image)).docs[0] as { spec: Record<string, unknown> };
  assert.equal(http.spec.type, undefined, "HTTP is Istio's default and is left out");
  const root = (await build(files.root, image)).docs[0] as { spec: Record<string, unknown> };
  assert.equal(root.spec.type, undefined, "a root-only module deploys as HTTP");
});

test("--type overrides the exports, with a warning when they disagree; both kinds of callbacks need --type", async () => {
  warnings.length = 0;
  const forced = (await build(files.network, { ...image, type: "http" })).docs[0] as { spec: Record<string, unknown> };
  assert.equal(forced.spec.type, "HTTP");
  assert.match(warnings.join("\n"), /--type HTTP, but the module exports only network callbacks \(proxy_on_new_connection/);
  await assert.rejects(
    build(files.both, image),
    /exports both HTTP callbacks \(proxy_on_request_headers, proxy_on_response_headers\) and network callbacks .*--type HTTP or --type NETWORK/,
  );
  const chosen = (await build(files.both, { ...image, type: "NETWORK" })).docs[0] as { spec: Record<string, unknown> };
  assert.equal(chosen.spec.type, "NETWORK");
  warnings.length = 0;
  await build(undefined, { image: `registry.example.com/filters/tcp@sha256:${"a".repeat(64)}` });
  assert.match(warnings.join("\n"), /without the \.wasm the filter type cannot be read/);
});

test("envoy.yaml: the network Wasm filter before tcp_proxy to the upstream, and the chain loads", async () => {
  const boot = (await build(files.network, { kind: "envoy", upstream: "127.0.0.1:6379", config: '{"peek_bytes":16}' })).docs[0] as any;
  const filters = boot.static_resources.listeners[0].filter_chains[0].filters;
  assert.deepEqual(
    filters.map((f: { name: string }) => f.name),
    ["envoy.filters.network.wasm", "envoy.filters.network.tcp_proxy"],
  );
  assert.equal(filters[0].typed_config["@type"], "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm");
  assert.deepEqual(filters[0].typed_config.config.configuration, {
    "@type": "type.googleapis.com/google.protobuf.StringValue",
    value: '{"peek_bytes":16}',
  });
  assert.equal(filters[1].typed_config.cluster, boot.static_resources.clusters[0].name);
  assert.deepEqual(checkListenerChains(boot), []);
  const http = (await build(files.http, { kind: "envoy", upstream: "127.0.0.1:8080" })).docs[0];
  assert.deepEqual(checkListenerChains(http), []);
});

test("the chain checker refuses what Envoy refuses", () => {
  const chain = (filters: object[]) => ({ static_resources: { listeners: [{ name: "l", filter_chains: [{ filters }] }] } });
  const wasm = {
    name: "envoy.filters.network.wasm",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm", config: { vm_config: { code: {} } } },
  };
  const tcp = {
    name: "envoy.filters.network.tcp_proxy",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy" },
  };
  assert.match(checkListenerChains(chain([tcp, wasm])).join("\n"), /terminal filter envoy\.filters\.network\.tcp_proxy must be the last/);
  assert.match(
    checkListenerChains(chain([{ ...wasm, name: "envoy.filters.http.wasm" }, tcp])).join("\n"),
    /typed_config is .*network\.wasm\.v3\.Wasm, not .*http\.wasm/,
  );
});

test("EnvoyFilter: the ECDS config has the network Wasm type and the patch inserts a NETWORK_FILTER before tcp_proxy", async () => {
  const [config, filter] = (await build(files.network, { kind: "envoyfilter", ...image, namespace: "db", selector: ["app=redis"] }))
    .docs as any[];
  const ecds = config.spec.configPatches[0];
  assert.equal(ecds.applyTo, "EXTENSION_CONFIG");
  assert.equal(ecds.patch.value.typed_config.type_url, "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm");
  const patch = filter.spec.configPatches[0];
  assert.equal(patch.applyTo, "NETWORK_FILTER");
  assert.deepEqual(patch.match, { listener: { filterChain: { filter: { name: "envoy.filters.network.tcp_proxy" } } } });
  assert.equal(patch.patch.operation, "INSERT_BEFORE");
  assert.equal(patch.patch.value.name, ecds.patch.value.name);
  assert.deepEqual(patch.patch.value.config_discovery.type_urls, ["type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm"]);
  const [, httpFilter] = (await build(files.http, { kind: "envoyfilter", ...image })).docs as any[];
  assert.equal(httpFilter.spec.configPatches[0].applyTo, "HTTP_FILTER");
});

test("Envoy Gateway refuses a network filter: its Wasm extensions are HTTP filters", async () => {
  await assert.rejects(
    build(files.network, { kind: "envoy-gateway", ...image, targetRef: ["Gateway/eg"] }),
    /network \(TCP\) filter, and Envoy Gateway's EnvoyExtensionPolicy runs Wasm only as HTTP filters/,
  );
});

test("--resolve reads the type from the image itself: no local file needed", async () => {
  const fake = await new FakeRegistry().start();
  try {
    const env = { DOCKER_CONFIG: join(dir, "no-docker-config") };
    // The stand-in callbacks have a placeholder signature; what matters here is their names.
    const { reference } = pushed(
      await runCli(["push", files.network, `${fake.host}/filters/tcp:v1`, "--insecure", "--no-verify"], { env }),
    );
    const r = await runCli(["manifest", "--image", reference, "--resolve", "--insecure", "--name", "tcp"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}type: NETWORK$/m);
    assert.doesNotMatch(r.stderr, /cannot be read from its exports/);
  } finally {
    await fake.stop();
  }
});
