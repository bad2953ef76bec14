// envoy.extensions.wasm.v3.PluginConfig (the `config` of the HTTP and network Wasm filters and of
// the bootstrap WasmService) read into a WasmPluginConfig.
import path from "node:path";
import type { Node } from "./fields.js";
import type { WasmPluginConfig } from "./types.js";

const RUNTIMES = ["envoy.wasm.runtime.v8", "envoy.wasm.runtime.wamr", "envoy.wasm.runtime.wasmtime", "envoy.wasm.runtime.wavm"] as const;
const STRING_VALUE = "type.googleapis.com/google.protobuf.StringValue";
const BYTES_VALUE = "type.googleapis.com/google.protobuf.BytesValue";

/** A configuration Any: StringValue or BytesValue bytes (what the plugin reads as its configuration). */
function readAnyConfig(n: Node): Buffer {
  const f = n.object(["@type", "value"]);
  const t = f.has("@type") ? f.get("@type").string() : "";
  if (t === STRING_VALUE)
    return Buffer.from(
      f.opt("value", (v) => v.string(), ""),
      "utf8",
    );
  if (t === BYTES_VALUE)
    return Buffer.from(
      f.opt("value", (v) => v.string(), ""),
      "base64",
    );
  return f
    .get("@type")
    .fail(`${t ? JSON.stringify(t) : "missing"}: proxy-wasm-as envoy takes a configuration as ${STRING_VALUE} (or BytesValue)`);
}

/** `config` of envoy.filters.http.wasm / envoy.filters.network.wasm / WasmService. */
export function readPluginConfig(n: Node, configDir: string): WasmPluginConfig {
  const f = n.object(["name", "root_id", "vm_config", "configuration", "fail_open", "failure_policy"]);
  const vm = f
    .need("vm_config")
    .object(["vm_id", "runtime", "code", "configuration", "allow_precompiled", "environment_variables", "nack_on_code_cache_miss"]);
  vm.need("runtime").oneOf(RUNTIMES);
  const code = vm.need("code").object(["local", "remote"]);
  if (code.has("remote")) code.get("remote").fail("remote code is not supported: download the module and use code.local.filename");
  const local = code.need("local").object(["filename", "inline_bytes", "inline_string"]);
  if (local.has("inline_bytes") || local.has("inline_string"))
    local.fail("inline code is not supported: put the module in a file and use filename");
  const filenameNode = local.need("filename");
  const filename = filenameNode.string();
  if (filename.endsWith(".ts")) {
    filenameNode.fail(
      `${filename} is AssemblyScript source: build it first (npx proxy-wasm-as build ${filename}) and point filename at the .wasm it writes`,
    );
  }
  const env: Record<string, string> = {};
  if (vm.has("environment_variables")) {
    const ev = vm.get("environment_variables").object(["host_env_keys", "key_values"]);
    for (const k of ev.opt("host_env_keys", (x) => x.list(), [])) {
      const key = k.string();
      if (process.env[key] !== undefined) env[key] = process.env[key]!;
    }
    if (ev.has("key_values")) {
      const kv = ev.get("key_values");
      const o = kv.value;
      if (!o || typeof o !== "object" || Array.isArray(o)) kv.fail("must be a map of strings");
      for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
        if (typeof v !== "string") kv.fail(`${k} must be a string`);
        env[k] = v as string;
      }
    }
  }
  let failOpen = f.opt("fail_open", (x) => x.bool(), false);
  if (f.has("failure_policy")) {
    const p = f.get("failure_policy").oneOf(["FAIL_CLOSED", "FAIL_OPEN", "FAIL_RELOAD", "UNSPECIFIED"]);
    failOpen = p === "FAIL_OPEN";
  }
  return {
    path: n.path,
    name: f.opt("name", (x) => x.string(), ""),
    rootId: f.opt("root_id", (x) => x.string(), ""),
    vmId: vm.opt("vm_id", (x) => x.string(), ""),
    file: path.resolve(configDir, filename),
    configuration: f.has("configuration") ? readAnyConfig(f.get("configuration")) : Buffer.alloc(0),
    vmConfiguration: vm.has("configuration") ? readAnyConfig(vm.get("configuration")) : Buffer.alloc(0),
    failOpen,
    env,
  };
}
