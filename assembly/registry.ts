// Registration (what the filter sets up at module init) and the state the dispatcher keeps: every live
// context by id, and every pending callout by token. Registration only stores functions: the host
// allows nothing but logging while the module initializes, so nothing here calls it.

import { IdTable } from "./table";
import { getProperty, logCritical } from "./hostcalls";
import { bytesToString } from "./memory";
import { Context, RootContext, HttpContext, StreamContext } from "./context";

const BUCKETS: u32 = 1024;

/** The bucket array: a managed StaticArray, so the collector sees every context through it. */
function newBuckets(): StaticArray<Context | null> {
  const bytes = <usize>BUCKETS << alignof<usize>();
  const b = __new(bytes, idof<StaticArray<Context | null>>());
  memory.fill(b, 0, bytes);
  return changetype<StaticArray<Context | null>>(b);
}

/**
 * Every live context (root, HTTP, TCP) by context id: a hash table chained through the contexts'
 * own `_next` field, so it allocates nothing per stream. Envoy hands out ids in sequence, which
 * `id & (BUCKETS - 1)` spreads evenly. The table does not grow: 1024 buckets (4 KB) keep chains at
 * one context or less up to about a thousand live streams per VM, and at ten for ten thousand;
 * rehashing would cost every filter about 100 bytes of code. Static members: the state is plain
 * globals, which makes smaller code than the fields of a table object.
 */
export class contexts {
  private static buckets: StaticArray<Context | null> = newBuckets();
  /** How many contexts are live. */
  static size: u32 = 0;

  /** Address of the bucket for `id` (raw loads and stores: the StaticArray accessors would be calls). */
  // @ts-ignore: decorator
  @inline private static bucket(id: u32): usize {
    return changetype<usize>(contexts.buckets) + (<usize>(id & (BUCKETS - 1)) << alignof<usize>());
  }

  // @ts-ignore: decorator
  @inline private static setBucket(at: usize, c: Context | null): void {
    store<usize>(at, changetype<usize>(c));
    __link(changetype<usize>(contexts.buckets), changetype<usize>(c), false);
  }

  static get(id: u32): Context | null {
    let c = load<Context | null>(contexts.bucket(id));
    while (c !== null && c.contextId != id) c = c._next;
    return c;
  }

  /** Adds `context` first in its bucket (by its own id, which is what get() compares). */
  static set(id: u32, context: Context): void {
    const at = contexts.bucket(context.contextId);
    context._next = load<Context | null>(at);
    contexts.setBucket(at, context);
    contexts.size++;
  }

  /** Unlinks `c`, which must be in the table (the dispatcher just found it). */
  static remove(c: Context): void {
    const at = contexts.bucket(c.contextId);
    let p = load<Context>(at);
    if (p === c) contexts.setBucket(at, c._next);
    else {
      while (p._next !== c) p = p._next!;
      p._next = c._next;
    }
    c._next = null;
    contexts.size--;
  }

  /** Removes the context with this id, if there is one. */
  static delete(id: u32): void {
    const c = contexts.get(id);
    if (c !== null) contexts.remove(c);
  }
}

// Callouts: token -> (kind << 32) | id of the context that made the call. The table and the code that
// reads it exist only in filters that make calls: the dispatcher reaches it through `calloutLookup`,
// which only trackCallout sets.
export const CALLOUT_HTTP: u64 = 1;
export const CALLOUT_GRPC_CALL: u64 = 2;
export const CALLOUT_GRPC_STREAM: u64 = 3;
// @ts-ignore: decorator (lazy: filters that make no calls never compile the table)
@lazy let callouts: IdTable<u64> | null = null;
export let calloutLookup: ((token: u32, remove: bool) => u64) | null = null;

function lookupCallout(token: u32, remove: bool): u64 {
  const t = callouts!;
  return remove ? t.delete(token) : t.get(token);
}

// Envoy cancels a stream's pending calls when the stream ends, so their answers never come and their
// entries would stay forever: when the table has doubled since the last sweep, entries whose
// context is gone are dropped (amortized O(1) per call).
// @ts-ignore: decorator
@lazy let sweepCalloutsAt: u32 = 64;

function ownerAlive(token: u32, entry: u64): bool {
  const owner = <u32>entry;
  return owner == 0 || getContext(owner) !== null; // owner 0: a raw stream of the root (hostcalls.grpcStream)
}

export function trackCallout(token: u32, contextId: u32, kind: u64): void {
  let t = callouts;
  if (t === null) {
    callouts = t = new IdTable<u64>();
    calloutLookup = lookupCallout;
  }
  if (t.size >= sweepCalloutsAt) {
    t.retain(ownerAlive);
    sweepCalloutsAt = max<u32>(64, t.size << 1);
  }
  t.set(token, (kind << 32) | <u64>contextId);
}

// ---- factories ----

export type RootContextFactory = (contextId: u32) => RootContext;
export type HttpContextFactory = (contextId: u32, rootContextId: u32) => HttpContext;
export type StreamContextFactory = (contextId: u32, rootContextId: u32) => StreamContext;

/** Root context factory for any root_id without a factory of its own. */
export let defaultRootFactory: RootContextFactory | null = null;
/** Factories registered for one root_id each (Envoy `root_id`, property plugin_root_id). */
// @ts-ignore: decorator (lazy: only filters that register by name hold these)
@lazy let namedRootIds: string[] = [];
// @ts-ignore: decorator
@lazy let namedRootFactories: RootContextFactory[] = [];
/** Set by registerRootContext: only filters that register by name pay for reading plugin_root_id. */
export let namedRootResolver: ((contextId: u32) => RootContext | null) | null = null;
export let httpFactory: HttpContextFactory | null = null;
export let streamFactory: StreamContextFactory | null = null;

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

/** The live context with this id, or null. */
export function getContext(contextId: u32): Context | null {
  return contexts.get(contextId);
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
  root._unmatched = true;
  logCritical(
    "proxy-wasm-as: no root context registered for root_id '" + rootId + "' (registered: '" + namedRootIds.join("', '") +
      "'): set root_id in the plugin configuration to one of these, or call setRootContext() for a default",
  );
  return root;
}
