// The SDK's JSON parser (assembly/json.ts), compiled into a fixture filter and compared with
// JavaScript's JSON.parse: what it accepts, what it rejects (with message and position), how it
// rounds numbers, what the typed getters return, and that big documents cost linear memory.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { createHost, type Host } from "../../src/host/index.js";
import { built } from "./helpers.js";

const PARSE_BYTES = 1;
const PARSE_TEXT = 2;
const GETTERS = 3;
const SPANS = 4;
const QUOTE = 5;
const BUILD = 6;
const PARSE_ONLY = 7;

async function newHost(): Promise<Host> {
  const { wasm } = await built("tests/fixtures/filters/json.ts");
  // The filter answers through log lines of up to a few MiB (a 1 MiB document re-serialized), and a
  // 1 MiB parse in a debug build can take a while on a loaded machine: neither is what this file tests.
  const host = await createHost({ wasm, timeLimitMs: 0, logBytesPerMessage: 16 << 20, logBytesPerStream: 64 << 20 });
  assert.equal(host.startPlugin(), true);
  return host;
}

function call(host: Host, fn: number, doc: string | Uint8Array): string[] {
  host.clearLogs();
  host.callForeignFunction(fn, doc);
  assert.deepEqual(host.failures, [], "the filter trapped");
  return host.logMessages();
}

/** What the filter made of `doc`: the value (through its toJson) or the error fields. */
function parse(
  host: Host,
  doc: string | Uint8Array,
  fn = PARSE_BYTES,
): { value?: unknown; text?: string; error?: { message: string; offset: number; line: number; column: number; line1: string } } {
  const [out] = call(host, fn, doc);
  if (out.startsWith("ok ")) return { value: JSON.parse(out.slice(3)), text: out.slice(3) };
  assert.ok(out.startsWith("error "), out);
  const [message, offset, line, column, line1] = out.slice(6).split("|");
  return { error: { message, offset: Number(offset), line: Number(line), column: Number(column), line1 } };
}

test("json: valid documents give the same values, key order and strings as JSON.parse, from bytes and from text", async () => {
  const host = await newHost();
  const docs = [
    "null",
    " true ",
    "false",
    "0",
    "-0.5e3",
    "[]",
    "{}",
    '\t\r\n {"a" : [ 1 , 2.5 , -3e-2 , {"b" : null} ] , "c" : "" } \n',
    '{"z":1,"a":2,"m":{"y":[],"x":{}}}',
    '"plain ascii"',
    '"esc \\" \\\\ \\/ \\b \\f \\n \\r \\t end"',
    '"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00 and raw é中😀"',
    '"lone \\ud800 and \\udc00 surrogates"',
    '"\\u0000 nul inside"',
    '[[[[[[[[[["deep"]]]]]]]]]]',
    '{"dup":1,"dup":2}',
    "[1e308, 5e-324, 123456789012345678901234567890, 0.1, 1E+2, 1e-7]",
  ];
  for (const doc of docs) {
    for (const fn of [PARSE_BYTES, PARSE_TEXT]) {
      const r = parse(host, doc, fn);
      assert.equal(r.error, undefined, `${doc}: ${JSON.stringify(r.error)}`);
      assert.equal(JSON.stringify(r.value), JSON.stringify(JSON.parse(doc)), doc);
    }
  }
  // Duplicate keys are kept in order (get() answers the last one, see the getters test).
  assert.equal(parse(host, '{"dup":1,"dup":2}').text, '{"dup":1,"dup":2}');
});

test("json: any JSON value JavaScript writes reads back equal (property test)", async () => {
  const host = await newHost();
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), fc.boolean(), (v, pretty) => {
      const doc = JSON.stringify(v, null, pretty ? 2 : undefined);
      const r = parse(host, doc);
      assert.equal(r.error, undefined, `${doc}: ${JSON.stringify(r.error)}`);
      assert.equal(JSON.stringify(r.value), JSON.stringify(JSON.parse(doc)));
    }),
    { numRuns: 300 },
  );
});

test("json: numbers round to the nearest double exactly like Number(), including hard cases", async () => {
  const host = await newHost();
  const f = new Float64Array(1);
  const u = new Uint32Array(f.buffer);
  const texts: string[] = [];
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 1500; i++) {
    u[0] = rnd();
    u[1] = rnd();
    const x = f[0];
    if (!Number.isFinite(x)) continue;
    texts.push(String(x), x.toPrecision(17), x.toExponential(19), (rnd() / 7).toFixed(rnd() % 15));
  }
  texts.push(
    "2.2250738585072011e-308", // largest subnormal neighbourhood
    "2.2250738585072014e-308", // smallest normal
    "4.9e-324",
    "2.4703282292062327e-324", // just below half the smallest subnormal: 0
    "2.4703282292062328e-324", // just above: the smallest subnormal
    "1.7976931348623157e308",
    "1.7976931348623158e308", // still the largest double
    "9007199254740993", // halfway between 2^53 and 2^53 + 2: ties to even
    "9007199254740995",
    "0.30000000000000004",
    "1e23",
    "8.988465674311579e307",
    "9007199254740993." + "0".repeat(900) + "1", // past 800 digits, the tail still rounds up
    "0." + "0".repeat(330) + "1", // 1e-331: zero
    "1" + "0".repeat(400), // overflows
    "-1e400",
  );
  const doc = "[" + texts.join(",") + "]";
  const r = parse(host, doc);
  assert.equal(r.error, undefined);
  const got = r.value as Array<number | null>;
  const want = texts.map((t) => Number(t));
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const w = Number.isFinite(want[i]) ? want[i] : null; // toJson writes non-finite numbers as null
    assert.ok(Object.is(got[i], w) || (got[i] === 0 && w === 0), `${texts[i].slice(0, 60)}: got ${got[i]}, want ${w}`);
  }
});

