// Reading the Wasm plugin settings out of an example's envoy.yaml, for the tests that check an
// example against the configuration it ships.

export interface WasmConfig {
  name: string;
  root_id: string;
  configuration?: { "@type": string; value: string };
  vm_config: { vm_id: string; runtime: string; code: { local: { filename: string } } };
}

const WASM_TYPES = new Set([
  "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
  "type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm",
  "type.googleapis.com/envoy.extensions.wasm.v3.WasmService",
]);

/** Every Wasm plugin config in an Envoy bootstrap: HTTP and network filters, bootstrap WasmServices. */
export function wasmConfigs(node: unknown, out: WasmConfig[] = []): WasmConfig[] {
  if (Array.isArray(node)) node.forEach((n) => wasmConfigs(n, out));
  else if (node && typeof node === "object") {
    const o = node as Record<string, unknown>;
    if (typeof o["@type"] === "string" && WASM_TYPES.has(o["@type"]) && o.config) out.push(o.config as WasmConfig);
    Object.values(o).forEach((v) => wasmConfigs(v, out));
  }
  return out;
}
