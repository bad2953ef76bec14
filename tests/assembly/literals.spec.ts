// The UTF-8 of string literals, kept once per VM (assembly/literals.ts, used by memory.ts's
// encodeForHost and headers.ts's putUtf8z): a literal's bytes must be exactly what encoding the same
// text at run time gives (non-ASCII, lone surrogates as U+FFFD), reused from the second call on, never
// shared with a string built at run time, and right for literals whose cache entries collide.
import { encodeForHost, encoded, scratchAt, SCRATCH_A, SCRATCH_B, SCRATCH_MAP } from "../../assembly/memory";
import { serializeHeaders, Header } from "../../assembly/headers";
import { logInfo } from "../../assembly/log";
import * as mock from "./mock";
import { memoryBytes, referenceEncode } from "./mock";

/** The bytes encodeForHost gives for `s`, and where they were. */
class Encoded {
  constructor(
    public bytes: u8[],
    public at: usize,
  ) {}
}

function encode(s: string, slot: usize = SCRATCH_A): Encoded {
  const n = encodeForHost(s, slot);
  return new Encoded(memoryBytes(encoded(), n), encoded());
}

/** The same text as a string built at run time (in the heap, not a literal). */
function runtime(s: string): string {
  return String.fromCharCodes(s.split("").map<i32>((c: string): i32 => c.charCodeAt(0)));
}

// 100 literals: more than the cache has entries, so some share one.
const MANY: string[] = [
  "literal-0",
  "literal-1",
  "literal-2",
  "literal-3",
  "literal-4",
  "literal-5",
  "literal-6",
  "literal-7",
  "literal-8",
  "literal-9",
  "literal-10",
  "literal-11",
  "literal-12",
  "literal-13",
  "literal-14",
  "literal-15",
  "literal-16",
  "literal-17",
  "literal-18",
  "literal-19",
  "literal-20",
  "literal-21",
  "literal-22",
  "literal-23",
  "literal-24",
  "literal-25",
  "literal-26",
  "literal-27",
  "literal-28",
  "literal-29",
  "literal-30",
  "literal-31",
  "literal-32",
  "literal-33",
  "literal-34",
  "literal-35",
  "literal-36",
  "literal-37",
  "literal-38",
  "literal-39",
  "literal-40",
  "literal-41",
  "literal-42",
  "literal-43",
  "literal-44",
  "literal-45",
  "literal-46",
  "literal-47",
  "literal-48",
  "literal-49",
  "literal-50",
  "literal-51",
  "literal-52",
  "literal-53",
  "literal-54",
  "literal-55",
  "literal-56",
  "literal-57",
  "literal-58",
  "literal-59",
  "literal-60",
  "literal-61",
  "literal-62",
  "literal-63",
  "literal-64",
  "literal-65",
  "literal-66",
  "literal-67",
  "literal-68",
  "literal-69",
  "literal-70",
  "literal-71",
  "literal-72",
  "literal-73",
  "literal-74",
  "literal-75",
  "literal-76",
  "literal-77",
  "literal-78",
  "literal-79",
  "literal-80",
  "literal-81",
  "literal-82",
  "literal-83",
  "literal-84",
  "literal-85",
  "literal-86",
  "literal-87",
  "literal-88",
  "literal-89",
  "literal-90",
  "literal-91",
  "literal-92",
  "literal-93",
  "literal-94",
  "literal-95",
  "literal-96",
  "literal-97",
  "literal-98",
  "literal-99",
];