test("json: invalid documents fail with the problem, its byte offset, line and column", async () => {
  const host = await newHost();
  const cases: Array<[string, string, number, number, number]> = [
    // input, message, offset, line, column
    ["", "unexpected end of input", 0, 1, 1],
    ["   ", "unexpected end of input", 3, 1, 4],
    ['{"a":', "unexpected end of input", 5, 1, 6],
    ["[1, 2", "unexpected end of input", 5, 1, 6],
    ['"abc', "unterminated string", 0, 1, 1],
    ['{"key": "value}', "unterminated string", 8, 1, 9],
    ['"ends with backslash\\"', "unterminated string", 0, 1, 1],
    ["[1,]", "trailing comma", 2, 1, 3],
    ['{"a":1,\n  }', "trailing comma", 6, 1, 7],
    ["{'a':1}", "expected a string key, found '''", 1, 1, 2],
    ["{a:1}", "expected a string key, found 'a'", 1, 1, 2],
    ['{"a" 1}', "expected ':' after the key, found '1'", 5, 1, 6],
    ['{"a":1 "b":2}', "expected ',' or '}', found '\"'", 7, 1, 8],
    ["[1 2]", "expected ',' or ']', found '2'", 3, 1, 4],
    ["[1] x", "unexpected 'x' after the document", 4, 1, 5],
    ["{}\n\n  }", "unexpected '}' after the document", 6, 3, 3],
    ["nul", "expected a value, found 'n'", 0, 1, 1],
    ["NaN", "expected a value, found 'N'", 0, 1, 1],
    ["[Infinity]", "expected a value, found 'I'", 1, 1, 2],
    ["+1", "expected a value, found '+'", 0, 1, 1],
    ["01", "invalid number (leading zero)", 0, 1, 1],
    ["-", "invalid number", 0, 1, 1],
    ["[-x]", "invalid number", 1, 1, 2],
    ["1.", "invalid number (needs digits after '.')", 0, 1, 1],
    [".5", "expected a value, found '.'", 0, 1, 1],
    ["1e", "invalid number (needs digits in the exponent)", 0, 1, 1],
    ["1e+", "invalid number (needs digits in the exponent)", 0, 1, 1],
    ['"\\x"', "invalid escape \\x", 1, 1, 2],
    ['"\\u12g4"', "invalid \\u escape (needs 4 hex digits)", 1, 1, 2],
    ['"\\u12"', "invalid \\u escape (needs 4 hex digits)", 1, 1, 2],
    ['{"a":"tab\there"}', "unescaped control character in string (write it as \\n, \\t or \\u00XX)", 9, 1, 10],
    ['"line\nbreak"', "unescaped control character in string (write it as \\n, \\t or \\u00XX)", 5, 1, 6],
    ["\ufeff{}", "expected a value, found byte 0xef", 0, 1, 1],
    // Columns count characters, offsets count UTF-8 bytes.
    ['{"é中": 1,, }', "expected a string key, found ','", 12, 1, 10],
    ["[" + "[".repeat(512) + "]".repeat(513), "nesting deeper than 512 levels", 512, 1, 513],
  ];
  for (const [input, message, offset, line, column] of cases) {
    for (const fn of [PARSE_BYTES, PARSE_TEXT]) {
      const r = parse(host, input, fn);
      assert.deepEqual(
        r.error,
        { message, offset, line, column, line1: `${message} at line ${line}, column ${column}` },
        JSON.stringify(input),
      );
    }
    // JSON.parse rejects all of them too, except the nesting limit, which is ours.
    if (!message.startsWith("nesting")) assert.throws(() => JSON.parse(input), `JSON.parse accepts ${JSON.stringify(input)}`);
  }
  // 512 levels are fine.
  assert.equal(parse(host, "[".repeat(512) + "]".repeat(512)).error, undefined);
});

