// Registration: the context factories a filter sets up at module init. Registration only stores
// functions: the host allows nothing but logging while the module initializes, so nothing here calls it.
// The live contexts are in contexts.ts, the pending callouts in callouts.ts.

import { getProperty } from "./hostcalls";
import { logCritical } from "./log";
import { bytesToString } from "./utf8";
import { Context } from "./context";
import { KIND_HTTP, contexts } from "./contexts";
import { RootContext } from "./root-context";
import { HttpContext } from "./http-context";
import { StreamContext } from "./stream-context";

// ---- factories ----

export type RootContextFactory = (contextId: u32) => RootContext;
export type HttpContextFactory = (contextId: u32, rootContextId: u32) => HttpContext;
export type StreamContextFactory = (contextId: u32, rootContextId: u32) => StreamContext;

/** Root context factory for any root_id without a factory of its own. */
export let defaultRootFactory: RootContextFactory | null = null;
/** Factories registered for one root_id each (Envoy `root_id`, property plugin_root_id). */
// @ts-ignore: decorator (lazy: only filters that register by name hold these)
@lazy const namedRootIds: string[] = [];
// @ts-ignore: decorator
@lazy const namedRootFactories: RootContextFactory[] = [];
/** Set by registerRootContext: only filters that register by name pay for reading plugin_root_id. */
export let namedRootResolver: ((contextId: u32) => RootContext | null) | null = null;
export let httpFactory: HttpContextFactory | null = null;
export let streamFactory: StreamContextFactory | null = null;
/**
 * Set by setSharedHttpContext: run at each new stream, it reports a TCP factory beside the shared
 * context. A pointer, so that its message is only in modules that share a context.
 */
export let sharedContextCheck: (() => void) | null = null;

/**
 * Sets the root context factory used for every plugin (any root_id) that has no factory registered
 * with registerRootContext(). Without any root factory, each plugin gets a plain RootContext.
 * Call at module top level.
 */
export function setRootContext(factory: RootContextFactory): void {
  defaultRootFactory = factory;
}

/**
 * Registers the root context factory for plugins whose root_id is `rootId`, so one module can serve
 * several plugins. Call at module top level.
 */
export function registerRootContext(rootId: string, factory: RootContextFactory): void {
  namedRootIds.push(rootId);
  namedRootFactories.push(factory);
  namedRootResolver = resolveNamedRoot;
}

/** Sets the factory for each new HTTP stream, used when the root's createHttpContext returns null. */
export function setHttpContext(factory: HttpContextFactory): void {
  httpFactory = factory;
}

/** Sets the factory for each new TCP connection, used when the root's createStreamContext returns null. */
export function setStreamContext(factory: StreamContextFactory): void {
  streamFactory = factory;
}

/**
 * Makes `context` the HTTP context of every stream, for a filter that keeps nothing per stream in its
 * fields: no context object is created, looked up or freed per request, and a module that also has
 * no per-stream factory, root_id registry or onDone/onDelete override exports no
 * proxy_on_context_create or proxy_on_delete, so the host makes no call into it but the filter's own
 * callbacks (docs/sdk.md, "One context for every stream"). In each callback `context.contextId` is
 * the current stream's id. Replaces setHttpContext and RootContext.createHttpContext; a module with
 * a shared HTTP context serves no TCP connections (with setStreamContext too, each new stream or
 * connection logs that once). Call at module top level.
 */
export function setSharedHttpContext(context: HttpContext): void {
  context.__sdkKind = KIND_HTTP;
  contexts.shared = context;
  sharedContextCheck = reportStreamFactory;
}

let reportedStreamFactory = false;
function reportStreamFactory(): void {
  if (streamFactory === null || reportedStreamFactory) return;
  reportedStreamFactory = true;
  logCritical("proxy-wasm-as: setSharedHttpContext and setStreamContext in one module: TCP connections get no context; build them as two modules");
}

/** The live context with this id, or null (always for a stream served by a shared HTTP context). */
export function getContext(contextId: u32): Context | null {
  return contexts.get<Context>(contextId);
}

/**
 * The root context for the plugin being created, from the factory registered for its root_id; when
 * none matches and there is no default factory, a RootContext marked unmatched (its plugin fails to
 * configure) after a CRITICAL log naming the root_id and the registered ones.
 */
function resolveNamedRoot(contextId: u32): RootContext | null {
  const raw = getProperty(["plugin_root_id"]);
  const rootId = raw === null ? "" : bytesToString(raw);
  for (let i = 0, n = namedRootIds.length; i < n; i++) {
    if (unchecked(namedRootIds[i]) == rootId) return unchecked(namedRootFactories[i])(contextId);
  }
  if (defaultRootFactory !== null) return null;
  const root = new RootContext(contextId);
  root.__sdkUnmatched = true;
  logCritical(
    "proxy-wasm-as: no root context registered for root_id '" + rootId + "' (registered: '" + namedRootIds.join("', '") +
      "'): set root_id in the plugin configuration to one of these, or call setRootContext() for a default",
  );
  return root;
}
