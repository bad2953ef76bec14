// The time limit on every call into a guest. The module was instrumented at load time
// (instrument.ts): it calls `check` every FUEL units of work (function entries and loop headers)
// and traps with `unreachable` when check answers 0. A JS timer cannot do this (it never fires
// while the thread runs Wasm), so the deadline is read here, on the guest's own thread, which
// also keeps the harness synchronous. The cost per call into the guest is one integer increment
// (`enter`); the clock is read only when the fuel runs out.

/** Units of fuel between two checks: about a millisecond of a tight loop, so a check costs nothing measurable. */
export const FUEL = 1_000_000;
/** Host calls between two checks, for guests that spend their time in slow host calls rather than loops. */
const HOST_CALLS_PER_CHECK = 1024;

/** Default time limit of one call into a guest, in milliseconds (see docs/security.md). */
export const DEFAULT_TIME_LIMIT_MS = 500;
/** The largest time limit accepted (Node's timers and this clock agree up to here). */
export const MAX_TIME_LIMIT_MS = 2_147_483_647;

// (module (type (func (result i32))) (import "h" "c" (func (type 0))) (export "c" (func 0))):
// turns a JS function into a Wasm function, the only kind a funcref table holds.
const WRAPPER = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, 0x02, 0x07, 0x01, 0x01, 0x68, 0x01, 0x63, 0x00,
  0x00, 0x07, 0x05, 0x01, 0x01, 0x63, 0x00, 0x00,
]);
let wrapperModule: WebAssembly.Module | undefined;

export class GuestClock {
  /** Incremented by the VM when an outermost call into the guest starts. */
  seq = 0;
  /** The running call is past the limit: every check answers 0 until the VM is thrown away. */
  expired = false;
  private checkedSeq = -1;
  private started = 0;
  private hostCalls = 0;
  private fuel: WebAssembly.Global | null = null;

  /** `limitMs` 0: no limit (the clock only counts). */
  constructor(readonly limitMs: number) {}

  /** Connects an instance of an instrumented module: fills its check slot, keeps its fuel global. */
  attach(exports: WebAssembly.Exports, tableName: string, globalName: string): void {
    const table = exports[tableName];
    const fuel = exports[globalName];
    if (!(table instanceof WebAssembly.Table) || !(fuel instanceof WebAssembly.Global)) {
      throw new Error("internal: the instrumented module lacks its fuel exports");
    }
    wrapperModule ??= new WebAssembly.Module(WRAPPER);
    const wrapper = new WebAssembly.Instance(wrapperModule, { h: { c: () => this.check() } });
    table.set(0, wrapper.exports.c as unknown as null);
    this.fuel = fuel;
    fuel.value = FUEL;
  }

  /** Called by the guest when its fuel runs out: new fuel, or 0 to make it trap. */
  check(): number {
    if (this.expired) return 0;
    if (this.limitMs === 0) return FUEL;
    if (this.seq !== this.checkedSeq) {
      // The first check of a call starts its clock (the work before it is at most FUEL units).
      this.checkedSeq = this.seq;
      this.started = performance.now();
      return FUEL;
    }
    if (performance.now() - this.started > this.limitMs) {
      this.expired = true;
      return 0;
    }
    return FUEL;
  }

  /** Counts a host call; every HOST_CALLS_PER_CHECK, checks the clock and, when past the limit, empties the fuel so the guest traps at its next loop or call. */
  hostCall(): void {
    if (++this.hostCalls < HOST_CALLS_PER_CHECK || this.limitMs === 0) return;
    this.hostCalls = 0;
    if (this.check() === 0 && this.fuel) this.fuel.value = 0;
  }
}
