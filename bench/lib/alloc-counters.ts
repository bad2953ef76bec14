// An asc transform for the bench (`--transform dist/bench/lib/alloc-counters.js`): before the optimizer
// runs, it adds counters to AssemblyScript's runtime, so a build of the same source with the same
// flags counts memory blocks allocated and freed and garbage collection cycles in exported mutable i64
// globals. The counters go in before optimization so that they survive inlining; the increments make
// this build a few instructions per allocation longer than the release build, which is why the bench
// counts instructions on the real release build and only allocations on this one.
//
// - allocations: entries to the SDK's small-block front (assembly/small-blocks.ts: __alloc, which
//   every object, buffer and host allocation goes through) plus TLSF's moveBlock (a reallocation that
//   moves); in a build without the front, entries to ~lib/rt/tlsf/allocateBlock;
// - frees: entries to the front's __free (explicit frees and the collector's sweep) plus moveBlock
//   (it frees the old block); without the front, entries to ~lib/rt/tlsf/freeBlock;
// - GC cycles: entries to the minimal runtime's ~lib/rt/tcms/__collect, or the incremental runtime's
//   ~lib/rt/itcms/step while its state is idle (a step from idle starts a cycle).

export const ALLOCS_GLOBAL = "__bench_allocations";
export const FREES_GLOBAL = "__bench_frees";
export const GC_GLOBAL = "__bench_gc_cycles";

interface Binaryen {
  i64: number;
  i32: number;
  auto: number;
  wrapModule(ref: number): BinaryenModule;
  getFunctionInfo(ref: number): { body: number };
  _BinaryenFunctionSetBody(fn: number, body: number): void;
}

interface BinaryenModule {
  getFunction(name: string): number;
  getGlobal(name: string): number;
  addGlobal(name: string, type: number, mutable: boolean, init: number): number;
  addGlobalExport(internal: string, external: string): number;
  block(label: string | null, children: number[], type?: number): number;
  if(cond: number, ifTrue: number, ifFalse?: number): number;
  global: { get(name: string, type: number): number; set(name: string, value: number): number };
  i64: { const(value: bigint): number; add(a: number, b: number): number };
  i32: { const(v: number): number; eqz(v: number): number };
  nop(): number;
}

export default class AllocationCounters {
  declare binaryen: Binaryen;

  /** asc passes the binaryen.js module (older versions: its own wrapper, with the module's `ref`). */
  afterCompile(module: BinaryenModule | { ref: number }): void {
    const b = this.binaryen;
    const ref = (module as { ref: unknown }).ref;
    const m = typeof ref === "number" ? b.wrapModule(ref) : (module as BinaryenModule);
    const bump = (g: string) => m.global.set(g, m.i64.add(m.global.get(g, b.i64), m.i64.const(1n)));
    const prepend = (fnName: string, stmt: (() => number) | null): boolean => {
      const fn = m.getFunction(fnName);
      if (!fn || !stmt) return !!fn;
      const body = b.getFunctionInfo(fn).body;
      // Type "auto": the block has the type of the old body, the function's result.
      b._BinaryenFunctionSetBody(fn, m.block(null, [stmt(), body], b.auto));
      return true;
    };
    for (const g of [ALLOCS_GLOBAL, FREES_GLOBAL, GC_GLOBAL]) {
      m.addGlobal(g, b.i64, true, m.i64.const(0n));
      m.addGlobalExport(g, g);
    }
    const front = "~lib/proxy-wasm-as/assembly/small-blocks/";
    if (prepend(`${front}__alloc`, () => bump(ALLOCS_GLOBAL))) {
      prepend(`${front}__free`, () => bump(FREES_GLOBAL));
      prepend("~lib/rt/tlsf/moveBlock", () => m.block(null, [bump(ALLOCS_GLOBAL), bump(FREES_GLOBAL)]));
    } else {
      prepend("~lib/rt/tlsf/allocateBlock", () => bump(ALLOCS_GLOBAL));
      prepend("~lib/rt/tlsf/freeBlock", () => bump(FREES_GLOBAL));
    }
    if (!prepend("~lib/rt/tcms/__collect", () => bump(GC_GLOBAL)) && m.getGlobal("~lib/rt/itcms/state")) {
      prepend("~lib/rt/itcms/step", () => m.if(m.i32.eqz(m.global.get("~lib/rt/itcms/state", b.i32)), bump(GC_GLOBAL)));
    }
  }
}
