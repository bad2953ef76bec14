// Properties the host answers itself, below a stream's own: what the embedder set, plugin_name /
// plugin_root_id / plugin_vm_id, and default stream addresses.
import { STREAM_ATTRIBUTES, encodeProperty, lookupIn, propertyPath, type PropertyValue } from "./properties.js";
import type { Plugin, StreamContext } from "./types.js";

/** Addresses a stream has when the embedder sets none. */
const STREAM_DEFAULTS = new Map<string, PropertyValue>([
  [propertyPath("source.address"), encodeProperty("127.0.0.1:50000")],
  [propertyPath("source.port"), encodeProperty(50000)],
  [propertyPath("destination.address"), encodeProperty("127.0.0.1:10000")],
  [propertyPath("destination.port"), encodeProperty(10000)],
  [propertyPath("connection.mtls"), encodeProperty(false)],
]);

/**
 * A host-level property for a root context (`inStream` false: stream attributes are absent) or a
 * stream, or undefined when the host has none.
 */
export function resolveHostProperty(
  store: ReadonlyMap<string, PropertyValue>,
  key: string,
  pluginOrCtx: Plugin | StreamContext | null,
  inStream?: boolean,
): PropertyValue | undefined {
  let plugin: Plugin | null;
  if (pluginOrCtx && "kind" in pluginOrCtx) {
    plugin = pluginOrCtx.root.plugin;
    inStream = true;
  } else {
    plugin = pluginOrCtx;
  }
  const sep = key.indexOf("\0");
  const top = sep < 0 ? key : key.slice(0, sep);
  if (!inStream && STREAM_ATTRIBUTES.has(top)) return undefined;
  const v = lookupIn(store, key);
  if (v !== undefined) return v;
  if (plugin) {
    if (key === "plugin_name") return Buffer.from(plugin.name, "latin1");
    if (key === "plugin_root_id") return Buffer.from(plugin.rootId, "latin1");
    if (key === "plugin_vm_id") return Buffer.from(plugin.vmId, "latin1");
  }
  if (inStream) return lookupIn(STREAM_DEFAULTS, key);
  return undefined;
}
