// The time limit's load-time instrumentation. A module the host runs gets a fuel counter: every
// function entry and every loop header decrements a new mutable i32 global, and when it reaches
// zero the code calls the host (through a one-slot funcref table the host fills) which answers
// with new fuel, or 0 when the running callback is past its time limit; 0 makes the guest execute
// `unreachable`, a trap no Wasm code can catch. Nothing is renumbered: the type, table, global
// and exports are appended after the module's own, so function, table and global indices, the
// name section and every export keep their meaning. Only code offsets move; `originalOffset`
// maps an offset in the instrumented module (as V8 prints in a trap's stack) back to the
// module as built (what source maps and `wasm-objdump` refer to).
import { writeLeb as leb } from "./binary.js";
import { ByteReader, walkInstructions } from "./wasm-code.js";

/** Export names of the added global and table (the host reads them from the instance). */
export const FUEL_GLOBAL_EXPORT = "__proxy_wasm_as_fuel";
export const FUEL_TABLE_EXPORT = "__proxy_wasm_as_fuel_check";
/** Fuel a module starts with: its start function (run while instantiating, before the host can fill the table) gets this much. */
const INITIAL_FUEL = 0x7fffffff;

export interface Instrumented {
  bytes: Uint8Array;
  /** Maps a byte offset in `bytes` to the offset of the same instruction in the original module. */
  originalOffset(offset: number): number;
  /** Loop headers instrumented. */
  loops: number;
  /** Function bodies instrumented. */
  functions: number;
}

const str = (s: string): number[] => [...leb(s.length), ...Buffer.from(s, "utf8")];

/** Builds the output from copied ranges of the input and new bytes, remembering where each range went. */
class Output {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  /** [outStart, inStart, length] of every copied range, in output order. */
  readonly copied: number[][] = [];
  constructor(private readonly input: Uint8Array) {}
  copy(from: number, to: number): void {
    if (to <= from) return;
    this.copied.push([this.length, from, to - from]);
    this.chunks.push(this.input.subarray(from, to));
    this.length += to - from;
  }
  emit(bytes: ArrayLike<number>): void {
    this.chunks.push(Uint8Array.from(bytes));
    this.length += bytes.length;
  }
  /** Appends another Output (built separately because its size prefix had to be known first). */
  append(o: Output): void {
    for (const [outStart, inStart, len] of o.copied) this.copied.push([outStart + this.length, inStart, len]);
    this.chunks.push(...o.chunks);
    this.length += o.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

interface Section {
  id: number;
  /** Offset of the section id byte. */
  at: number;
  start: number;
  end: number;
}

// Where each known section goes (tag 13 sits between memory and global, data count 12 before code).
const ORDER: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };

function sections(bytes: Uint8Array): Section[] {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error("not a WebAssembly binary (bad magic number)");
  }
  const out: Section[] = [];
  const r = new ByteReader(bytes, 8);
  while (r.pos < bytes.length) {
    const at = r.pos;
    const id = r.byte();
    const size = r.u32();
    const start = r.pos;
    if (start + size > bytes.length) r.fail(`truncated section ${id}`);
    out.push({ id, at, start, end: start + size });
    r.pos = start + size;
  }
  return out;
}

/** Counts of what the module imports, by kind. */
function importCounts(bytes: Uint8Array, s: Section | undefined): { tables: number; globals: number } {
  const counts = { tables: 0, globals: 0 };
  if (!s) return counts;
  const r = new ByteReader(bytes, s.start, s.end);
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    r.skip(r.u32());
    r.skip(r.u32());
    const kind = r.byte();
    if (kind === 0) r.skipLeb();
    else if (kind === 1) {
      counts.tables++;
      r.valType();
      limits(r);
    } else if (kind === 2) limits(r);
    else if (kind === 3) {
      counts.globals++;
      r.valType();
      r.byte();
    } else if (kind === 4) {
      r.byte();
      r.skipLeb();
    } else r.fail(`unknown import kind ${kind}`);
  }
  return counts;
}

function limits(r: ByteReader): void {
  const flags = r.byte();
  r.skipLeb();
  if (flags & 1) r.skipLeb();
}

/** Number of entries of a vector section (its first LEB128), 0 when absent. */
function count(bytes: Uint8Array, s: Section | undefined): number {
  return s ? new ByteReader(bytes, s.start, s.end).u32() : 0;
}

/** The type section's function types, checked to be plain `func` entries (no GC rec groups). */
function typeCount(bytes: Uint8Array, s: Section | undefined): number {
  if (!s) return 0;
  const r = new ByteReader(bytes, s.start, s.end);
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    if (r.byte() !== 0x60) r.fail("a type that is not a function type (the GC proposal is not supported)");
    for (let k = 0; k < 2; k++) {
      const m = r.u32();
      for (let j = 0; j < m; j++) r.valType();
    }
  }
  return n;
}