describe("literal UTF-8 cache", () => {
  test("a literal gives the bytes of its text, and the same cached bytes on every later call", () => {
    const first = encode("x-service-name");
    expect(first.bytes).toStrictEqual(referenceEncode("x-service-name"));
    const second = encode("x-service-name");
    expect(second.bytes).toStrictEqual(first.bytes);
    const third = encode("x-service-name", SCRATCH_B);
    expect(third.at).toBe(second.at, "the cached copy, whatever the slot");
    expect(changetype<usize>("x-service-name") < __heap_base).toBe(true);
  });

  test("a run-time string with a literal's text is encoded into the scratch slot, not the literal's copy", () => {
    const lit = encode("my-custom-service");
    encode("my-custom-service");
    const s = runtime("my-custom-service");
    expect(changetype<usize>(s) >= __heap_base).toBe(true);
    const rt = encode(s);
    expect(rt.bytes).toStrictEqual(lit.bytes);
    expect(rt.at).toBe(scratchAt(SCRATCH_A), "a run-time string is never kept: its memory is reused");
    expect(encode(s).at).toBe(scratchAt(SCRATCH_A));
    // Reusing the slot for another string leaves the literal's bytes as they were.
    encode(runtime("something else, longer than the literal before it"));
    expect(encode("my-custom-service").bytes).toStrictEqual(referenceEncode("my-custom-service"));
  });

  test("non-ASCII literals: 2-, 3- and 4-byte sequences", () => {
    const text = "h\u00E9llo \u20AC \uD83D\uDE00 \u07FF\u0800\uFFFF";
    const want = referenceEncode(text);
    expect(encode("h\u00E9llo \u20AC \uD83D\uDE00 \u07FF\u0800\uFFFF").bytes).toStrictEqual(want);
    expect(encode("h\u00E9llo \u20AC \uD83D\uDE00 \u07FF\u0800\uFFFF").bytes).toStrictEqual(want);
    expect(encode(runtime(text)).bytes).toStrictEqual(want);
  });

  test("lone surrogates in a literal become U+FFFD, also from the cache", () => {
    const want: u8[] = [0x61, 0xef, 0xbf, 0xbd, 0x62, 0xef, 0xbf, 0xbd, 0x63, 0xef, 0xbf, 0xbd];
    expect(encode("a\uD800b\uDFFFc\uD83D").bytes).toStrictEqual(want);
    expect(encode("a\uD800b\uDFFFc\uD83D").bytes).toStrictEqual(want);
  });

  test("the empty literal", () => {
    expect(encodeForHost("", SCRATCH_A)).toBe(0);
    expect(encodeForHost("", SCRATCH_A)).toBe(0);
  });

  test("100 literals, some sharing an entry: every one gives its own bytes, in any order", () => {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < MANY.length; i++) {
        const s = unchecked(MANY[i]);
        expect(encode(s).bytes).toStrictEqual(referenceEncode("literal-" + i.toString()));
      }
      for (let i = MANY.length - 1; i >= 0; i -= 7) {
        const s = unchecked(MANY[i]);
        expect(encode(s, SCRATCH_B).bytes).toStrictEqual(referenceEncode("literal-" + i.toString()));
      }
    }
  });

  test("two colliding literals in one host call keep both their bytes", () => {
    // Encode them all as a key (slot A), then each with every other as a value (slot B): the key's
    // bytes must still be right after the value was encoded.
    for (let i = 0; i < MANY.length; i += 3) {
      for (let j = 0; j < MANY.length; j += 5) {
        const kn = encodeForHost(unchecked(MANY[i]), SCRATCH_A);
        const k = encoded();
        const vn = encodeForHost(unchecked(MANY[j]), SCRATCH_B);
        const v = encoded();
        expect(memoryBytes(k, kn)).toStrictEqual(referenceEncode("literal-" + i.toString()));
        expect(memoryBytes(v, vn)).toStrictEqual(referenceEncode("literal-" + j.toString()));
      }
    }
  });

  test("headers serialized from literals and from run-time strings are the same bytes", () => {
    const a = serializeHeaders([new Header("x-service-name", "my-custom-service"), new Header(":status", "\u00E9t\u00E9")]);
    const fromLiterals = memoryBytes(scratchMap(), a);
    const b = serializeHeaders([
      new Header(runtime("x-service-name"), runtime("my-custom-service")),
      new Header(runtime(":status"), runtime("\u00E9t\u00E9")),
    ]);
    expect(memoryBytes(scratchMap(), b)).toStrictEqual(fromLiterals);
    // And again, now that the literals are cached.
    const c = serializeHeaders([new Header("x-service-name", "my-custom-service"), new Header(":status", "\u00E9t\u00E9")]);
    expect(memoryBytes(scratchMap(), c)).toStrictEqual(fromLiterals);
  });

  test("a literal log message reaches the host in full every time", () => {
    mock.reset();
    logInfo("Hello from Wasm! \u00E9");
    logInfo("Hello from Wasm! \u00E9");
    expect(mock.count(mock.LOG)).toBe(2);
    expect(mock.recordedText(mock.LOG, 0)).toBe("Hello from Wasm! \u00E9");
    expect(mock.recordedText(mock.LOG, 1)).toBe("Hello from Wasm! \u00E9");
  });
});

function scratchMap(): usize {
  return scratchAt(SCRATCH_MAP);
}
