// UTF-8 copies of string literals, made once per VM. AssemblyScript places every string literal in
// static memory (below __heap_base): immutable, alive as long as the VM, at a fixed address. So the
// first time a literal is encoded for the host (a header name, a log message, a body), its UTF-8 bytes
// are copied into a block of the raw heap (heap.alloc: memory the collector never sees or moves), and
// every later call reuses them instead of encoding the string again.
//
// The cache is direct-mapped by the literal's address: ENTRIES entries of (bytes, capacity, address,
// length), where (bytes, capacity) is filled like a scratch slot of memory.ts (bufferIn) on first use
// and never emptied. A literal whose entry another literal took first is encoded
// each time, like a string built at run time. The copies are only read: handed to the host as input
// (which it copies, never frees) or copied from; nothing here calls the host.

// @ts-ignore: decorator
@inline const ENTRIES: usize = 64;
// ENTRIES x (bytes u32, capacity u32, address u32, length u32): 1 KiB of zeroed static memory.
const CACHE: usize = memory.data(1024, 16);

/**
 * The cache entry for `s`'s address. Literals lie at least 32 bytes apart (a 20-byte header before
 * each), so address / 32 spreads them over the entries. A string made at run time (in the heap) maps to
 * an entry too, but never matches its key (a literal's address), and is never stored.
 */
// @ts-ignore: decorator
@inline export function literalEntry(s: string): usize {
  // ((address >> 5) & (ENTRIES - 1)) << 4, in two operations
  return CACHE + ((changetype<usize>(s) >> 1) & ((ENTRIES - 1) << 4));
}

/** Whether entry `e` holds the bytes of `s`. */
// @ts-ignore: decorator
@inline export function literalCached(e: usize, s: string): bool {
  return load<usize>(e, 8) == changetype<usize>(s);
}

/** Address of the cached bytes in entry `e` (when it holds a literal). */
// @ts-ignore: decorator
@inline export function literalBytes(e: usize): usize {
  return load<usize>(e);
}

/** Number of cached bytes in entry `e` (when it holds a literal). */
// @ts-ignore: decorator
@inline export function literalLength(e: usize): usize {
  return <usize>load<u32>(e, 12);
}

/**
 * Whether `s` is a literal and its entry is free (`bytes`, the entry's literalBytes, is 0): then its
 * UTF-8 goes into a block of its own that keepLiteral records.
 */
// @ts-ignore: decorator
@inline export function literalFree(bytes: usize, s: string): bool {
  return changetype<usize>(s) < __heap_base && bytes == 0;
}

/** Records entry `e`'s bytes (its buffer, now holding `n` bytes) as the UTF-8 of literal `s`. */
// @ts-ignore: decorator
@inline export function keepLiteral(e: usize, s: string, n: usize): void {
  store<usize>(e, changetype<usize>(s), 8);
  store<u32>(e, <u32>n, 12);
}
