// Every example is ready to deploy: its wasmplugin.yaml is a valid Istio WasmPlugin (the CRD's schema
// and CEL rules), its envoy.yaml loads build/<name>.wasm with the configuration as a StringValue, and
// the module built from index.ts accepts that root_id and configuration in the Envoy-like host.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { createHost } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";
import { loadCrd, needCrd, validateWasmPlugin } from "./istio-crd.js";
import { wasmConfigs } from "./envoy-config.js";
import { checkListenerChains } from "./envoy-chain.js";
import { exportedKind } from "../../src/manifest/plugin-type.js";
import { checkConfigAgainstModule } from "../../src/config-schema/validate.js";

const examplesDir = path.join(repoRoot, "examples");
const examples = readdirSync(examplesDir).filter((n) => existsSync(path.join(examplesDir, n, "index.ts")));

before(() => loadCrd());

test("there are examples to check", () => {
  assert.ok(examples.includes("x-service-name") && examples.includes("add-header"), examples.join(","));
});

for (const name of examples) {
  const dir = path.join(examplesDir, name);

  test(`${name}: has a README, an envoy.yaml and a wasmplugin.yaml`, () => {
    for (const f of ["README.md", "envoy.yaml", "wasmplugin.yaml"])
      assert.ok(existsSync(path.join(dir, f)), `examples/${name}/${f} is missing`);
  });

  test(`${name}: wasmplugin.yaml is a valid Istio WasmPlugin`, (t) => {
    if (!existsSync(path.join(dir, "wasmplugin.yaml")) || !needCrd(t)) return;
    const docs = parseAllDocuments(readFileSync(path.join(dir, "wasmplugin.yaml"), "utf8")).map((d) => d.toJS());
    const plugins = docs.filter((d) => d?.kind === "WasmPlugin");
    assert.ok(plugins.length >= 1, "no WasmPlugin document");
    for (const doc of plugins) {
      assert.deepEqual(validateWasmPlugin(doc), [], `${name}: ${doc.metadata?.name}`);
      assert.match(doc.spec.url, /^oci:\/\//);
    }
  });

  test(`${name}: envoy.yaml loads build/${name}.wasm, and the module accepts its root_id and configuration`, async () => {
    const file = path.join(dir, "envoy.yaml");
    if (!existsSync(file)) return assert.fail(`examples/${name}/envoy.yaml is missing`);
    const bootstrap = parse(readFileSync(file, "utf8"));
    assert.deepEqual(checkListenerChains(bootstrap), [], "Envoy would reject a listener");
    const configs = wasmConfigs(bootstrap);
    assert.ok(configs.length >= 1, "no Wasm filter in envoy.yaml");
    const { wasm } = await built(`examples/${name}/index.ts`);
    // The module's callbacks decide whether it is an HTTP or a network filter; envoy.yaml and the
    // WasmPlugin must deploy it as that.
    const type = exportedKind(wasm).type ?? "HTTP";
    const text = readFileSync(file, "utf8");
    assert.equal(text.includes("envoy.filters.network.wasm"), type === "NETWORK", `${name} is a ${type} filter`);
    const wpFile = path.join(dir, "wasmplugin.yaml");
    if (existsSync(wpFile)) {
      for (const doc of parseAllDocuments(readFileSync(wpFile, "utf8"))
        .map((d) => d.toJS())
        .filter((d) => d?.kind === "WasmPlugin")) {
        assert.equal(doc.spec.type ?? "HTTP", type, `${name}: WasmPlugin type`);
        if (doc.spec.pluginConfig !== undefined)
          checkConfigAgainstModule(wasm, JSON.stringify(doc.spec.pluginConfig), `examples/${name}/wasmplugin.yaml pluginConfig`, name);
      }
    }
    for (const c of configs) {
      assert.equal(c.vm_config?.code?.local?.filename, `build/${name}.wasm`);
      assert.equal(c.vm_config?.runtime, "envoy.wasm.runtime.v8");
      assert.equal(c.configuration?.["@type"], "type.googleapis.com/google.protobuf.StringValue");
      const value = c.configuration?.value ?? "";
      if (value.trim().startsWith("{") || value.trim().startsWith("["))
        assert.doesNotThrow(() => JSON.parse(value), "configuration is not valid JSON");
      // A filter that declares a configuration schema accepts what its envoy.yaml passes.
      assert.doesNotThrow(() => checkConfigAgainstModule(wasm, value, `examples/${name}/envoy.yaml configuration`, name));
      const host = await createHost({
        wasm,
        rootId: c.root_id ?? "",
        vmId: c.vm_config?.vm_id ?? "",
        pluginName: c.name ?? "",
        pluginConfig: value,
      });
      assert.equal(
        host.startPlugin(),
        true,
        `${name} rejected root_id '${c.root_id}' with its envoy.yaml configuration: ${host.logMessages().join(" | ")}`,
      );
    }
    // The WasmPlugin's pluginName is Envoy's root_id.
    const wp = path.join(dir, "wasmplugin.yaml");
    if (existsSync(wp)) {
      const rootIds = new Set(configs.map((c) => c.root_id ?? ""));
      for (const doc of parseAllDocuments(readFileSync(wp, "utf8"))
        .map((d) => d.toJS())
        .filter((d) => d?.kind === "WasmPlugin")) {
        assert.ok(
          rootIds.has(doc.spec.pluginName ?? ""),
          `pluginName '${doc.spec.pluginName}' is not a root_id of envoy.yaml (${[...rootIds].join(", ")})`,
        );
      }
    }
  });
}
