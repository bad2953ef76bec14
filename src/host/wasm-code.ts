// Walks the instructions of a Wasm function body just far enough to know where each one starts:
// every opcode's immediates are skipped by their encoding (core spec 3.0 plus the SIMD, threads,
// bulk memory, reference types, tail call and exception handling proposals). Used by the
// time-limit instrumentation to find loop headers; anything it does not know is an error, never
// a guess.

/** Bytes and a cursor; every read checks the end. */
export class ByteReader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public end: number = bytes.length,
  ) {}

  fail(what: string): never {
    throw new Error(`${what} at offset 0x${this.pos.toString(16)}`);
  }

  byte(): number {
    if (this.pos >= this.end) this.fail("unexpected end of the function body or section");
    return this.bytes[this.pos++];
  }

  /** An unsigned LEB128 up to 2^53 (enough for counts, sizes and indices). */
  u32(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    return this.fail("LEB128 integer too long");
  }

  /** Skips a signed or unsigned LEB128 of any width. */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.byte() & 0x80) === 0) return;
    this.fail("LEB128 integer too long");
  }

  skip(n: number): void {
    if (this.pos + n > this.end) this.fail("unexpected end of the function body or section");
    this.pos += n;
  }

  /** A value type: one byte, or (ref null? heaptype) in the function references encoding. */
  valType(): void {
    const b = this.byte();
    if (b === 0x63 || b === 0x64) this.skipLeb();
  }

  /** A block type: empty (0x40), a value type or a type index (s33). */
  blockType(): void {
    const b = this.bytes[this.pos];
    if (b === 0x63 || b === 0x64) {
      this.pos++;
      this.skipLeb();
    } else {
      this.skipLeb();
    }
  }

  memarg(): void {
    const align = this.u32();
    if (align & 0x40) this.skipLeb(); // multi-memory: a memory index follows
    this.skipLeb(); // offset (u32 or u64)
  }
}

/** Opcodes whose immediates are exactly one LEB128 (index, depth or constant). */
const ONE_LEB = new Set([
  0x07, 0x08, 0x09, 0x0c, 0x0d, 0x10, 0x12, 0x14, 0x15, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x3f, 0x40, 0x41, 0x42, 0xd0, 0xd2,
  0xd4, 0xd6,
]);

/** 0xFC sub-opcodes: how many LEB128 immediates each has (0-7 saturating truncations: none). */
const FC_LEBS = [0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 1, 2, 1, 2, 1, 1, 1];

function simd(r: ByteReader): void {
  const op = r.u32();
  if (op <= 11 || op === 92 || op === 93) return r.memarg(); // loads, store, load*_zero
  if (op === 12 || op === 13) return r.skip(16); // v128.const, i8x16.shuffle
  if (op >= 21 && op <= 34) return r.skip(1); // extract_lane / replace_lane
  if (op >= 84 && op <= 91) {
    r.memarg();
    return r.skip(1); // load*_lane / store*_lane
  }
  if (op > 0x113) r.fail(`unknown SIMD instruction 0xfd ${op}`);
}

function atomic(r: ByteReader): void {
  const op = r.u32();
  if (op === 0x03) return r.skip(1); // atomic.fence
  if (op <= 0x02 || (op >= 0x10 && op <= 0x4e)) return r.memarg();
  r.fail(`unknown atomic instruction 0xfe ${op}`);
}

/**
 * Calls `onLoop(afterBlockType)` for each `loop` instruction, with the offset just after its block
 * type (where the loop body starts), while reading the instructions from r.pos to r.end.
 */
export function walkInstructions(r: ByteReader, onLoop: (bodyStart: number) => void): void {
  while (r.pos < r.end) {
    const op = r.byte();
    if (op === 0x03) {
      r.blockType();
      onLoop(r.pos);
    } else if (op === 0x02 || op === 0x04 || op === 0x06) {
      r.blockType();
    } else if (ONE_LEB.has(op)) {
      r.skipLeb();
    } else if (op >= 0x28 && op <= 0x3e) {
      r.memarg();
    } else if (op === 0x43) {
      r.skip(4);
    } else if (op === 0x44) {
      r.skip(8);
    } else if (op === 0x0e) {
      const n = r.u32();
      for (let i = 0; i <= n; i++) r.skipLeb();
    } else if (op === 0x11 || op === 0x13) {
      r.skipLeb();
      r.skipLeb();
    } else if (op === 0x1c) {
      const n = r.u32();
      for (let i = 0; i < n; i++) r.valType();
    } else if (op === 0x1f) {
      r.blockType();
      const n = r.u32();
      for (let i = 0; i < n; i++) {
        const kind = r.byte();
        if (kind < 2) r.skipLeb(); // catch / catch_ref: a tag
        r.skipLeb(); // label
      }
    } else if (op === 0xfc) {
      const sub = r.u32();
      if (sub >= FC_LEBS.length) r.fail(`unknown instruction 0xfc ${sub}`);
      for (let i = 0; i < FC_LEBS[sub]; i++) r.skipLeb();
    } else if (op === 0xfd) {
      simd(r);
    } else if (op === 0xfe) {
      atomic(r);
    } else if (
      op <= 0x01 ||
      op === 0x05 ||
      op === 0x0a ||
      op === 0x0b ||
      op === 0x0f ||
      op === 0x19 ||
      op === 0x1a ||
      op === 0x1b ||
      (op >= 0x45 && op <= 0xc4) ||
      op === 0xd1 ||
      op === 0xd3 ||
      op === 0xd5
    ) {
      // no immediates
    } else {
      r.fail(`unknown instruction 0x${op.toString(16)}`);
    }
  }
}
