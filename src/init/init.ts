// `proxy-wasm-as init <dir> [--template name]`: a standalone filter project the user owns, made from
// one of the examples (every example is a template): the filter, a test that runs it in the Envoy-like
// host, an asconfig for plain asc, editor settings, envoy.yaml, an Istio WasmPlugin and a README.

import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { UserError } from "../errors.js";
import { SDK_ROOT } from "../build/build.js";
import { sdkSource, type SdkSource } from "./sdk-spec.js";

export const DEFAULT_TEMPLATE = "x-service-name";

export interface InitOptions {
  dir: string;
  template?: string;
  /** The proxy-wasm-as dependency spec (a version range, a tarball, file:<folder>); default: where this CLI came from. */
  sdk?: string;
}

export interface InitResult {
  dir: string;
  name: string;
  template: string;
  files: string[];
  sdk: SdkSource;
}

/** Templates: the examples shipped with the package. */
export async function listTemplates(): Promise<string[]> {
  const root = path.join(SDK_ROOT, "examples");
  const names: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(path.join(root, entry.name, "index.ts"))) names.push(entry.name);
  }
  return names.sort();
}

/** An npm package name from a folder name. */
export function packageNameFor(dir: string): string {
  const base = path.basename(path.resolve(dir)).toLowerCase();
  const name = base
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[._-]+/, "")
    .replace(/-+$/, "");
  return name || "my-filter";
}

interface OwnPackage {
  version: string;
  devDependencies: Record<string, string>;
}

function ownPackage(): Promise<OwnPackage> {
  return readFile(path.join(SDK_ROOT, "package.json"), "utf8").then((t) => JSON.parse(t) as OwnPackage);
}

export async function initProject(options: InitOptions): Promise<InitResult> {
  const dir = path.resolve(options.dir);
  const template = options.template ?? DEFAULT_TEMPLATE;
  const templates = await listTemplates();
  if (!templates.includes(template)) {
    throw new UserError(`unknown template '${template}': choose one of ${templates.join(", ")}`);
  }
  if (existsSync(dir)) {
    const s = await stat(dir);
    if (!s.isDirectory()) throw new UserError(`${options.dir} exists and is not a folder: choose a new folder name`);
    const entries = (await readdir(dir)).filter((e) => e !== ".git");
    if (entries.length > 0) {
      throw new UserError(`${options.dir} is not empty (${entries.length} entries): init writes only into a new or empty folder`);
    }
  }
  const name = packageNameFor(dir);
  const own = await ownPackage();
  let sdk: SdkSource;
  try {
    sdk = sdkSource(SDK_ROOT, own.version, options.sdk);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const exampleDir = path.join(SDK_ROOT, "examples", template);
  const rename = (text: string) => text.split(template).join(name);

  const files: Record<string, string> = {};
  files["package.json"] =
    JSON.stringify(
      {
        name,
        version: "0.1.0",
        private: true,
        type: "module",
        description: `A proxy-wasm filter for Envoy and Istio, made from the ${template} template of proxy-wasm-as.`,
        scripts: {
          build: "proxy-wasm-as build assembly/index.ts",
          test: "proxy-wasm-as build assembly/index.ts && node --test test/",
          typecheck: "tsc --noEmit",
          start: "proxy-wasm-as run assembly/index.ts",
        },
        // The compiler and TypeScript the SDK itself is built and checked with.
        devDependencies: {
          assemblyscript: own.devDependencies.assemblyscript,
          "proxy-wasm-as": sdk.spec,
          typescript: own.devDependencies.typescript,
        },
      },
      null,
      2,
    ) + "\n";
  files["asconfig.json"] =
    JSON.stringify(
      {
        extends: "proxy-wasm-as/asconfig.json",
        targets: { release: { outFile: `build/${name}.wasm` }, debug: { outFile: `build/${name}.debug.wasm` } },
      },
      null,
      2,
    ) + "\n";
  files["tsconfig.json"] =
    JSON.stringify(
      {
        // For editors and `npm run typecheck` (asc is the compiler): AssemblyScript's standard library
        // types, its runtime's (__new and friends, used by the SDK), and "proxy-wasm-as" mapped to the
        // SDK's source (the package's Node entry is the CLI's API, not the SDK).
        extends: "assemblyscript/std/assembly.json",
        compilerOptions: { baseUrl: ".", paths: { "proxy-wasm-as": ["./node_modules/proxy-wasm-as/index.ts"] } },
        include: ["assembly/**/*.ts", "node_modules/assemblyscript/std/assembly/rt/index.d.ts"],
      },
      null,
      2,
    ) + "\n";
  files["assembly/index.ts"] = await readFile(path.join(exampleDir, "index.ts"), "utf8");
  // A template may ship its own test (template.test.js) and the files its test or README use.
  const ownTest = path.join(exampleDir, "template.test.js");
  files["test/filter.test.js"] = existsSync(ownTest)
    ? rename(await readFile(ownTest, "utf8"))
    : testFor(template, name, await pluginSettings(path.join(exampleDir, "envoy.yaml"), template, name));
  for (const [from, to] of [
    ["config.schema.json", "assembly/config.schema.json"],
    ["authz-server.mjs", "authz-server.mjs"],
  ]) {
    if (existsSync(path.join(exampleDir, from))) files[to] = await readFile(path.join(exampleDir, from), "utf8");
  }
  for (const f of ["envoy.yaml", "wasmplugin.yaml"]) {
    const p = path.join(exampleDir, f);
    if (existsSync(p)) files[f] = rename(await readFile(p, "utf8")).replace(/examples\/[^/\s]+\/build\//g, "build/");
  }
  files[".gitignore"] = "node_modules/\nbuild/\n";
  files["README.md"] = readme(name, template);

  for (const [rel, text] of Object.entries(files)) {
    const target = path.join(dir, rel);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, text);
  }
  return { dir, name, template, files: Object.keys(files).sort(), sdk };
}

interface PluginSettings {
  rootId: string;
  pluginConfig: string;
}

/** The root_id and configuration of the first Wasm plugin in the template's envoy.yaml, renamed. */
async function pluginSettings(envoyYaml: string, template: string, name: string): Promise<PluginSettings> {
  if (!existsSync(envoyYaml)) return { rootId: "", pluginConfig: "" };
  const found: PluginSettings[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      const o = node as Record<string, unknown>;
      if (typeof o["@type"] === "string" && /\.wasm\.v3\.(Wasm|WasmService)$/.test(o["@type"]) && o.config) {
        const c = o.config as { root_id?: string; configuration?: { value?: string } };
        found.push({ rootId: (c.root_id ?? "").split(template).join(name), pluginConfig: c.configuration?.value ?? "" });
      }
      Object.values(o).forEach(walk);
    }
  };
  walk(parseYaml(await readFile(envoyYaml, "utf8")));
  return found[0] ?? { rootId: "", pluginConfig: "" };
}

