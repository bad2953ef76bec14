// `proxy-wasm-as manifest`: generated WasmPlugins validate against Istio's CRD the way the
// Kubernetes API server would (OpenAPI v3 schema with ajv + the CEL rules, implemented in
// src/manifest/rules.ts), Istio's own valid/invalid examples are judged as Istio's tests expect,
// the sha256 is what Istio compares, and every bad flag is a one-line error.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import { parseAllDocuments } from "yaml";
import { buildManifests, type ManifestFlags } from "../../src/manifest/build.js";
import { checkDigestConsistency, checkWasmPluginRules, parseRequestUri, urlRuleAccepts } from "../../src/manifest/rules.js";
import { sha256Hex } from "../../src/oci/digest.js";
import { ISTIO, loadCrd, needCrd, validateWasmPlugin } from "./istio-crd.js";
import { buildImage } from "../../src/oci/image.js";
import { runCli, type Run } from "./fake-registry.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

// ---- helpers ------------------------------------------------------------------------------

const cli = (args: string[]): Promise<Run> => runCli(args, { env: { DOCKER_CONFIG: dir } });

const quiet = () => {};
const build = (file: string | undefined, flags: ManifestFlags) => buildManifests(file, { variant: "compat", ...flags }, quiet);
const docsOf = (yamlText: string) => parseAllDocuments(yamlText).map((d) => d.toJS());

let dir: string;
let filterPath: string;
let filter: Buffer;