test("json: invalid UTF-8 inside strings is an error (raw bytes are never guessed at)", async () => {
  const host = await newHost();
  const cases: Array<[number[], number]> = [
    [[0x22, 0xff, 0x22], 1], // never valid
    [[0x22, 0x61, 0x80, 0x22], 2], // lone continuation byte
    [[0x22, 0xc0, 0x80, 0x22], 1], // overlong NUL
    [[0x22, 0xe0, 0x80, 0xaf, 0x22], 1], // overlong '/'
    [[0x22, 0xed, 0xa0, 0x80, 0x22], 1], // UTF-8 encoded surrogate
    [[0x22, 0xf4, 0x90, 0x80, 0x80, 0x22], 1], // above U+10FFFF
    [[0x22, 0xe4, 0xb8, 0x22], 1], // truncated by the closing quote
  ];
  for (const [bytes, offset] of cases) {
    const r = parse(host, new Uint8Array(bytes));
    assert.equal(r.error?.message, "invalid UTF-8 in string", Buffer.from(bytes).toString("hex"));
    assert.equal(r.error?.offset, offset);
  }
  assert.deepEqual(parse(host, Buffer.from('"é中😀"')).value, "é中😀");
});

test("json: typed getters return the member or null / the fallback when absent or of another type", async () => {
  const host = await newHost();
  const lines = call(host, GETTERS, '{"s":"str","n":12.5,"i":42,"big":1e300,"t":true,"a":[1,2],"o":{"x":1},"z":null,"dup":1,"dup":"last"}');
  assert.deepEqual(lines, [
    's string s="str" n=-7.5 i=-7 b=true a=null o=null has=1',
    "n number s=null n=12.5 i=-7 b=true a=null o=null has=1",
    "i number s=null n=42.0 i=42 b=true a=null o=null has=1",
    "big number s=null n=1e+300 i=-7 b=true a=null o=null has=1",
    "t boolean s=null n=-7.5 i=-7 b=true a=null o=null has=1",
    "a array s=null n=-7.5 i=-7 b=true a=2 o=null has=1",
    "o object s=null n=-7.5 i=-7 b=true a=null o=1 has=1",
    "z null s=null n=-7.5 i=-7 b=true a=null o=null has=1",
    'dup string s="last" n=-7.5 i=-7 b=true a=null o=null has=1',
    'dup string s="last" n=-7.5 i=-7 b=true a=null o=null has=1',
    "absent - s=null n=-7.5 i=-7 b=true a=null o=null has=0",
  ]);
  // getBool's fallback is only used when the member is not a boolean.
  assert.deepEqual(call(host, GETTERS, '{"f":false}'), [
    "f boolean s=null n=-7.5 i=-7 b=false a=null o=null has=1",
    "absent - s=null n=-7.5 i=-7 b=true a=null o=null has=0",
  ]);
});

test("json: every value knows its byte span in the input", async () => {
  const host = await newHost();
  const doc = ' {"a" : [1, "xé", {"b":null}], "c": -2.5e1 } ';
  const buf = Buffer.from(doc);
  const spans = call(host, SPANS, doc).map((l) => l.split(" ").map(Number));
  const texts = spans.map(([s, e]) => buf.subarray(s, e).toString());
  assert.deepEqual(texts, [
    '{"a" : [1, "xé", {"b":null}], "c": -2.5e1 }',
    '[1, "xé", {"b":null}]',
    "1",
    '"xé"',
    '{"b":null}',
    "null",
    "-2.5e1",
  ]);
});

test("json: quoteJson escapes quotes, backslashes, control characters and lone surrogates", async () => {
  const host = await newHost();
  const [out] = call(host, QUOTE, '"a\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\ud800x\\udc00 é😀"');
  assert.equal(out, '"a\\"b\\\\c\\n\\r\\t\\u0001\\u001f\\ud800x\\udc00 é😀"');
  assert.equal(JSON.parse(out), 'a"b\\c\n\r\t\u0001\u001f\ud800x\udc00 é😀');
});

test("json: values built in code serialize like JSON.stringify", async () => {
  const host = await newHost();
  const [out] = call(host, BUILD, "");
  assert.equal(out, '{"name":"a\\"b\\\\c\\n\\u0001é😀","n":2,"big":1e+21,"whole":100,"neg":-0.000001,"inf":null,"list":[true,null,{}]}');
  assert.equal(
    out,
    JSON.stringify({ name: 'a"b\\c\n\u0001é😀', n: 2, big: 1e21, whole: 100, neg: -0.000001, inf: null, list: [true, null, {}] }),
  );
});

test("json: a 1 MiB document parses and re-serializes, in memory linear in its size", async () => {
  const host = await newHost();
  const items: unknown[] = [];
  let size = 2;
  for (let i = 0; size < 1 << 20; i++) {
    const item = { id: i, name: `item ${i} é`, tags: ["a", "b"], price: i / 7, ok: i % 2 === 0 };
    size += JSON.stringify(item).length + 1;
    items.push(item);
  }
  const doc = JSON.stringify(items);
  const bytes = Buffer.byteLength(doc);
  assert.deepEqual(parse(host, doc).value, items);

  const fresh = await newHost();
  assert.deepEqual(call(fresh, PARSE_ONLY, doc), [`length ${items.length} end ${bytes}`]);
  // About 1 KB of tree per 85-byte item here, rounded up by the allocator's doubling growth.
  assert.ok(fresh.memoryBytes <= 32 * bytes, `guest memory ${fresh.memoryBytes} bytes for a ${bytes}-byte document`);
});
