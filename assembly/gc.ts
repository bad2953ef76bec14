// Garbage collection for filters built with AssemblyScript's "minimal" runtime (what
// `proxy-wasm-as build` uses: ~5 KB smaller modules than "incremental", no write barriers, no shadow
// stack). Minimal never collects by itself, so the SDK runs a full collection when it is safe and
// worth it.
//
// Safe: only when the outermost callback returns. Envoy can re-enter the module (a local response runs
// the response callbacks while the request callback is still on the stack), and the managed locals of
// an unfinished callback are not roots.
//
// Worth it, whichever comes first:
// - after a root callback (configuration, ticks, queues, foreign functions: rare, often allocation-heavy);
// - after the SDK copied in from the host (bodies, headers, properties, call responses) more than an
//   eighth of the memory, or 256 KiB, since the last collection: large bodies are collected promptly;
// - after the memory grew (allocations the SDK cannot see, e.g. a filter's own JSON trees);
// - after garbage took memory: when a stream ends (or, with a shared HTTP context, which sees no
//   stream end, at each of its callbacks) and the largest free block of the allocator fell by a size
//   class (a power of two) since the last collection. Garbage has to fill half of that block first, so
//   collections are as rare as the garbage allows, and streams that leave none of their own (only
//   their context object) cause about two per thousand streams;
// - after the small-block free lists (small-blocks.ts) ran low: a collection that put at least 16 KiB
//   of garbage on them is repeated once they hold less than a sixteenth of it.
// With the incremental runtime none of this runs.
// @ts-ignore: asc resolves AssemblyScript's runtime module "rt/tlsf"; tsc (check:assembly, editors) cannot see it.
import { ROOT } from "rt/tlsf";

let depth: i32 = 0;
/** A collection that put at least this much on the free lists is repeated when they run low. */
// @ts-ignore: decorator
@inline const LISTED_ENOUGH: usize = 16 << 10;
let pagesAtLastCollect: i32 = 0;
let copiedBytes: usize = 0;
let copyLimit: usize = 256 << 10;
let collectNow = false;
let freeClassAtCollect: i32 = 0;
/** Bytes on the small-block free lists (small-blocks.ts, in `build`'s filters), now and after the last collection. */
let listed: usize = 0;
let listedAtCollect: usize = 0;

/** The small-block free lists took (positive) or handed out (negative) `delta` bytes. */
// @ts-ignore: decorator
@inline export function noteListed(delta: isize): void {
  listed += delta;
}

// @ts-ignore: decorator
@inline export function listedBytes(): usize {
  return listed;
}

/** Entering an exported callback. Not inlined: one call per export is smaller than the body. */
export function enterCallback(): void {
  depth++;
}

/** Leaving an exported callback: collect when it was the outermost one and it is worth it. */
export function leaveCallback(): void {
  if (--depth == 0 && ASC_RUNTIME == 1 /* Runtime.Minimal */) {
    if (collectNow || <i32>memory.size() != pagesAtLastCollect || copiedBytes >= copyLimit) collect();
  }
}

/**
 * The size class of the largest free block of the allocator: the highest bit of TLSF's first-level
 * bitmap (the first word of its root), which halves with each class.
 */
// @ts-ignore: decorator
@inline function largestFreeClass(): i32 {
  return 31 - <i32>clz(load<u32>(changetype<usize>(ROOT)));
}

/**
 * A stream ended, or a shared HTTP context is called: the next outermost callback ends with a
 * collection when garbage took memory since the last one.
 */
export function checkGarbage(): void {
  if (ASC_RUNTIME == 1 && (largestFreeClass() < freeClassAtCollect || listed < listedAtCollect >> 4)) collectNow = true;
}

/** The SDK copied `bytes` of host data into managed memory. */
// @ts-ignore: decorator
@inline export function noteCopied(bytes: usize): void {
  copiedBytes += bytes;
}

/** The next outermost callback ends with a collection (after root callbacks). */
export function collectSoon(): void {
  collectNow = true;
}

function collect(): void {
  __collect();
  const pages = <i32>memory.size();
  pagesAtLastCollect = pages;
  copyLimit = max<usize>(256 << 10, <usize>pages << 13); // an eighth of the memory
  freeClassAtCollect = largestFreeClass();
  listedAtCollect = listed >= LISTED_ENOUGH ? listed : 0;
  copiedBytes = 0;
  collectNow = false;
}
