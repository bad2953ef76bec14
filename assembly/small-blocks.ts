// Free lists for small blocks, in front of AssemblyScript's TLSF allocator. `proxy-wasm-as build`
// compiles this file into every filter and renames TLSF's own entry points to __tlsf_alloc,
// __tlsf_realloc and __tlsf_free (src/build/small-blocks.ts), so every allocation of the filter and of
// the runtime (the objects `new` makes, strings, arrays, the buffers the host fills) passes through here.
//
// Why: a filter's per-request garbage is a handful of small blocks of the same few sizes (its context
// object, header values, a concatenated string). TLSF splits a block to allocate one and merges it
// with its neighbours when it is freed: about 500 guest instructions per block. Here a freed small
// block goes on a list of blocks of its size, and the next allocation of that size takes it back:
// about 30 instructions each way.
//
// The blocks on the lists stay "used" for TLSF (it never merges them) and keep TLSF's block header,
// so a block handed out from a list is a normal TLSF block (realloc and free work on it). Since TLSF
// cannot merge them, listed blocks could keep its free space in pieces; so about HELD_LIMIT bytes at most
// wait on the lists (a block freed beyond that goes back to TLSF), and all of them go back to TLSF,
// merged with their free neighbours, when a large block is asked for (heap.alloc, or heap.realloc and
// the collector's __renew growing a block, which use TLSF's reallocateBlock). gc.ts counts the listed bytes
// to collect again when the lists run low. Blocks of at most SMALL_LIMIT bytes are listed.
// With assertions on, __free and __realloc check the block is in use (checkInUse), as TLSF's own do.

// Block sizes as TLSF makes them: a 4-byte header, then 16k - 4 bytes of payload (12, 28, 44, ...).
// @ts-ignore: decorator
@inline const SMALL_LIMIT: usize = 252;
// @ts-ignore: decorator
@inline const HELD_LIMIT: usize = 32 << 10;
/** List heads by k = (payload + 4) / 16, 1 ... 16. */
const HEADS: usize = memory.data(17 << 2, 4);

import { listedBytes, noteListed } from "./gc";
// @ts-ignore: asc resolves AssemblyScript's runtime module "rt/tlsf"; tsc cannot see it.
import { Block, ROOT, reallocateBlock } from "rt/tlsf";
import { proxy_log } from "./imports";
import { LogLevel } from "./types";

// The message of a single allocation over 1 GiB, as ASCII bytes (src/build/small-blocks.ts routes the
// runtime's own "Allocation too large" here). They spell
// (tests/node/sdk-size.test.ts checks that they match):
// > allocation too large
// @ts-ignore: decorator
@lazy const TOO_LARGE = memory.data<u8>([
  0x61, 0x6c, 0x6c, 0x6f, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x20, 0x74, 0x6f, 0x6f, 0x20, 0x6c,
  0x61, 0x72, 0x67, 0x65,
]);

/** Logs "allocation too large" at CRITICAL and traps, like the abort handler. */
// @ts-ignore: decorator
@global
export function __sdkAllocationTooLarge(): void {
  proxy_log(LogLevel.Critical, TOO_LARGE, 20);
  unreachable();
}

// @ts-ignore: decorator
@global @unsafe
export function __alloc(size: usize): usize {
  if (size <= SMALL_LIMIT) {
    // TLSF's block for `size`, header included: 16k bytes, k >= 1 (payload at least 12).
    const bytes = (size + 19) & ~15;
    const at = HEADS + (bytes >> 2);
    const block = load<usize>(at);
    if (block != 0) {
      store<usize>(at, load<usize>(block));
      noteListed(-<isize>bytes);
      return block;
    }
  } else if (listedBytes() != 0) {
    // A large block needs TLSF's free space in one piece, which listed blocks may split: they go back first.
    returnListedBlocks();
  }
  // @ts-ignore: TLSF's __alloc, renamed by the build
  return __tlsf_alloc(size);
}

// @ts-ignore: decorator
@global @unsafe
export function __realloc(ptr: usize, size: usize): usize {
  // Only blocks of the heap: the collector's __renew copies a static object itself, and a raw
  // heap.realloc of one (its block header is gone, src/build/static-headers.ts) traps.
  if (ptr < __heap_base) unreachable();
  if (!ASC_NO_ASSERT) checkInUse(ptr);
  // Growing into a large block (an array or string that outgrew its block) needs the same room.
  if (size > SMALL_LIMIT && listedBytes() != 0) returnListedBlocks();
  return changetype<usize>(reallocateBlock(ROOT, changetype<Block>(ptr - 4), size)) + 4;
}

/** Frees every listed block to TLSF, where it merges with its free neighbours. */
function returnListedBlocks(): void {
  for (let at = HEADS + 4; at < HEADS + (17 << 2); at += 4) {
    let block = load<usize>(at);
    store<usize>(at, 0);
    while (block != 0) {
      const next = load<usize>(block);
      // @ts-ignore: TLSF's __free, renamed by the build
      __tlsf_free(block);
      block = next;
    }
  }
  noteListed(-<isize>listedBytes());
}

// @ts-ignore: decorator
@global @unsafe
export function __free(ptr: usize): void {
  if (ptr < __heap_base) return;
  if (!ASC_NO_ASSERT) checkInUse(ptr);
  // TLSF's block header holds the payload size with two flag bits; the block is 4 bytes more.
  const bytes = (load<usize>(ptr - 4) & ~3) + 4;
  if (bytes <= SMALL_LIMIT + 4 && listedBytes() < HELD_LIMIT) {
    const at = HEADS + (bytes >> 2);
    store<usize>(ptr, load<usize>(at));
    store<usize>(at, ptr);
    noteListed(<isize>bytes);
    return;
  }
  // @ts-ignore: TLSF's __free, renamed by the build
  __tlsf_free(ptr);
}

/**
 * With assertions on (--debug, or `noAssert: false`): traps when `ptr` is not a block in use, where
 * TLSF's own check did before the lists: a block TLSF has free, or one already on a free list (a
 * second free would list it twice and two allocations would get it). Release builds leave it out.
 */
function checkInUse(ptr: usize): void {
  const info = load<usize>(ptr - 4);
  let listed = (ptr & 15) != 0 || (info & 1) != 0;
  const bytes = (info & ~3) + 4;
  if (bytes <= SMALL_LIMIT + 4) {
    for (let block = load<usize>(HEADS + (bytes >> 2)); block != 0 && !listed; block = load<usize>(block)) listed = block == ptr;
  }
  assert(!listed, "block freed twice (or never allocated)");
}