before(async () => {
  loadCrd();
  dir = await mkdtemp(join(tmpdir(), "pwa-manifest-"));
  const wabt = await wabtInit();
  const mod = wabt.parseWat("filter.wat", await readFile(join(ROOT, "tests/fixtures/oci/filter.wat"), "utf8"));
  filter = Buffer.from(mod.toBinary({}).buffer);
  mod.destroy();
  filterPath = join(dir, "my_Filter.wasm");
  await writeFile(filterPath, filter);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

// ---- Istio's examples ---------------------------------------------------------------------

describe("the validator judges Istio's own examples as Istio's tests do", () => {
  test("every valid example passes", (t) => {
    if (!needCrd(t)) return;
    const docs = docsOf(readFileSync(join(ISTIO, "wasmplugin-valid-examples.yaml"), "utf8"));
    assert.ok(docs.length >= 4);
    for (const doc of docs) assert.deepEqual(validateWasmPlugin(doc), [], doc.metadata.name);
  });

  test("every invalid example fails with the error its _err names", (t) => {
    if (!needCrd(t)) return;
    const docs = docsOf(readFileSync(join(ISTIO, "wasmplugin-invalid-examples.yaml"), "utf8"));
    assert.ok(docs.length >= 10);
    for (const { _err, ...doc } of docs) {
      const errors = validateWasmPlugin(doc);
      assert.ok(
        errors.some((e) => e.includes(_err)),
        `${doc.metadata.name}: expected "${_err}" in ${JSON.stringify(errors)}`,
      );
    }
  });

  test("the CEL checkers are what catches the rules a JSON schema cannot express", () => {
    const base = { apiVersion: "extensions.istio.io/v1alpha1", kind: "WasmPlugin", metadata: { name: "x" } };
    const cases: [object, RegExp][] = [
      [{ url: "fake://example.com" }, /url must have schema one of/],
      [
        { url: "oci://r/x:v1", selector: { matchLabels: { app: "a" } }, targetRefs: [{ kind: "Gateway", name: "g" }] },
        /only one of targetRefs or selector/,
      ],
      [
        { url: "oci://r/x:v1", targetRef: { kind: "Gateway", name: "g" }, targetRefs: [{ kind: "Gateway", name: "g" }] },
        /only one of targetRefs or selector/,
      ],
      [{ url: "oci://r/x:v1", targetRefs: [{ kind: "Gateway", name: "g", namespace: "other" }] }, /cross namespace referencing/],
      [{ url: "oci://r/x:v1", selector: { matchLabels: { "": "a" } } }, /key must not be empty/],
      [{ url: "oci://r/x:v1", selector: { matchLabels: { app: "a*" } } }, /wildcard not allowed in label value match/],
      [{ url: "oci://r/x:v1", selector: { matchLabels: { "a*": "a" } } }, /wildcard not allowed in label key match/],
      [
        { url: "oci://r/x:v1", vmConfig: { env: [{ name: "A", valueFrom: "HOST", value: "v" }] } },
        /value may only be set when valueFrom is INLINE/,
      ],
      [{ url: "oci://r/x:v1", vmConfig: { env: [{ name: "A" }, { name: "A" }] } }, /Duplicate value/],
      [{ url: "oci://r/x:v1", match: [{ ports: [{ number: 80 }, { number: 80 }] }] }, /Duplicate value/],
    ];
    for (const [spec, pattern] of cases) {
      const found = checkWasmPluginRules({ ...base, spec });
      assert.ok(
        found.some((v) => pattern.test(v.message)),
        `${JSON.stringify(spec)} → ${JSON.stringify(found)}`,
      );
    }
    assert.deepEqual(
      checkWasmPluginRules({
        ...base,
        spec: {
          url: "oci://r/x:v1",
          selector: { matchLabels: { app: "a" } },
          vmConfig: {
            env: [
              { name: "A", valueFrom: "HOST" },
              { name: "B", value: "v" },
            ],
          },
        },
      }),
      [],
    );
    assert.match(checkDigestConsistency(`oci://r/x@sha256:${"a".repeat(64)}`, "b".repeat(64)) ?? "", /Istio's agent would refuse/);
    assert.equal(checkDigestConsistency(`oci://r/x@sha256:${"a".repeat(64)}`, "a".repeat(64)), null);
  });

  test("the url rule follows Go's url.ParseRequestURI, which CEL's isURL calls", () => {
    const accepted = [
      "oci://ghcr.io/acme/filter:v1",
      "ghcr.io/acme/filter:v1",
      "test",
      "http://test",
      "https://h:8443/p/f.wasm?x=1",
      "file:///opt/f.wasm",
      "http://[::1]:80/x",
      "http://user:p%20w@host/x",
      "127.0.0.1:5000/filter:v1",
    ];
    const refused = ["fake://example.com", "#%blah$#@", "localhost:5000/filter:v1", "ftp://h/f.wasm", "http://h/%zz"];
    for (const u of accepted) assert.ok(urlRuleAccepts(u), u);
    for (const u of refused) assert.ok(!urlRuleAccepts(u), u);
    // Why a registry with a port needs oci://: Go reads "localhost" as the scheme (an IP address
    // cannot start a scheme, so 127.0.0.1:5000/… is read as "http://" + it and accepted).
    assert.deepEqual(parseRequestUri("localhost:5000/filter:v1"), { scheme: "localhost" });
    assert.equal(parseRequestUri("127.0.0.1:5000/filter:v1"), null);
    assert.equal(parseRequestUri("relative/path"), null);
  });
});

// ---- WasmPlugin ---------------------------------------------------------------------------

describe("WasmPlugin", () => {
  test("sha256 is the image manifest digest push would produce, for each variant", async (t) => {
    for (const variant of ["compat", "oci"]) {
      const { docs } = await build(filterPath, { image: "ghcr.io/acme/filter:v1", variant });
      const spec = (docs[0] as { spec: Record<string, unknown> }).spec;
      const expected = (await buildImage(filter, { variant: variant as "compat" | "oci", abiVersion: "0.2.1" })).digest.slice(7);
      assert.equal(spec.sha256, expected);
      assert.equal(spec.url, "oci://ghcr.io/acme/filter:v1");
      if (needCrd(t)) assert.deepEqual(validateWasmPlugin(docs[0]), []);
    }
  });

  test("every flag lands in the field Istio defines, and the result validates", async (t) => {
    const { docs, yaml } = await build(filterPath, {
      image: "registry.example.com:5000/team/filter:1.2.3",
      namespace: "shop",
      selector: ["app=reviews", "app.kubernetes.io/version=v2"],
      config: '{"header":"x-demo","limits":[1,2]}',
      phase: "authz",
      priority: "-5",
      failStrategy: "fail-open",
      pullPolicy: "always",
      pullSecret: "registry-creds",
      pluginName: "my_root",
      type: "network",
    });
    assert.deepEqual(docs[0], {
      apiVersion: "extensions.istio.io/v1alpha1",
      kind: "WasmPlugin",
      metadata: { name: "my-filter", namespace: "shop" },
      spec: {
        selector: { matchLabels: { app: "reviews", "app.kubernetes.io/version": "v2" } },
        url: "oci://registry.example.com:5000/team/filter:1.2.3",
        sha256: (await buildImage(filter, { abiVersion: "0.2.1" })).digest.slice(7),
        imagePullPolicy: "Always",
        imagePullSecret: "registry-creds",
        phase: "AUTHZ",
        priority: -5,
        failStrategy: "FAIL_OPEN",
        pluginName: "my_root",
        type: "NETWORK",
        pluginConfig: { header: "x-demo", limits: [1, 2] },
      },
    });
    assert.deepEqual(docsOf(yaml), docs, "the YAML text is the same object");
    if (needCrd(t)) assert.deepEqual(validateWasmPlugin(docs[0]), []);
  });

  test("targetRefs, pinned digests and http(s)/file URLs validate too", async (t) => {
    const pinned = `sha256:${"c".repeat(64)}`;
    const variants: [string | undefined, ManifestFlags, (spec: Record<string, unknown>) => void][] = [
      [
        undefined,
        { image: `ghcr.io/acme/filter@${pinned}`, targetRef: ["Gateway/public", "Service/reviews", "ServiceEntry/ext"] },
        (s) => {
          assert.equal(s.sha256, "c".repeat(64));
          assert.deepEqual(s.targetRefs, [
            { group: "gateway.networking.k8s.io", kind: "Gateway", name: "public" },
            { group: "", kind: "Service", name: "reviews" },
            { group: "networking.istio.io", kind: "ServiceEntry", name: "ext" },
          ]);
        },
      ],
      [filterPath, { url: "https://downloads.example.com/filters/f.wasm" }, (s) => assert.equal(s.sha256, sha256Hex(filter))],
      [filterPath, { url: "file:///opt/filters/f.wasm", name: "local" }, (s) => assert.equal(s.url, "file:///opt/filters/f.wasm")],
      [undefined, { url: "http://h/f.wasm", sha256: `sha256:${"D".repeat(64)}`, name: "x" }, (s) => assert.equal(s.sha256, "d".repeat(64))],
    ];
    for (const [file, flags, check] of variants) {
      const { docs } = await build(file, flags);
      check((docs[0] as { spec: Record<string, unknown> }).spec);
      if (needCrd(t)) assert.deepEqual(validateWasmPlugin(docs[0]), [], JSON.stringify(flags));
    }
  });
});

// ---- the other targets --------------------------------------------------------------------

describe("EnvoyFilter, envoy.yaml and EnvoyExtensionPolicy", () => {
  test("the EnvoyFilter pair: an ECDS Wasm config with the remote module, and an HTTP filter that discovers it", async () => {
    const { docs } = await build(filterPath, {
      kind: "envoyfilter",
      image: "ghcr.io/acme/filter:v1",
      namespace: "istio-system",
      selector: ["istio=ingressgateway"],
      config: '{"a":1}',
      failStrategy: "FAIL_OPEN",
      pluginName: "root",
    });
    assert.equal(docs.length, 2);
    const [ext, filterPatch] = docs as any[];
    assert.deepEqual([ext.kind, filterPatch.kind], ["EnvoyFilter", "EnvoyFilter"]);
    assert.equal(ext.apiVersion, "networking.istio.io/v1alpha3");
    assert.deepEqual(ext.spec.workloadSelector, { labels: { istio: "ingressgateway" } });
    assert.deepEqual(filterPatch.spec.workloadSelector, ext.spec.workloadSelector);
    const patch = ext.spec.configPatches[0];
    assert.equal(patch.applyTo, "EXTENSION_CONFIG");
    assert.equal(patch.patch.operation, "ADD");
    const typed = patch.patch.value.typed_config;
    assert.equal(typed["@type"], "type.googleapis.com/udpa.type.v1.TypedStruct");
    assert.equal(typed.type_url, "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm");
    const config = typed.value.config;
    assert.equal(config.root_id, "root");
    assert.equal(config.fail_open, true);
    assert.equal(config.vm_config.runtime, "envoy.wasm.runtime.v8");
    assert.equal(config.vm_config.code.remote.http_uri.uri, "oci://ghcr.io/acme/filter:v1");
    assert.equal(config.vm_config.code.remote.sha256, (await buildImage(filter, { abiVersion: "0.2.1" })).digest.slice(7));
    assert.deepEqual(config.configuration, { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"a":1}' });
    const insert = filterPatch.spec.configPatches[0];
    assert.equal(insert.applyTo, "HTTP_FILTER");
    assert.equal(insert.patch.operation, "INSERT_BEFORE");
    assert.equal(insert.match.listener.filterChain.filter.subFilter.name, "envoy.filters.http.router");
    assert.equal(insert.patch.value.name, patch.patch.value.name, "the filter discovers the config by name");
    assert.deepEqual(insert.patch.value.config_discovery, {
      config_source: { ads: {}, initial_fetch_timeout: "0s" },
      type_urls: ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"],
    });
  });

  test("envoy.yaml: the module from a local file, before the router, config as a StringValue, v8", async () => {
    const { docs } = await build(filterPath, {
      kind: "envoy",
      upstream: "backend.local:8080",
      config: '{"x": true}',
      pluginName: "r",
      listen: "127.0.0.1:10001",
    });
    const boot = docs[0] as any;
    const listener = boot.static_resources.listeners[0];
    assert.deepEqual(listener.address, { socket_address: { address: "127.0.0.1", port_value: 10001 } });
    const hcm = listener.filter_chains[0].filters[0];
    assert.equal(hcm.name, "envoy.filters.network.http_connection_manager");
    const filters = hcm.typed_config.http_filters;
    assert.deepEqual(
      filters.map((f: { name: string }) => f.name),
      ["envoy.filters.http.wasm", "envoy.filters.http.router"],
    );
    const wasm = filters[0].typed_config;
    assert.equal(wasm["@type"], "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm");
    assert.equal(wasm.config.name, "my-filter");
    assert.equal(wasm.config.root_id, "r");
    assert.deepEqual(wasm.config.vm_config, { runtime: "envoy.wasm.runtime.v8", code: { local: { filename: filterPath } } });
    assert.deepEqual(wasm.config.configuration, { "@type": "type.googleapis.com/google.protobuf.StringValue", value: '{"x":true}' });
    const cluster = boot.static_resources.clusters[0];
    assert.equal(hcm.typed_config.route_config.virtual_hosts[0].routes[0].route.cluster, cluster.name);
    assert.equal(cluster.type, "STRICT_DNS", "a host name is resolved");
    assert.deepEqual(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address, {
      socket_address: { address: "backend.local", port_value: 8080 },
    });
    const byIp = (await build(filterPath, { kind: "envoy", upstream: "127.0.0.1:9000", modulePath: "/etc/envoy/filter.wasm" }))
      .docs[0] as any;
    assert.equal(byIp.static_resources.clusters[0].type, "STATIC");
    assert.equal(
      byIp.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config.vm_config.code.local
        .filename,
      "/etc/envoy/filter.wasm",
    );
  });

  test("EnvoyExtensionPolicy: image URL without a scheme, the same digest, any JSON config", async () => {
    const { docs } = await build(filterPath, {
      kind: "envoy-gateway",
      image: "ghcr.io/acme/filter:v1",
      targetRef: ["HTTPRoute/backend"],
      config: '["a","b"]',
      pullPolicy: "IfNotPresent",
      pullSecret: "creds",
      failStrategy: "FAIL_OPEN",
      pluginName: "root",
    });
    assert.deepEqual(docs[0], {
      apiVersion: "gateway.envoyproxy.io/v1alpha1",
      kind: "EnvoyExtensionPolicy",
      metadata: { name: "my-filter" },
      spec: {
        targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: "backend" }],
        wasm: [
          {
            name: "my-filter",
            rootID: "root",
            code: {
              type: "Image",
              image: {
                url: "ghcr.io/acme/filter:v1",
                sha256: (await buildImage(filter, { abiVersion: "0.2.1" })).digest.slice(7),
                pullSecretRef: { name: "creds" },
              },
              pullPolicy: "IfNotPresent",
            },
            config: ["a", "b"],
            failOpen: true,
          },
        ],
      },
    });
    const http = (await build(filterPath, { kind: "envoy-gateway", url: "https://h/f.wasm", targetRef: ["Gateway/eg"] })).docs[0] as any;
    assert.deepEqual(http.spec.wasm[0].code, { type: "HTTP", http: { url: "https://h/f.wasm", sha256: sha256Hex(filter) } });
  });

  test("only real API comes out: no VirtualService wasm block, no extensionProviders", async () => {
    const allowed = new Set([
      "extensions.istio.io/v1alpha1 WasmPlugin",
      "networking.istio.io/v1alpha3 EnvoyFilter",
      "gateway.envoyproxy.io/v1alpha1 EnvoyExtensionPolicy",
    ]);
    const outputs = [
      await build(filterPath, { image: "r.io/f:v1" }),
      await build(filterPath, { kind: "envoyfilter", image: "r.io/f:v1" }),
      await build(filterPath, { kind: "envoy-gateway", image: "r.io/f:v1", targetRef: ["Gateway/eg"] }),
    ];
    for (const o of outputs) {
      for (const d of o.docs as { apiVersion: string; kind: string }[])
        assert.ok(allowed.has(`${d.apiVersion} ${d.kind}`), `${d.apiVersion} ${d.kind}`);
      assert.doesNotMatch(o.yaml, /VirtualService|extensionProviders/);
    }
  });
});

// ---- the command line ---------------------------------------------------------------------

describe("manifest on the command line", () => {
  test("writes the same YAML to stdout and to -o", async () => {
    const out = join(dir, "plugin.yaml");
    const a = await cli(["manifest", filterPath, "--image", "ghcr.io/acme/filter:v1", "--selector", "app=x"]);
    const b = await cli(["manifest", filterPath, "--image", "ghcr.io/acme/filter:v1", "--selector", "app=x", "-o", out]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, "");
    assert.equal(await readFile(out, "utf8"), a.stdout);
    assert.equal(docsOf(a.stdout)[0].kind, "WasmPlugin");
  });

  test("bad flags give one line that names the flag and a good value", async () => {
    const img = ["--image", "ghcr.io/acme/filter:v1"];
    const cases: [string[], RegExp][] = [
      [[filterPath, ...img, "--selector", "app"], /--selector "app" must be LABEL=VALUE, e\.g\. --selector app=reviews/],
      [[filterPath, ...img, "--selector", "app=rev*"], /rejects '\*'/],
      [[filterPath, ...img, "--selector", "bad key=x"], /is not a label key/],
      [[filterPath, ...img, "--phase", "early"], /--phase "early" is not an Istio phase: use AUTHN, AUTHZ or STATS/],
      [[filterPath, ...img, "--config", "{header: x}"], /--config is not JSON \(.*\); pass a JSON value/],
      [[filterPath, ...img, "--config", "@missing.json"], /--config @missing\.json: cannot read missing\.json: no such file/],
      [[filterPath, ...img, "--config", "[1,2]"], /--config must be a JSON object for a WasmPlugin/],
      [[filterPath, ...img, "--priority", "1.5"], /--priority "1\.5" must be a whole number/],
      [[filterPath, ...img, "--fail-strategy", "retry"], /--fail-strategy "retry" is not a fail strategy/],
      [[filterPath, ...img, "--pull-policy", "never"], /--pull-policy "never" is not a pull policy/],
      [
        [filterPath, ...img, "--target-ref", "HTTPRoute/x"],
        /kind HTTPRoute cannot be targeted here; use one of Gateway, GatewayClass, Service, ServiceEntry/,
      ],
      [[filterPath, ...img, "--target-ref", "Gateway"], /--target-ref "Gateway" must be KIND\/NAME/],
      [[filterPath, ...img, "--selector", "a=b", "--target-ref", "Gateway/g"], /--selector and --target-ref exclude each other/],
      [[filterPath, ...img, "--name", "My Filter"], /--name "My Filter" is not a valid Kubernetes name/],
      [[filterPath, ...img, "--namespace", "Shop"], /--namespace "Shop" is not a valid namespace/],
      [[filterPath, ...img, "--url", "https://h/f.wasm"], /--image and --url exclude each other/],
      [[filterPath], /say where proxies get the module: pass --image/],
      [["--image", "ghcr.io/acme/filter:v1"], /cannot know the digest of ghcr\.io\/acme\/filter:v1: pass the \.wasm you pushed/],
      [[filterPath, "--image", "ghcr.io/acme/filter"], /has no tag or digest/],
      [
        [filterPath, "--image", `ghcr.io/a/f@sha256:${"a".repeat(64)}`, "--sha256", "b".repeat(64)],
        /pinned to sha256:a{64} but --sha256 is b{64}/,
      ],
      [[filterPath, "--url", "ftp://h/f.wasm"], /loads modules from http:\/\/, https:\/\/, file:\/\/ URLs/],
      [[filterPath, "--url", "oci://h/f:v1"], /use --image for OCI images/],
      [[filterPath, "--url", "https://h/f.wasm", "--variant", "oci"], /describe an image; they work with --image, not --url/],
      [
        [filterPath, ...img, "--kind", "envoyfilter", "--phase", "AUTHN"],
        /--phase does not apply to --kind envoyfilter.*only WasmPlugin has phases/,
      ],
      [
        [filterPath, ...img, "--kind", "envoyfilter", "--fail-strategy", "FAIL_RELOAD"],
        /FAIL_RELOAD is not available for --kind envoyfilter/,
      ],
      [[filterPath, "--kind", "envoy"], /--kind envoy needs --upstream HOST:PORT/],
      [[filterPath, "--kind", "envoy", "--upstream", "8080"], /--upstream "8080" must be HOST:PORT/],
      [[filterPath, "--kind", "envoy", "--upstream", "h:1", ...img], /--image does not apply to --kind envoy/],
      [[filterPath, ...img, "--kind", "envoy-gateway"], /needs --target-ref KIND\/NAME/],
      [
        [filterPath, ...img, "--kind", "envoy-gateway", "--target-ref", "Gateway/g", "--selector", "a=b"],
        /--selector does not apply to --kind envoy-gateway/,
      ],
      [[join(dir, "missing.wasm"), ...img], /cannot read .*missing\.wasm: no such file/],
    ];
    // Four processes at a time: the cases are independent.
    const runs: Run[] = [];
    for (let i = 0; i < cases.length; i += 4)
      runs.push(...(await Promise.all(cases.slice(i, i + 4).map(([args]) => cli(["manifest", ...args])))));
    for (const [i, [args, pattern]] of cases.entries()) {
      const r = runs[i];
      assert.notEqual(r.code, 0, `${args.join(" ")} should fail`);
      assert.equal(r.stdout, "", args.join(" "));
      const last = r.stderr.trimEnd().split("\n").pop()!;
      assert.match(last, /^proxy-wasm-as: /, args.join(" "));
      assert.match(last, pattern, args.join(" "));
    }
  });
});
