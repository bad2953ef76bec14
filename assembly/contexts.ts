// The dispatcher's table of live contexts. It is generic over the context class (always Context,
// whose `contextId` and `__sdkNext` it reads) so that this file imports nothing: context.ts, the
// registry and the dispatcher all use it without an import cycle.

/** Kinds of context the dispatcher keeps (Context.__sdkKind, internal). */
export const KIND_ROOT: u8 = 0;
export const KIND_HTTP: u8 = 1;
export const KIND_STREAM: u8 = 2;

/** What the table reads and writes in a context (Context has these members; a type-checking aid only). */
export interface TableEntry {
  readonly contextId: u32;
  __sdkNext: TableEntry | null;
}

const BUCKETS: u32 = 256;

/** The bucket array: a managed StaticArray, so the collector sees every context through it. */
function newBuckets(): StaticArray<Object | null> {
  const bytes = (<usize>BUCKETS) << alignof<usize>();
  const b = __new(bytes, idof<StaticArray<Object | null>>());
  memory.fill(b, 0, bytes);
  return changetype<StaticArray<Object | null>>(b);
}

/**
 * Every live context (root, HTTP, TCP) by context id: a hash table chained through the contexts'
 * own `__sdkNext` field, so it allocates nothing per stream. Envoy hands out ids in sequence, which
 * `id & (BUCKETS - 1)` spreads evenly. The table does not grow: 256 buckets (1 KB) keep chains at
 * one context or less up to 256 live streams per VM, four at a thousand and forty at ten thousand;
 * rehashing would cost every filter about 100 bytes of code. Every collection visits each bucket, so
 * more buckets cost every filter time: 1024 were about 270 guest instructions per request in
 * x-service-name, which collects every 40 requests. Static members: the state is plain
 * globals, which makes smaller code than the fields of a table object. `T` is always Context.
 */
export class contexts {
  private static buckets: StaticArray<Object | null> = newBuckets();
  /** How many contexts are live. */
  static size: u32 = 0;
  /**
   * The HTTP context every stream shares (registry.ts, setSharedHttpContext; always an HttpContext),
   * or null when each stream has its own. Its streams have no entry in the table.
   */
  static shared: Object | null = null;

  /** Address of the bucket for `id` (raw loads and stores: the StaticArray accessors would be calls). */
  // @ts-ignore: decorator
  @inline private static bucket(id: u32): usize {
    return changetype<usize>(contexts.buckets) + ((<usize>(id & (BUCKETS - 1))) << alignof<usize>());
  }

  static get<T extends TableEntry>(id: u32): T | null {
    let c = load<T | null>(contexts.bucket(id));
    while (c !== null && c.contextId != id) c = changetype<T | null>(c.__sdkNext);
    return c;
  }

  /** Adds `context` first in its bucket (by its own id, which is what get() compares). */
  static set<T extends TableEntry>(context: T): void {
    const at = contexts.bucket(context.contextId);
    context.__sdkNext = load<T | null>(at);
    store<usize>(at, changetype<usize>(context));
    __link(changetype<usize>(contexts.buckets), changetype<usize>(context), false);
    contexts.size++;
  }

  /**
   * Removes the context with this id and returns it; null when there is none. One walk of the bucket:
   * `at` is the address of the link that points at `c` (the bucket, or the `__sdkNext` of the context
   * before it, `parent`).
   */
  static take<T extends TableEntry>(id: u32): T | null {
    let parent = changetype<usize>(contexts.buckets);
    let at = contexts.bucket(id);
    let c = load<T | null>(at);
    while (c !== null && c.contextId != id) {
      parent = changetype<usize>(c);
      at = parent + offsetof<T>("__sdkNext");
      c = changetype<T | null>(c.__sdkNext);
    }
    if (c !== null) {
      const next = changetype<usize>(c.__sdkNext);
      store<usize>(at, next);
      __link(parent, next, false);
      c.__sdkNext = null;
      contexts.size--;
    }
    return c;
  }
}
