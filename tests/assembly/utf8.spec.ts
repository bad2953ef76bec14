// UTF-8 conversion (assembly/utf8.ts): decoding must match the WHATWG Encoding standard (what
// JavaScript's TextDecoder does: one U+FFFD per maximal invalid subpart), encoding must always produce
// valid UTF-8, and the bytes accessors must hand over exactly what the host sent.
import { decodeUtf8, encodeUtf16Units, encodeUtf8Into, utf8Bound, bytesToString } from "../../assembly/utf8";
import { encodeUtf8 } from "../../assembly/memory";
import { getBuffer, getMapValue, getMapValueBytes, getProperty } from "../../assembly/hostcalls";
import { lastStatus } from "../../assembly/status";
import { getPropertyString } from "../../assembly/properties";
import { BufferType, MapType, Status } from "../../assembly/types";
import * as mock from "./mock";
import { bytes, concat, utf8, memoryBytes, bufferBytes, atEndOfMemory, referenceDecode, referenceEncode } from "./mock";

function decode(data: Uint8Array): string {
  return decodeUtf8(data.dataStart, data.length);
}

function encoded(s: string): u8[] {
  return bufferBytes(encodeUtf8(s));
}

// Expected strings below were computed with Node's `new TextDecoder("utf-8").decode(bytes)` when
// the test was written and are hard-coded here.
describe("decodeUtf8: valid input", () => {
  test("empty input is the empty string", () => {
    expect(decodeUtf8(0, 0)).toBe("");
    expect(decode(bytes([]))).toBe("");
  });
  test("1-byte sequences, NUL included", () => {
    expect(decode(bytes([0x41, 0x7a, 0x30, 0x7f]))).toBe("Az0\u007F");
    expect(decode(bytes([0x61, 0x00, 0x62]))).toBe("a\u0000b");
  });
  test("2-byte sequences: U+0080, U+00E9, U+07FF", () => {
    expect(decode(bytes([0xc2, 0x80, 0xc3, 0xa9, 0xdf, 0xbf]))).toBe("\u0080\u00E9\u07FF");
  });
  test("3-byte sequences: U+0800, U+20AC, U+D7FF, U+E000, U+FFFD, U+FFFF", () => {
    const b = bytes([0xe0, 0xa0, 0x80, 0xe2, 0x82, 0xac, 0xed, 0x9f, 0xbf, 0xee, 0x80, 0x80, 0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbf]);
    expect(decode(b)).toBe("\u0800\u20AC\uD7FF\uE000\uFFFD\uFFFF");
  });
  test("4-byte sequences become surrogate pairs: U+10000, U+1F600, U+10FFFF", () => {
    const b = bytes([0xf0, 0x90, 0x80, 0x80, 0xf0, 0x9f, 0x98, 0x80, 0xf4, 0x8f, 0xbf, 0xbf]);
    expect(decode(b)).toBe("\uD800\uDC00\uD83D\uDE00\uDBFF\uDFFF");
  });
});

