// Whether a module is an HTTP filter or a network (TCP) filter, read from the callbacks it exports:
// Envoy calls proxy_on_request_headers & co. only from envoy.filters.http.wasm and
// proxy_on_new_connection & co. only from envoy.filters.network.wasm, so a module deployed as the
// wrong kind is never called (or, for a network filter in an HTTP chain, never sees bytes).
import { UserError } from "../errors.js";
import type { PluginType } from "./flags.js";
import { parseModule } from "../wasm/binary.js";

const HTTP_CALLBACKS = [
  "proxy_on_request_headers",
  "proxy_on_request_body",
  "proxy_on_request_trailers",
  "proxy_on_request_metadata",
  "proxy_on_response_headers",
  "proxy_on_response_body",
  "proxy_on_response_trailers",
  "proxy_on_response_metadata",
];
const NETWORK_CALLBACKS = [
  "proxy_on_new_connection",
  "proxy_on_downstream_data",
  "proxy_on_upstream_data",
  "proxy_on_downstream_connection_close",
  "proxy_on_upstream_connection_close",
];

export interface ExportedKind {
  /** "HTTP" or "NETWORK" when the exports say so; null when they name both or neither. */
  type: PluginType | null;
  http: string[];
  network: string[];
}

/** The stream callbacks a module exports, and the filter type they imply. */
export function exportedKind(wasm: Uint8Array): ExportedKind {
  let names: string[];
  try {
    names = parseModule(wasm).exports.map((e) => e.name);
  } catch (err) {
    throw new UserError(`cannot read the module's exports to tell an HTTP from a network filter: ${(err as Error).message.split("\n")[0]}`);
  }
  const http = names.filter((n) => HTTP_CALLBACKS.includes(n));
  const network = names.filter((n) => NETWORK_CALLBACKS.includes(n));
  const type = http.length > 0 && network.length === 0 ? "HTTP" : network.length > 0 && http.length === 0 ? "NETWORK" : null;
  return { type, http, network };
}

/**
 * The filter type to deploy: `--type` when given (a warning when the module's callbacks disagree),
 * else what the exports imply. A module with both kinds of callbacks needs `--type`; one with
 * neither (a root-only plugin, e.g. a timer) deploys as HTTP, Istio's default. Without the module
 * the type cannot be read, and HTTP is assumed with a note.
 */
export function choosePluginType(wasm: Uint8Array | undefined, given: PluginType | undefined, warn: (line: string) => void): PluginType {
  if (!wasm) {
    if (!given)
      warn(
        "note: without the .wasm the filter type cannot be read from its exports; writing an HTTP filter (pass --type NETWORK for a TCP filter)",
      );
    return given ?? "HTTP";
  }
  const found = exportedKind(wasm);
  if (given) {
    const wrong = given === "HTTP" ? found.network : found.http;
    const right = given === "HTTP" ? found.http : found.network;
    if (wrong.length > 0 && right.length === 0) {
      warn(
        `warning: --type ${given}, but the module exports only ${given === "HTTP" ? "network" : "HTTP"} callbacks (${wrong.join(", ")}); Envoy will never call them`,
      );
    }
    return given;
  }
  if (found.type) return found.type;
  if (found.http.length > 0) {
    throw new UserError(
      `the module exports both HTTP callbacks (${found.http.join(", ")}) and network callbacks (${found.network.join(", ")}); say how to deploy it with --type HTTP or --type NETWORK`,
    );
  }
  return "HTTP";
}
