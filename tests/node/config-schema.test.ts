// Typed plugin configuration: a config.schema.json beside a filter's entry is embedded by `build` in a
// custom section; `manifest` and `run` refuse a configuration that does not match it, naming the
// field, before anything is written or served; `config-schema` prints it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { embedConfigSchema } from "../../src/build/config-schema.js";
import { appendCustomSection, embeddedConfigSchema, readCustomSection } from "../../src/config-schema/section.js";
import { checkConfigAgainstModule } from "../../src/config-schema/validate.js";
import { buildManifests } from "../../src/manifest/build.js";
import { startProxy } from "../../src/run/index.js";
import { verifyModule } from "../../src/verify.js";
import { assertFailed, runCli, wat } from "./fake-registry.js";
import { built, repoRoot } from "./helpers.js";

let dir: string;
let wasmPath: string;
let wasm: Uint8Array;
const schemaFile = join(repoRoot, "examples/config-headers/config.schema.json");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "pwa-config-schema-"));
  wasm = (await built("examples/config-headers/index.ts")).wasm;
  wasmPath = join(dir, "config-headers.wasm");
  await writeFile(wasmPath, wasm);
});
after(() => rm(dir, { recursive: true, force: true }));

test("build embeds config.schema.json in a custom section; the module still verifies and compiles", () => {
  assert.deepEqual(embeddedConfigSchema(wasm), JSON.parse(readFileSync(schemaFile, "utf8")));
  assert.equal(verifyModule(wasm).ok, true);
  assert.doesNotThrow(() => new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>));
});

test("the custom section round-trips, and a module without one has no schema", async () => {
  const plain = await wat("no schema here");
  assert.equal(embeddedConfigSchema(plain), null);
  const withOther = appendCustomSection(plain, "other", Buffer.from("x"));
  const both = appendCustomSection(withOther, "proxy-wasm-as.config-schema", Buffer.from('{"type":"object"}'));
  assert.equal(readCustomSection(both, "other")!.toString(), "x");
  assert.deepEqual(embeddedConfigSchema(both), { type: "object" });
  assert.doesNotThrow(() => new WebAssembly.Module(both));
});

test("build refuses a schema that is not JSON or not JSON Schema, naming the file", async () => {
  const entry = join(dir, "index.ts");
  const plain = new Uint8Array(await wat("build input"));
  await writeFile(join(dir, "config.schema.json"), "{ type: object }");
  await assert.rejects(embedConfigSchema(entry, plain), /config\.schema\.json is not JSON \(.*\); it must hold the JSON Schema/);
  await writeFile(join(dir, "config.schema.json"), '{"type":"strin"}');
  await assert.rejects(
    embedConfigSchema(entry, plain),
    /config\.schema\.json is not a valid JSON Schema: type must be equal to one of the allowed values/,
  );
  // Draft 2020-12 keywords work when the schema says so.
  await writeFile(
    join(dir, "config.schema.json"),
    '{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","prefixItems":[{"type":"string"}]}',
  );
  const out = await embedConfigSchema(entry, plain);
  assert.throws(
    () => checkConfigAgainstModule(out.wasm, "[1]", "--config"),
    /--config does not match the configuration schema of the filter: \[0\]: must be string/,
  );
  await rm(join(dir, "config.schema.json"));
  assert.equal((await embedConfigSchema(entry, plain)).wasm, plain, "no schema file: the module is unchanged");
});

test("config-schema prints the schema; --check tells whether a configuration matches", async () => {
  const printed = await runCli(["config-schema", wasmPath]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.deepEqual(JSON.parse(printed.stdout), JSON.parse(readFileSync(schemaFile, "utf8")));
  const ok = await runCli(["config-schema", wasmPath, "--check", '{"request":{"set":{"x-env":"prod"}}}']);
  assert.equal(ok.code, 0, ok.stderr);
  assertFailed(
    await runCli(["config-schema", wasmPath, "--check", '{"request":{"add":{"x-a":1}}}']),
    /--check does not match .*: request\.add\.x-a: must be string/,
  );
  const plain = join(dir, "plain.wasm");
  await writeFile(plain, await wat("plain"));
  assertFailed(
    await runCli(["config-schema", plain]),
    /plain\.wasm declares no configuration schema: put a config\.schema\.json beside the filter's entry \.ts and build again/,
  );
});

test("manifest refuses a pluginConfig that breaks the schema, naming the field, and writes nothing", async () => {
  const out = join(dir, "plugin.yaml");
  const bad = await runCli([
    "manifest",
    wasmPath,
    "--image",
    "r.example.com/ch:v1",
    "--config",
    '{"request":{"remove":["x-a",3]},"respnse":{}}',
    "-o",
    out,
  ]);
  assertFailed(
    bad,
    /--config does not match the configuration schema of .*config-headers\.wasm: respnse: is not a known field \(and 1 more: request\.remove\[1\]: must be string\)/,
  );
  assert.equal(existsSync(out), false, "nothing was written");
  await assert.rejects(
    buildManifests(wasmPath, { kind: "envoy", upstream: "127.0.0.1:1", config: '{"request":{"add":{"X-Up":"v"}}}' }, () => {}),
    /request\.add\.X-Up: is not an allowed name/,
  );
  // The example's own WasmPlugin configuration passes.
  const plugin = parseAllDocuments(readFileSync(join(repoRoot, "examples/config-headers/wasmplugin.yaml"), "utf8"))[0].toJS();
  const good = await buildManifests(wasmPath, { image: "r.example.com/ch:v1", config: JSON.stringify(plugin.spec.pluginConfig) }, () => {});
  assert.deepEqual((good.docs[0] as { spec: { pluginConfig: unknown } }).spec.pluginConfig, plugin.spec.pluginConfig);
});

test("run refuses a --config that breaks the schema at start-up, naming the field; a good one serves", async () => {
  await assert.rejects(
    startProxy({ filter: wasm, listen: "127.0.0.1:0", config: '{"response":{"set":{"cache-control":["no-store"]}}}', log: () => {} }),
    /--config does not match the configuration schema of \S+: response\.set\.cache-control: must be string/,
  );
  const proxy = await startProxy({
    filter: wasm,
    listen: "127.0.0.1:0",
    config: '{"response":{"set":{"cache-control":"no-store"}}}',
    log: () => {},
  });
  await proxy.close();
});