describe("decodeUtf8: invalid input (one U+FFFD per maximal subpart, as TextDecoder)", () => {
  test("a lone continuation byte", () => {
    expect(decode(bytes([0x80]))).toBe("\uFFFD");
    expect(decode(bytes([0x61, 0x80, 0xbf, 0x62]))).toBe("a\uFFFD\uFFFDb");
  });
  test("overlong forms: C0 80, C1 BF, E0 80 80, F0 80 80 80", () => {
    expect(decode(bytes([0xc0, 0x80]))).toBe("\uFFFD\uFFFD");
    expect(decode(bytes([0xc1, 0xbf]))).toBe("\uFFFD\uFFFD");
    expect(decode(bytes([0xe0, 0x80, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD");
    expect(decode(bytes([0xf0, 0x80, 0x80, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD\uFFFD");
  });
  test("encoded surrogates: ED A0 80, ED BF BF", () => {
    expect(decode(bytes([0xed, 0xa0, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD");
    expect(decode(bytes([0xed, 0xbf, 0xbf]))).toBe("\uFFFD\uFFFD\uFFFD");
  });
  test("code points above U+10FFFF: F4 90 80 80, F5 80 80 80", () => {
    expect(decode(bytes([0xf4, 0x90, 0x80, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD\uFFFD");
    expect(decode(bytes([0xf5, 0x80, 0x80, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD\uFFFD");
  });
  test("bytes that never appear in UTF-8: FE, FF, and 5-byte forms", () => {
    expect(decode(bytes([0xfe, 0xff]))).toBe("\uFFFD\uFFFD");
    expect(decode(bytes([0xf8, 0x88, 0x80, 0x80, 0x80]))).toBe("\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD");
  });
  test("sequences truncated at the end of the input", () => {
    expect(decode(bytes([0x61, 0xc3]))).toBe("a\uFFFD");
    expect(decode(bytes([0x61, 0xe2]))).toBe("a\uFFFD");
    expect(decode(bytes([0x61, 0xe2, 0x82]))).toBe("a\uFFFD");
    expect(decode(bytes([0x61, 0xf0, 0x9f, 0x98]))).toBe("a\uFFFD");
  });
  test("sequences cut short by a following ASCII byte keep that byte", () => {
    expect(decode(bytes([0xe2, 0x82, 0x41]))).toBe("\uFFFDA");
    expect(decode(bytes([0xf0, 0x9f, 0x41, 0x42]))).toBe("\uFFFDAB");
  });
  test("a Latin-1 byte in the middle: caf\\xE9-x keeps -x", () => {
    expect(decode(bytes([0x63, 0x61, 0x66, 0xe9, 0x2d, 0x78]))).toBe("caf\uFFFD-x");
    expect(decode(bytes([0x63, 0x61, 0x66, 0xe9]))).toBe("caf\uFFFD");
  });
  test("valid and invalid sequences mixed", () => {
    const b = bytes([0xe2, 0x82, 0xac, 0xff, 0xf0, 0x9f, 0x98, 0x80, 0xc0, 0x41]);
    expect(decode(b)).toBe("\u20AC\uFFFD\uD83D\uDE00\uFFFDA");
  });
  test("a truncated sequence at the very end of memory is not read past", () => {
    const b = bytes([0x61, 0xf0, 0x9f, 0x98]);
    const p = atEndOfMemory(b);
    expect(decodeUtf8(p, 4)).toBe("a\uFFFD");
    expect(decodeUtf8(p + 3, 1)).toBe("\uFFFD");
  });
});

// Tiny deterministic PRNG (xorshift32) for the differential tests.
let seed: u32 = 0x2545f491;
function rand(): u32 {
  let x = seed;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  seed = x;
  return x;
}

// Bytes around every boundary the decoder checks (lead ranges, second-byte ranges, invalid bytes).
const INTERESTING: u8[] = [
  0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4,
  0xf5, 0xf8, 0xfe, 0xff,
];

function hex(b: u8[]): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (i > 0 ? " " : "") + (<u32>b[i]).toString(16);
  return s;
}

describe("decodeUtf8 against the host's TextDecoder (differential)", () => {
  test("the reference itself behaves as WHATWG says", () => {
    expect(referenceDecode(bytes([0x63, 0x61, 0x66, 0xe9, 0x2d, 0x78]))).toBe("caf\uFFFD-x");
    expect(referenceEncode("a\uD800")).toStrictEqual(<u8[]>[0x61, 0xef, 0xbf, 0xbd]);
  });

  test("3000 random byte strings decode exactly as TextDecoder decodes them", () => {
    for (let round = 0; round < 3000; round++) {
      const n = <i32>(rand() % 12);
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const r = rand();
        b[i] = (r & 3) == 0 ? <u8>(r >> 8) : INTERESTING[<i32>((r >> 8) % <u32>INTERESTING.length)];
      }
      const want = referenceDecode(b);
      const got = decode(b);
      if (got != want) expect(got).toBe(want, "input bytes: " + hex(memoryBytes(b.dataStart, b.length)));
    }
    expect(seed).not.toBe(0);
  });
});

describe("encodeUtf8 / encodeUtf8Into", () => {
  test("1- to 4-byte code points", () => {
    expect(encoded("A\u00E9\u20AC\uD83D\uDE00")).toStrictEqual(<u8[]>[0x41, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
    expect(encoded("\u007F\u0080\u07FF\u0800\uFFFF\uD800\uDC00\uDBFF\uDFFF")).toStrictEqual(<u8[]>[
      0x7f, 0xc2, 0x80, 0xdf, 0xbf, 0xe0, 0xa0, 0x80, 0xef, 0xbf, 0xbf, 0xf0, 0x90, 0x80, 0x80, 0xf4, 0x8f, 0xbf, 0xbf,
    ]);
    expect(encoded("")).toStrictEqual(<u8[]>[]);
    expect(encoded("a\u0000b")).toStrictEqual(<u8[]>[0x61, 0x00, 0x62]);
  });

  test("unpaired surrogates become EF BF BD", () => {
    expect(encoded("\uD800")).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbd]);
    expect(encoded("\uDC00")).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbd]);
    expect(encoded("a\uD83D")).toStrictEqual(<u8[]>[0x61, 0xef, 0xbf, 0xbd]);
    expect(encoded("\uD83Dx")).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbd, 0x78]);
    expect(encoded("\uDE00\uD83D")).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbd, 0xef, 0xbf, 0xbd]);
    expect(encoded("\uD83D\uD83D\uDE00")).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbd, 0xf0, 0x9f, 0x98, 0x80]);
  });

  test("encodeUtf8Into returns the byte count and stays within utf8Bound", () => {
    const s = "\uFFFF\uFFFF\uD800"; // worst case: 3 bytes per unit
    const bound = utf8Bound(s);
    expect(bound).toBe(9);
    const dst = atEndOfMemory(new Uint8Array(<i32>bound));
    expect(encodeUtf8Into(s, dst)).toBe(9);
    expect(memoryBytes(dst, 9)).toStrictEqual(<u8[]>[0xef, 0xbf, 0xbf, 0xef, 0xbf, 0xbf, 0xef, 0xbf, 0xbd]);
    // A surrogate pair (2 units, bound 6) takes 4 bytes; the bytes after them are untouched.
    const buf = new Uint8Array(8);
    buf.fill(0xaa);
    expect(encodeUtf8Into("\uD83D\uDE00", buf.dataStart)).toBe(4);
    expect(memoryBytes(buf.dataStart, 8)).toStrictEqual(<u8[]>[0xf0, 0x9f, 0x98, 0x80, 0xaa, 0xaa, 0xaa, 0xaa]);
  });

  test("agrees with AssemblyScript's String.UTF8.encode on valid strings", () => {
    const s = "proxy-wasm: h\u00E9llo \u20AC \u4E2D\u6587 \uD83D\uDE00";
    expect(encoded(s)).toStrictEqual(bufferBytes(String.UTF8.encode(s)));
  });

  test("round trip: decode(encode(s)) == s for valid strings", () => {
    const samples = [
      "",
      "ascii",
      "\u0000",
      "h\u00E9llo",
      "\u0800\u20AC\uD7FF\uE000\uFFFD\uFFFF",
      "\uD800\uDC00\uD83D\uDE00\uDBFF\uDFFF",
      "\u043A\u043B\u044E\u0447",
    ];
    for (let i = 0; i < samples.length; i++) {
      expect(bytesToString(encodeUtf8(samples[i]))).toBe(samples[i]);
    }
  });

  test("round trip of a string with lone surrogates gives U+FFFD in their place", () => {
    expect(bytesToString(encodeUtf8("a\uD800b\uDFFFc\uD83D"))).toBe("a\uFFFDb\uFFFDc\uFFFD");
  });

  test("2000 random UTF-16 strings encode exactly as TextEncoder encodes them (differential)", () => {
    const units: u16[] = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff];
    for (let round = 0; round < 2000; round++) {
      const n = <i32>(rand() % 8);
      let s = "";
      for (let i = 0; i < n; i++) {
        const r = rand();
        s += String.fromCharCode((r & 1) == 0 ? <i32>(r >> 16) : <i32>units[<i32>((r >> 8) % <u32>units.length)]);
      }
      const want = referenceEncode(s);
      const got = encoded(s);
      if (hex(got) != hex(want)) expect(hex(got)).toBe(hex(want), "encoding differs");
    }
  });

  test("mostly-ASCII strings of 0 to 40 units (the four-at-once path), a non-ASCII unit anywhere, encode as TextEncoder does", () => {
    const units: u16[] = [0x80, 0xe9, 0x7ff, 0x800, 0x20ac, 0xd800, 0xdc00, 0xd83d, 0xde00, 0xffff];
    for (let round = 0; round < 2000; round++) {
      const n = <i32>(rand() % 41);
      let s = "";
      for (let i = 0; i < n; i++) {
        const r = rand();
        // One unit in eight is outside ASCII, so it falls in every lane of a four-unit step.
        s += String.fromCharCode((r & 7) != 0 ? <i32>((r >> 8) & 0x7f) : <i32>units[<i32>((r >> 8) % <u32>units.length)]);
      }
      const want = referenceEncode(s);
      const got = encoded(s);
      if (hex(got) != hex(want)) expect(hex(got)).toBe(hex(want), "encoding differs");
    }
  });

  test("ASCII units at the very end of memory: the four-at-once loads never read past the string", () => {
    // 1 to 9 units ending at the last byte of memory (a read past them traps), then one unit fewer
    // than the string, so the bytes after it in memory are other units.
    for (let n = 1; n <= 9; n++) {
      const src = new Uint8Array(n << 1);
      for (let i = 0; i < n; i++) src[i << 1] = <u8>(0x61 + i);
      const p = atEndOfMemory(src);
      const dst = new Uint8Array(n);
      expect(encodeUtf16Units(p, n, dst.dataStart)).toBe(n);
      expect(String.UTF8.decodeUnsafe(dst.dataStart, n)).toBe("abcdefghi".substring(0, n));
      expect(encodeUtf16Units(p, n - 1, dst.dataStart)).toBe(n - 1);
    }
  });
});

// Invalid UTF-8 of every kind, NUL and a valid multi-byte character.
function awkward(): Uint8Array {
  return bytes([0xff, 0x00, 0xc0, 0x80, 0xed, 0xa0, 0x80, 0xe9, 0x2d, 0xe2, 0x82, 0xac, 0xf0, 0x9f]);
}

describe("bytes accessors return exactly what the host sent", () => {
  beforeEach(() => {
    mock.reset();
  });

  test("getMapValueBytes keeps invalid UTF-8; getMapValue replaces it", () => {
    const map = concat([bytes([1, 0, 0, 0, 3, 0, 0, 0, 14, 0, 0, 0]), utf8("x-b"), bytes([0]), awkward(), bytes([0])]);
    mock.setMap(MapType.HttpRequestHeaders, map);
    expect(bufferBytes(getMapValueBytes(MapType.HttpRequestHeaders, "x-b"))).toStrictEqual(bufferBytes(awkward().buffer));
    expect(getMapValue(MapType.HttpRequestHeaders, "x-b")).toBe(referenceDecode(awkward()));
  });

  test("a missing header is null (NotFound); an empty one is an empty buffer", () => {
    const map = concat([bytes([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), utf8("e"), bytes([0, 0])]);
    mock.setMap(MapType.HttpRequestHeaders, map);
    expect(getMapValueBytes(MapType.HttpRequestHeaders, "nope")).toBeNull();
    expect(lastStatus()).toBe(Status.NotFound);
    const empty = getMapValueBytes(MapType.HttpRequestHeaders, "e");
    expect(empty).not.toBeNull();
    expect(empty!.byteLength).toBe(0);
    expect(getMapValue(MapType.HttpRequestHeaders, "e")).toBe("");
  });

  test("getBuffer keeps invalid UTF-8", () => {
    mock.setBuffer(BufferType.HttpRequestBody, awkward());
    expect(bufferBytes(getBuffer(BufferType.HttpRequestBody, 0, 100))).toStrictEqual(bufferBytes(awkward().buffer));
    expect(bufferBytes(getBuffer(BufferType.HttpRequestBody, 2, 3))).toStrictEqual(<u8[]>[0xc0, 0x80, 0xed]);
  });

  test("getProperty keeps invalid UTF-8; getPropertyString replaces it", () => {
    mock.setProperty(utf8("k"), awkward());
    expect(bufferBytes(getProperty(["k"]))).toStrictEqual(bufferBytes(awkward().buffer));
    expect(getPropertyString(["k"])).toBe(referenceDecode(awkward()));
  });
});
