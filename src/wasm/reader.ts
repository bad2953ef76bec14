// A bounds-checked cursor over one section of a Wasm binary: LEB128 integers, names, value types,
// limits and constant expressions. Every defect throws a SectionFault, which binary.ts turns into a
// WasmFormatError naming the section.
import type { ExternKind, Limits, ValType } from "./types.js";

const VAL_TYPES: Record<number, ValType> = {
  0x7f: "i32",
  0x7e: "i64",
  0x7d: "f32",
  0x7c: "f64",
  0x7b: "v128",
  0x70: "funcref",
  0x6f: "externref",
};

export const KINDS: ExternKind[] = ["function", "table", "memory", "global", "tag"];

export const hex = (n: number): string => "0x" + n.toString(16);

/** `n` as an unsigned LEB128 integer (for the few places that write Wasm bytes). */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}
export const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Thrown inside a section; turned into a WasmFormatError that names the section. */
export class SectionFault extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

/** Bounds-checked cursor over bytes[pos, end). Every read fails cleanly past `end`. */
export class Reader {
  constructor(
    readonly bytes: Uint8Array,
    public pos: number,
    public end: number,
  ) {}

  fail(message: string, at: number = this.pos): never {
    throw new SectionFault(message, at);
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  u8(): number {
    if (this.pos >= this.end) this.fail("unexpected end of section");
    return this.bytes[this.pos++];
  }

  skip(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail(`${what} of ${n} bytes runs past the end of the section (${this.end - this.pos} left)`);
    }
    this.pos += n;
  }

  take(n: number, what: string): Uint8Array {
    const start = this.pos;
    this.skip(n, what);
    return this.bytes.subarray(start, start + n);
  }

  /** Unsigned LEB128 of at most `bits` bits (32 or 64), as a JS number (64-bit values above 2^53 fail). */
  uleb(bits: 32 | 64 = 32): number {
    const start = this.pos;
    const maxBytes = Math.ceil(bits / 7);
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail("unexpected end of section inside a LEB128 integer", start);
      const byte = this.bytes[this.pos++];
      if (i === maxBytes - 1) {
        // Last allowed byte: no continuation, and no bits beyond `bits`.
        const usedBits = bits - 7 * i;
        if (byte & 0x80) this.fail(`LEB128 integer longer than ${maxBytes} bytes`, start);
        if (byte >> usedBits !== 0) this.fail(`LEB128 integer does not fit in u${bits}`, start);
      }
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if (!(byte & 0x80)) break;
    }
    if (!Number.isSafeInteger(result)) this.fail("LEB128 integer too large", start);
    return result;
  }

  u32(): number {
    return this.uleb(32);
  }

  /**
   * A signed LEB128 of at most `bits` bits, checking its length and unused bits; its value (exact up
   * to 53 bits: callers of the 64-bit form only skip it).
   */
  sleb(bits: 32 | 33 | 64): number {
    const start = this.pos;
    const maxBytes = Math.ceil(bits / 7);
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (this.pos >= this.end) this.fail("unexpected end of section inside a LEB128 integer", start);
      const byte = this.bytes[this.pos++];
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if (i === maxBytes - 1) {
        if (byte & 0x80) this.fail(`LEB128 integer longer than ${maxBytes} bytes`, start);
        // Bits above the value's width must all equal its sign bit.
        const usedBits = bits - 7 * i; // including the sign bit
        const high = byte >> (usedBits - 1); // sign bit and the unused bits above it
        const ones = (0x7f >> (usedBits - 1)) & 0x7f;
        if (high !== 0 && high !== ones) this.fail(`LEB128 integer does not fit in s${bits}`, start);
      }
      if (!(byte & 0x80)) return byte & 0x40 ? result - scale : result;
    }
  }

  /** A vector length, sanity-checked against the bytes left (every element takes >= minSize bytes). */
  count(what: string, minSize = 1): number {
    const start = this.pos;
    const n = this.u32();
    if (n * minSize > this.end - this.pos) {
      this.fail(`${what} count ${n} is larger than the section can hold (${this.end - this.pos} bytes left)`, start);
    }
    return n;
  }

  name(what: string): string {
    const start = this.pos;
    const len = this.u32();
    const raw = this.take(len, what);
    try {
      return utf8.decode(raw);
    } catch {
      this.fail(`${what} is not valid UTF-8`, start);
    }
  }

  valType(): ValType {
    const at = this.pos;
    const b = this.u8();
    const t = VAL_TYPES[b];
    if (!t) {
      if (b === 0x63 || b === 0x64 || (b >= 0x65 && b <= 0x6e) || b === 0x71 || b === 0x72 || b === 0x73 || b === 0x74) {
        this.fail(`unsupported value type ${hex(b)} (typed references / GC are not supported)`, at);
      }
      this.fail(`invalid value type ${hex(b)}`, at);
    }
    return t;
  }

  refType(): ValType {
    const at = this.pos;
    const t = this.valType();
    if (t !== "funcref" && t !== "externref") this.fail(`invalid reference type ${t}`, at);
    return t;
  }

  limits(kind: "memory" | "table"): Limits {
    const at = this.pos;
    const flags = this.u8();
    const allowed = kind === "memory" ? 0x07 : 0x05;
    if (flags & ~allowed) this.fail(`invalid ${kind} limits flags ${hex(flags)}`, at);
    const hasMax = (flags & 1) !== 0;
    const shared = (flags & 2) !== 0;
    const is64 = (flags & 4) !== 0;
    const min = this.uleb(is64 ? 64 : 32);
    const max = hasMax ? this.uleb(is64 ? 64 : 32) : undefined;
    if (max !== undefined && max < min) this.fail(`${kind} maximum ${max} is smaller than its minimum ${min}`, at);
    if (shared && max === undefined) this.fail("shared memory must declare a maximum", at);
    if (kind === "memory" && !is64) {
      const pages = 65536;
      if (min > pages || (max !== undefined && max > pages)) {
        this.fail(`memory of more than ${pages} pages (4 GiB) is not allowed for a 32-bit memory`, at);
      }
    }
    return max === undefined ? { min, shared, is64 } : { min, max, shared, is64 };
  }

  /** Skips a constant expression (global initializers, segment offsets) up to its `end`. */
  constExpr(): void {
    const start = this.pos;
    for (;;) {
      const at = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x0b: // end
          if (this.pos - start === 1) this.fail("empty constant expression", at);
          return;
        case 0x41: // i32.const
          this.sleb(32);
          break;
        case 0x42: // i64.const
          this.sleb(64);
          break;
        case 0x43: // f32.const
          this.skip(4, "f32 constant");
          break;
        case 0x44: // f64.const
          this.skip(8, "f64 constant");
          break;
        case 0x23: // global.get
        case 0xd2: // ref.func
          this.u32();
          break;
        case 0xd0: // ref.null heaptype
          this.sleb(33);
          break;
        case 0x6a: // i32.add, i32.sub, i32.mul (extended constant expressions)
        case 0x6b:
        case 0x6c:
        case 0x7c: // i64.add, i64.sub, i64.mul
        case 0x7d:
        case 0x7e:
          break;
        case 0xfd: {
          // v128.const: prefix 0xfd, opcode 12, 16 bytes
          const sub = this.u32();
          if (sub !== 12) this.fail(`unsupported instruction 0xfd ${sub} in a constant expression`, at);
          this.skip(16, "v128 constant");
          break;
        }
        default:
          this.fail(`unsupported instruction ${hex(op)} in a constant expression`, at);
      }
    }
  }
}
