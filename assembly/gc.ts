// Garbage collection for filters built with AssemblyScript's "minimal" runtime (what
// `proxy-wasm-as build` uses: ~5 KB smaller modules than "incremental", no write barriers, no shadow
// stack). Minimal never collects by itself, so the SDK runs a full collection when it is safe and
// worth it: only when the outermost callback returns (Envoy can re-enter the module, e.g. a local
// response runs the response callbacks while the request callback is still on the stack, and managed
// locals of an unfinished callback are not roots), and only after the memory grew, after a root
// callback (configuration, ticks: rare and often allocation-heavy), or after enough streams ended that
// the cost is amortized (at least 16, and more when many streams are alive, so the mark phase stays a
// constant cost per stream). With the incremental runtime none of this runs.

let depth: i32 = 0;
let pagesAtLastCollect: i32 = 0;
let streamsSinceCollect: u32 = 0;
let collectAfter: u32 = 16;

/** Entering an exported callback. */
// @ts-ignore: decorator
@inline export function enterCallback(): void {
  depth++;
}

/** Leaving an exported callback: collect when it was the outermost one and it is worth it. */
// @ts-ignore: decorator
@inline export function leaveCallback(): void {
  if (--depth == 0 && ASC_RUNTIME == 1 /* Runtime.Minimal */) maybeCollect();
}

/** A stream ended; `liveContexts` is how many contexts remain. */
export function streamEnded(liveContexts: u32): void {
  streamsSinceCollect++;
  const target = liveContexts >> 2;
  collectAfter = target > 16 ? target : 16;
}

/** The next outermost callback ends with a collection (after root callbacks). */
export function collectSoon(): void {
  streamsSinceCollect = u32.MAX_VALUE >> 1;
}

function maybeCollect(): void {
  const pages = <i32>memory.size();
  if (pages == pagesAtLastCollect && streamsSinceCollect < collectAfter) return;
  __collect();
  pagesAtLastCollect = pages;
  streamsSinceCollect = 0;
}