/**
 * Returns the module with a fuel counter checked at every function entry and loop header.
 * Throws a one-line Error for bytes it cannot read (the engine would refuse them too).
 */
export function instrumentFuel(bytes: Uint8Array): Instrumented {
  const list = sections(bytes);
  const find = (id: number) => list.find((s) => s.id === id);
  const typeIdx = typeCount(bytes, find(1));
  const imported = importCounts(bytes, find(2));
  const tableIdx = imported.tables + count(bytes, find(4));
  const globalIdx = imported.globals + count(bytes, find(6));
  const G = leb(globalIdx);
  // global.get G; i32.eqz; if; i32.const 0; call_indirect (result i32) table T; global.set G;
  //   global.get G; i32.eqz; if; unreachable; end; end; global.get G; i32.const 1; i32.sub; global.set G
  const snippet = [
    0x23,
    ...G,
    0x45,
    0x04,
    0x40,
    0x41,
    0x00,
    0x11,
    ...leb(typeIdx),
    ...leb(tableIdx),
    0x24,
    ...G,
    0x23,
    ...G,
    0x45,
    0x04,
    0x40,
    0x00,
    0x0b,
    0x0b,
    0x23,
    ...G,
    0x41,
    0x01,
    0x6b,
    0x24,
    ...G,
  ];
  const additions: Record<number, number[]> = {
    1: [0x60, 0x00, 0x01, 0x7f],
    4: [0x70, 0x01, 0x01, 0x01],
    6: [0x7f, 0x01, 0x41, ...leb(INITIAL_FUEL), 0x0b],
    7: [...str(FUEL_GLOBAL_EXPORT), 0x03, ...G, ...str(FUEL_TABLE_EXPORT), 0x01, ...leb(tableIdx)],
  };
  const exportsAdded = 2;
  const out = new Output(bytes);
  out.copy(0, 8);
  let loops = 0;
  let functions = 0;
  const pending = new Set([1, 4, 6, 7]);
  const addMissingBefore = (rank: number) => {
    for (const id of [1, 4, 6, 7]) {
      if (pending.has(id) && ORDER[id] < rank) {
        pending.delete(id);
        const content = [...leb(id === 7 ? exportsAdded : 1), ...additions[id]];
        out.emit([id, ...leb(content.length), ...content]);
      }
    }
  };
  for (const s of list) {
    if (s.id !== 0) addMissingBefore(ORDER[s.id] ?? 99);
    if (pending.has(s.id)) {
      pending.delete(s.id);
      const r = new ByteReader(bytes, s.start, s.end);
      const n = r.u32();
      const head = leb(n + (s.id === 7 ? exportsAdded : 1));
      const body = new Output(bytes);
      body.emit(head);
      body.copy(r.pos, s.end);
      body.emit(additions[s.id]);
      out.emit([s.id, ...leb(body.length)]);
      out.append(body);
    } else if (s.id === 10) {
      const section = new Output(bytes);
      const r = new ByteReader(bytes, s.start, s.end);
      const n = r.u32();
      section.emit(leb(n));
      for (let i = 0; i < n; i++) {
        const size = r.u32();
        const start = r.pos;
        const end = start + size;
        if (end > s.end) r.fail("truncated function body");
        const fr = new ByteReader(bytes, start, end);
        const groups = fr.u32();
        for (let g = 0; g < groups; g++) {
          fr.skipLeb();
          fr.valType();
        }
        const fn = new Output(bytes);
        fn.copy(start, fr.pos);
        fn.emit(snippet);
        let from = fr.pos;
        walkInstructions(fr, (bodyStart) => {
          fn.copy(from, bodyStart);
          fn.emit(snippet);
          from = bodyStart;
          loops++;
        });
        fn.copy(from, end);
        functions++;
        section.emit(leb(fn.length));
        section.append(fn);
        r.pos = end;
      }
      out.emit([10, ...leb(section.length)]);
      out.append(section);
    } else {
      out.copy(s.at, s.end);
    }
  }
  addMissingBefore(99);
  const copied = out.copied;
  return {
    bytes: out.bytes(),
    loops,
    functions,
    originalOffset(offset: number): number {
      // The last copied range starting at or before `offset`; inside added bytes, the next original instruction.
      let lo = 0;
      let hi = copied.length - 1;
      let best = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (copied[mid][0] <= offset) {
          best = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (best < 0) return 0;
      const [outStart, inStart, len] = copied[best];
      if (offset < outStart + len) return inStart + (offset - outStart);
      return best + 1 < copied.length ? copied[best + 1][1] : inStart + len;
    },
  };
}
