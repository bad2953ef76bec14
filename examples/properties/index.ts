// properties: reads Envoy's request, source and connection properties and acts on them.
// - Tells the upstream who the client is: `x-client-address` (source.address, a string "ip:port"),
//   `x-client-port` (source.port, an 8-byte integer), `x-client-mtls` (connection.mtls, a 1-byte
//   boolean) and `x-connection-id` (connection.id, an 8-byte integer). Values a client sent under
//   these names are replaced, so they cannot be spoofed; a property the host lacks removes the header.
// - Canary routing: a request carrying the canary header (default `x-canary: 1`) gets its
//   `:authority` rewritten to `canary_authority`, so Envoy re-matches the route (it clears the route
//   cache when a filter changes request headers) and sends it to the canary virtual host. The old
//   authority goes in `x-forwarded-host`, and the decision is stored with setProperty as filter
//   state `wasm.canary`, readable by later filters and access logs.
// - Access log line in onLog from request.* and response.* properties.
// Configuration (JSON, all optional):
//   {"canary_header": "x-canary", "canary_value": "1", "canary_authority": "canary.internal"}
// No canary_authority: no canary routing.
import {
  Action,
  HttpContext,
  RootContext,
  JsonKind,
  JsonValue,
  encodeUtf8,
  jsonError,
  logError,
  logInfo,
  parseJson,
  properties,
  setRootContext,
} from "proxy-wasm-as";

class PropertiesRoot extends RootContext {
  canaryHeader: string = "x-canary";
  canaryValue: string = "1";
  canaryAuthority: string = "";

  onConfigure(pluginConfigurationSize: u32): bool {
    if (pluginConfigurationSize > 0) {
      const config = parseJson(this.getPluginConfigurationString());
      if (config === null) {
        logError("properties: the configuration is not valid JSON: " + jsonError());
        return false;
      }
      if (config.kind != JsonKind.Object) {
        logError("properties: the configuration must be a JSON object, not " + config.typeName());
        return false;
      }
      const header = stringField(config, "canary_header", this.canaryHeader);
      const value = stringField(config, "canary_value", this.canaryValue);
      const authority = stringField(config, "canary_authority", this.canaryAuthority);
      if (header === null || value === null || authority === null) return false;
      this.canaryHeader = header;
      this.canaryValue = value;
      this.canaryAuthority = authority;
    }
    // Root contexts see the plugin's own properties (no stream properties here).
    const name = properties.pluginName();
    const rootId = properties.pluginRootId();
    const vmId = properties.pluginVmId();
    logInfo(
      "properties: plugin '" +
        (name !== null ? name : "?") +
        "' root_id '" +
        (rootId !== null ? rootId : "?") +
        "' vm_id '" +
        (vmId !== null ? vmId : "?") +
        "': " +
        (this.canaryAuthority.length > 0
          ? "canary requests (" + this.canaryHeader + ": " + this.canaryValue + ") go to " + this.canaryAuthority
          : "no canary routing"),
    );
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new PropertiesFilter(contextId, this);
  }
}

class PropertiesFilter extends HttpContext {
  canary: bool = false;

  constructor(
    contextId: u32,
    private root: PropertiesRoot,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    // Strings: raw bytes. "ip:port" for IP peers, a path for Unix sockets.
    const address = properties.sourceAddress();
    if (address !== null) this.setHttpRequestHeader("x-client-address", address);
    else this.removeHttpRequestHeader("x-client-address");

    // Integers: 8 bytes little-endian; -1 when missing or not 8 bytes long.
    const port = properties.sourcePort();
    if (port >= 0) this.setHttpRequestHeader("x-client-port", port.toString());
    else this.removeHttpRequestHeader("x-client-port");

    // Booleans: 1 byte; false when missing.
    this.setHttpRequestHeader("x-client-mtls", properties.connectionMtls() ? "true" : "false");

    const connection = properties.connectionId();
    if (connection >= 0) this.setHttpRequestHeader("x-connection-id", connection.toString());
    else this.removeHttpRequestHeader("x-connection-id");

    const root = this.root;
    if (root.canaryAuthority.length > 0) {
      const flag = this.getHttpRequestHeader(root.canaryHeader);
      if (flag !== null && flag == root.canaryValue) {
        this.canary = true;
        // request.host is the :authority the client sent.
        const original = properties.requestHost();
        if (original !== null) this.setHttpRequestHeader("x-forwarded-host", original);
        this.setHttpRequestHeader(":authority", root.canaryAuthority);
        this.setProperty(["canary"], encodeUtf8("true"));
      }
    }
    return Action.Continue;
  }

  onLog(): void {
    const method = properties.requestMethod();
    const path = properties.requestPath();
    const protocol = properties.requestProtocol();
    const source = properties.sourceAddress();
    logInfo(
      (method !== null ? method : "-") +
        " " +
        (path !== null ? path : "-") +
        " " +
        (protocol !== null ? protocol : "-") +
        " from " +
        (source !== null ? source : "-") +
        " -> " +
        properties.responseCode().toString() +
        " (" +
        properties.responseSize().toString() +
        " bytes)" +
        (this.canary ? " canary" : ""),
    );
  }
}

/** Optional string member `key`: its value, `fallback` when absent or null, null (logged) for another type. */
function stringField(config: JsonValue, key: string, fallback: string): string | null {
  const v = config.get(key);
  if (v === null || v.kind == JsonKind.Null) return fallback;
  const s = v.asString();
  if (s === null) logError("properties: bad configuration: '" + key + "' must be a string, not " + v.typeName());
  return s;
}

setRootContext((contextId: u32): RootContext => new PropertiesRoot(contextId));
