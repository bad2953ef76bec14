// The checks Envoy applies to a listener's filter chain when it loads a bootstrap, for the filters our
// manifests and examples use: every filter's typed_config has the type its name registers, a
// terminal network filter (tcp_proxy, http_connection_manager) comes last and only last, an HTTP
// connection manager's filters end with the router, and Wasm filters carry a PluginConfig.
const TYPES: Record<string, string> = {
  "envoy.filters.network.http_connection_manager": "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
  "envoy.filters.network.tcp_proxy": "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
  "envoy.filters.network.wasm": "envoy.extensions.filters.network.wasm.v3.Wasm",
  "envoy.filters.http.wasm": "envoy.extensions.filters.http.wasm.v3.Wasm",
  "envoy.filters.http.router": "envoy.extensions.filters.http.router.v3.Router",
};
const TERMINAL_NETWORK = new Set(["envoy.filters.network.http_connection_manager", "envoy.filters.network.tcp_proxy"]);

type Filter = { name?: string; typed_config?: Record<string, unknown> };

function checkTyped(f: Filter, where: string, out: string[]): void {
  const type = String(f.typed_config?.["@type"] ?? "").replace(/^type\.googleapis\.com\//, "");
  const want = f.name ? TYPES[f.name] : undefined;
  if (want && type !== want && type !== "udpa.type.v1.TypedStruct") out.push(`${where} ${f.name}: typed_config is ${type}, not ${want}`);
  if (type.endsWith(".wasm.v3.Wasm")) {
    const config = f.typed_config?.config as { vm_config?: { code?: unknown } } | undefined;
    if (!config?.vm_config?.code) out.push(`${where} ${f.name}: Wasm filter without config.vm_config.code`);
  }
}

/** Every problem Envoy would reject a listener for, as one line each (empty when it loads). */
export function checkListenerChains(bootstrap: unknown): string[] {
  const out: string[] = [];
  const listeners =
    (bootstrap as { static_resources?: { listeners?: { name?: string; filter_chains?: { filters?: Filter[] }[] }[] } })?.static_resources
      ?.listeners ?? [];
  for (const l of listeners) {
    for (const [ci, chain] of (l.filter_chains ?? []).entries()) {
      const filters = chain.filters ?? [];
      const where = `listener ${l.name} chain ${ci}`;
      if (filters.length === 0) out.push(`${where}: no filters`);
      filters.forEach((f, i) => {
        checkTyped(f, where, out);
        const terminal = TERMINAL_NETWORK.has(f.name ?? "");
        if (terminal && i !== filters.length - 1) out.push(`${where}: terminal filter ${f.name} must be the last in the chain`);
        if (!terminal && i === filters.length - 1) out.push(`${where}: the last filter ${f.name} is not a terminal filter`);
        if (f.name?.startsWith("envoy.filters.http.")) out.push(`${where}: HTTP filter ${f.name} in a network filter chain`);
        if (f.name === "envoy.filters.network.http_connection_manager") {
          const http = (f.typed_config?.http_filters as Filter[] | undefined) ?? [];
          http.forEach((h) => {
            checkTyped(h, where, out);
            if (h.name?.startsWith("envoy.filters.network.")) out.push(`${where}: network filter ${h.name} in http_filters`);
          });
          if (http[http.length - 1]?.name !== "envoy.filters.http.router")
            out.push(`${where}: http_filters must end with envoy.filters.http.router`);
        }
      });
    }
  }
  return out;
}