function testFor(template: string, name: string, plugin: PluginSettings): string {
  const header = `// Runs the compiled filter in proxy-wasm-as's Envoy-like host. \`npm test\` builds it first.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createHost, Action, LogLevel } from "proxy-wasm-as/host";

const wasm = readFileSync(new URL("../build/${name}.wasm", import.meta.url));
`;
  if (template === "x-service-name") {
    return `${header}
test("answers 200 itself with x-service-name and logs the request", async () => {
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  const action = http.requestHeaders([[":method", "GET"], [":authority", "example.com"], [":path", "/hello"]], true);
  assert.equal(action, Action.Pause);
  assert.equal(http.sentHttpResponse?.status, 200);
  assert.equal(http.sentHttpResponse?.body.toString(), "Hello from Wasm!\\n");
  assert.deepEqual(http.sentHttpResponse?.headers.filter(([k]) => k === "x-service-name"), [["x-service-name", "my-custom-service"]]);
  assert.deepEqual(host.logMessages(LogLevel.Info), ["Received request for: example.com /hello"]);
});
`;
  }
  if (template === "add-header") {
    return `${header}
test("adds x-service-name to the upstream response", async () => {
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":authority", "example.com"], [":path", "/"]], true);
  assert.equal(http.responseHeaders([[":status", "200"]], false), Action.Continue);
  assert.equal(http.response.header("x-service-name"), "my-custom-service");
});
`;
  }
  return `${header}
// The plugin settings of envoy.yaml: its root_id and configuration.
const rootId = ${JSON.stringify(plugin.rootId)};
const pluginConfig = ${JSON.stringify(plugin.pluginConfig)};

test("starts, accepts its configuration and serves a request without failing", async () => {
  const host = await createHost({ wasm, rootId, pluginConfig });
  assert.equal(host.startPlugin(), true);
  const http = host.httpStream();
  http.requestHeaders([[":method", "GET"], [":authority", "example.com"], [":path", "/"]], true);
  http.complete();
  assert.equal(host.failed, false);
});
`;
}

function readme(name: string, template: string): string {
  return `# ${name}

A proxy-wasm filter for Envoy and Istio, written in TypeScript with
[proxy-wasm-as](https://www.npmjs.com/package/proxy-wasm-as) (made from its \`${template}\` template).

\`\`\`sh
npm install && npm test     # builds build/${name}.wasm and runs test/ against it in an Envoy-like host
npm run typecheck           # tsc --noEmit: the same checks your editor shows
npm start                   # serves the filter on http://127.0.0.1:10000 (add -- --upstream http://host:port)
\`\`\`

- \`assembly/index.ts\`: the filter. \`npm run build\` compiles it (\`proxy-wasm-as build\`); plain
  \`npx asc assembly/index.ts --target release\` works too (\`asconfig.json\` extends the SDK's preset).
- \`test/\`: node:test suites using \`proxy-wasm-as/host\`.
- \`envoy.yaml\`: Envoy loading \`build/${name}.wasm\` in front of a stand-in backend
  (\`envoy -c envoy.yaml --component-log-level wasm:debug\`).
- \`wasmplugin.yaml\`: the Istio \`WasmPlugin\`. Push the module with
  \`npx proxy-wasm-as push build/${name}.wasm <registry>/<repo>:<tag>\` and set \`url\` to the printed reference.
`;
}
