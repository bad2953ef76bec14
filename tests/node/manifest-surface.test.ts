// The deployment knobs every manifest kind has, side by side: the VM's environment (--env, --host-env),
// which traffic (--match-mode, --match-port), pull policy, fail strategy and priority; each lands in
// the field its kind defines, a WasmPlugin with all of them passes Istio's CRD, and a knob a kind
// does not have is refused with the reason.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import wabtInit from "wabt";
import { buildManifests, type ManifestFlags } from "../../src/manifest/build.js";
import { loadCrd, needCrd, validateWasmPlugin } from "./istio-crd.js";
import { checkListenerChains } from "./envoy-chain.js";
import { repoRoot } from "./helpers.js";

let dir: string;
let file: string;
before(async () => {
  loadCrd();
  dir = await mkdtemp(join(tmpdir(), "pwa-manifest-surface-"));
  const wabt = await wabtInit();
  const mod = wabt.parseWat("f.wat", await readFile(join(repoRoot, "tests/fixtures/oci/filter.wat"), "utf8"));
  file = join(dir, "filter.wasm");
  await writeFile(file, Buffer.from(mod.toBinary({}).buffer));
  mod.destroy();
});
after(() => rm(dir, { recursive: true, force: true }));

const build = (flags: ManifestFlags) => buildManifests(file, flags, () => {});
const image = { image: "registry.example.com/filters/f:v1" };
const env = { env: ["LOG_FORMAT=json", "EMPTY="], hostEnv: ["POD_NAME"] };

test("WasmPlugin: vmConfig.env, match, imagePullPolicy, failStrategy and priority, valid for Istio's CRD", async (t) => {
  const doc = (
    await build({
      ...image,
      ...env,
      matchMode: "inbound",
      matchPort: ["8080", "9090"],
      pullPolicy: "Always",
      failStrategy: "FAIL_OPEN",
      priority: "10",
      selector: ["app=x"],
    })
  ).docs[0] as { spec: Record<string, unknown> };
  assert.deepEqual(doc.spec.vmConfig, {
    env: [
      { name: "LOG_FORMAT", valueFrom: "INLINE", value: "json" },
      { name: "EMPTY", valueFrom: "INLINE", value: "" },
      { name: "POD_NAME", valueFrom: "HOST" },
    ],
  });
  assert.deepEqual(doc.spec.match, [{ mode: "SERVER", ports: [{ number: 8080 }, { number: 9090 }] }]);
  assert.equal(doc.spec.imagePullPolicy, "Always");
  assert.equal(doc.spec.failStrategy, "FAIL_OPEN");
  assert.equal(doc.spec.priority, 10);
  if (needCrd(t)) assert.deepEqual(validateWasmPlugin(doc), []);
});

test("EnvoyFilter: environment_variables in the VM config; the direction is the patch context, one patch per port", async () => {
  const [config, filter] = (
    await build({ kind: "envoyfilter", ...image, ...env, matchMode: "CLIENT", matchPort: ["8080", "9090"], failStrategy: "FAIL_OPEN" })
  ).docs as any[];
  const vm = config.spec.configPatches[0].patch.value.typed_config.value.config.vm_config;
  assert.deepEqual(vm.environment_variables, { host_env_keys: ["POD_NAME"], key_values: { LOG_FORMAT: "json", EMPTY: "" } });
  assert.equal(config.spec.configPatches[0].patch.value.typed_config.value.config.fail_open, true);
  const patches = filter.spec.configPatches;
  assert.deepEqual(
    patches.map((p: any) => [p.match.context, p.match.listener.portNumber]),
    [
      ["SIDECAR_OUTBOUND", 8080],
      ["SIDECAR_OUTBOUND", 9090],
    ],
  );
  const both = (await build({ kind: "envoyfilter", ...image, matchMode: "CLIENT_AND_SERVER" })).docs[1] as any;
  assert.equal(both.spec.configPatches.length, 1);
  assert.equal(both.spec.configPatches[0].match.context, undefined, "both directions: no context (ANY)");
  const inbound = (await build({ kind: "envoyfilter", ...image, matchMode: "SERVER" })).docs[1] as any;
  assert.equal(inbound.spec.configPatches[0].match.context, "SIDECAR_INBOUND");
});

test("envoy.yaml: environment_variables in the VM config, and the listener still loads", async () => {
  const boot = (await build({ kind: "envoy", upstream: "127.0.0.1:8080", ...env, failStrategy: "FAIL_RELOAD" })).docs[0] as any;
  const config = boot.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config;
  assert.deepEqual(config.vm_config.environment_variables, { host_env_keys: ["POD_NAME"], key_values: { LOG_FORMAT: "json", EMPTY: "" } });
  assert.equal(config.failure_policy, "FAIL_RELOAD");
  assert.deepEqual(checkListenerChains(boot), []);
});

test("EnvoyExtensionPolicy: the proxy's variables as env.hostKeys, pullPolicy and failOpen", async () => {
  const doc = (
    await build({
      kind: "envoy-gateway",
      ...image,
      targetRef: ["Gateway/eg"],
      hostEnv: ["POD_NAME", "NODE_NAME"],
      pullPolicy: "Always",
      failStrategy: "FAIL_OPEN",
    })
  ).docs[0] as any;
  const wasm = doc.spec.wasm[0];
  assert.deepEqual(wasm.env, { hostKeys: ["POD_NAME", "NODE_NAME"] });
  assert.equal(wasm.code.pullPolicy, "Always");
  assert.equal(wasm.failOpen, true);
});

test("a knob a kind does not have, or a bad value, is one error naming the flag", async () => {
  const cases: [ManifestFlags, RegExp][] = [
    [
      { kind: "envoy-gateway", ...image, targetRef: ["Gateway/eg"], env: ["A=1"] },
      /--env does not apply to --kind envoy-gateway .*only the proxy's own variables \(--host-env\)/,
    ],
    [{ kind: "envoy", upstream: "h:1", matchPort: ["80"] }, /--match-port does not apply to --kind envoy/],
    [
      { kind: "envoy-gateway", ...image, targetRef: ["Gateway/eg"], matchMode: "SERVER" },
      /--match-mode does not apply to --kind envoy-gateway/,
    ],
    [{ kind: "envoyfilter", ...image, priority: "1" }, /--priority does not apply to --kind envoyfilter/],
    [{ kind: "envoyfilter", ...image, pullPolicy: "Always" }, /--pull-policy does not apply to --kind envoyfilter/],
    [{ ...image, env: ["NOVALUE"] }, /--env "NOVALUE" must be NAME=VALUE/],
    [{ ...image, env: ["A=1"], hostEnv: ["A"] }, /--host-env "A": A is given twice/],
    [{ ...image, env: [`A=${"x".repeat(2049)}`] }, /the value has 2049 characters; Istio accepts at most 2048/],
    [{ ...image, matchMode: "sideways" }, /--match-mode "sideways" is not a traffic direction: use CLIENT/],
    [{ ...image, matchPort: ["80", "80"] }, /--match-port 80 is given twice/],
    [{ ...image, matchPort: ["0"] }, /--match-port "0" must be a port number between 1 and 65535/],
  ];
  for (const [flags, pattern] of cases) await assert.rejects(build(flags), pattern, JSON.stringify(flags).slice(0, 120));
});
