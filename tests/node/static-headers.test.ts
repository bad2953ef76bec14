// build's size pass over the data section (src/build/static-headers.ts): it drops exactly the
// segments that hold a static object's allocator block header, and the module keeps every other byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileWat } from "../../src/host/wat-builder.js";
import { Reader, uleb } from "../../src/wasm/reader.js";
import { dropStaticBlockHeaders } from "../../src/build/static-headers.js";
import { createHost } from "../../src/host/index.js";
import { built } from "./helpers.js";

/** A string literal laid out as AssemblyScript does: block size at 20 before the text, class id 2, byte size. */
const literal = (text: string) => {
  const hex = (n: number) =>
    [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24].map((b) => `\\${b.toString(16).padStart(2, "0")}`).join("");
  const utf16 = [...text].map((c) => `${c}\\00`).join("");
  return { header: (bytes: number) => hex(bytes), body: `${hex(2)}${hex(text.length * 2)}${utf16}` };
};

test("the header segments of static objects go, everything else stays", async () => {
  const hello = literal("hello"); // 10 bytes: TLSF payload ((16 + 10 + 19) & ~15) - 4 = 28
  // The empty string (at 1660): payload 28 as well, and its byte size (0) trimmed off as Binaryen does.
  const wasm = await compileWat(`(module
    (memory (export "memory") 1)
    (data (i32.const 1596) "\\1c")
    (data (i32.const 1608) "${hello.body}")
    (data (i32.const 1660) "\\1c")
    (data (i32.const 1672) "\\02")
    (data (i32.const 1724) "\\07")
    (data (i32.const 1736) "${hello.body}")
    (data (i32.const 1800) "\\1c")
    (data (i32.const 1900) "raw bytes"))`);
  // The compiler placed objects at 1596, 1660, 1724 and 1800 (recordStaticObjects), not at 1900.
  const out = dropStaticBlockHeaders(wasm, new Set([1596, 1660, 1724, 1800]));
  const segments = (bytes: Uint8Array) => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {});
    return new Uint8Array((inst.exports.memory as WebAssembly.Memory).buffer.slice(1590, 1920));
  };
  const before = segments(wasm);
  const after = segments(out);
  // Two headers dropped (hello's and the empty string's): 2 of 9 segments, each 1 data byte and framing.
  assert.ok(out.byteLength < wasm.byteLength, `${out.byteLength} < ${wasm.byteLength}`);
  const changed = [...before.keys()].filter((i) => before[i] !== after[i]).map((i) => i + 1590);
  assert.deepEqual(changed, [1596, 1660], "only the two header words are now zero");
  // A segment of the wrong size value (7 for a 10-byte string), one with no object after it and the
  // raw bytes are kept.
  assert.equal(after[1724 - 1590], 7);
  assert.equal(after[1800 - 1590], 0x1c);
  assert.equal(Buffer.from(after.slice(1900 - 1590, 1909 - 1590)).toString(), "raw bytes");
  // A segment like a header where the compiler placed no object (static data of the filter's own) is kept.
  const notObjects = segments(dropStaticBlockHeaders(wasm, new Set([1596])));
  assert.deepEqual(
    [...before.keys()].filter((i) => before[i] !== notObjects[i]).map((i) => i + 1590),
    [1596],
  );
});

test("a module without such segments comes back byte for byte", async () => {
  const wasm = await compileWat(`(module (memory 1) (data (i32.const 16) "abc"))`);
  assert.deepEqual(dropStaticBlockHeaders(wasm, new Set([16])), new Uint8Array(wasm));
});

test("static data that looks like a block header but is not one is kept", async () => {
  const { wasm } = await built("tests/fixtures/filters/static-table.ts");
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  const s = host.httpStream();
  s.requestHeaders(
    [
      [":method", "GET"],
      [":path", "/"],
      [":authority", "a"],
      [":scheme", "http"],
    ],
    true,
  );
  assert.equal(s.request.header("x-table"), "0,0,0,28,0,0,5,10");
});

test("build runs the pass: on a built filter, even with every address taken for an object's, nothing more is dropped", async () => {
  const { wasm } = await built("examples/x-service-name/index.ts");
  const everywhere: ReadonlySet<number> = { has: () => true } as unknown as ReadonlySet<number>;
  assert.deepEqual(dropStaticBlockHeaders(wasm, everywhere), new Uint8Array(wasm));
});

/** Signed LEB128 of a 32-bit value (i32.const immediates). */
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const bytes = (d: number[]) => [...uleb(d.length), ...d];
const word = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24];
/** "hello" as AssemblyScript lays out a literal: block size 28 at 1596, object header and text at 1608. */
const HELLO = [
  [0, 0x41, ...sleb(1596), 0x0b, ...bytes([28])],
  [0, 0x41, ...sleb(1608), 0x0b, ...bytes([...word(2), ...word(10), ...[..."hello"].flatMap((c) => [c.charCodeAt(0), 0])])],
];

test("every data segment form is read right: explicit memory index, offsets from globals, passive segments, data count", () => {
  const text = (s: string) => [...s].map((c) => c.charCodeAt(0));
  // Twelve imported i32 globals: global.get 11 has an index byte equal to `end` (0x0b), as has the
  // offset 1408 (LEB 0x80 0x0b) of the segment with an explicit memory index.
  const imports = [12, ...Array.from({ length: 12 }, (_, i) => [...bytes(text("e")), ...bytes(text(`g${i}`)), 3, 0x7f, 0]).flat()];
  const segments = [
    [2, 0, 0x41, ...sleb(1408), 0x0b, ...bytes(text("explicit"))],
    [0, 0x23, 11, 0x0b, ...bytes(text("global"))],
    [1, ...bytes(text("passive"))],
    ...HELLO,
  ];
  const wasm = new Uint8Array([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(2, imports),
    ...section(5, [1, 0, 1]),
    ...section(7, [1, ...bytes(text("memory")), 2, 0]),
    ...section(12, uleb(segments.length)),
    ...section(11, [...uleb(segments.length), ...segments.flat()]),
  ]);
  const globals = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`g${i}`, new WebAssembly.Global({ value: "i32" }, 1300)]));
  const memoryOf = (m: Uint8Array) => {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m as Uint8Array<ArrayBuffer>), { e: globals });
    return Buffer.from((inst.exports.memory as WebAssembly.Memory).buffer);
  };
  const before = memoryOf(wasm);
  const out = dropStaticBlockHeaders(wasm, new Set([1596]));
  assert.equal(WebAssembly.validate(out as Uint8Array<ArrayBuffer>), true, "the module is still valid");
  const after = memoryOf(out);
  assert.equal(out.byteLength, wasm.byteLength - 7, "one segment less: 1 byte of data, 6 of framing");
  assert.equal(after.subarray(1300, 1306).toString(), "global");
  assert.equal(after.subarray(1408, 1416).toString(), "explicit");
  const changed = [...before.keys()].filter((i) => before[i] !== after[i]);
  assert.deepEqual(changed, [1596], "only the header word is now zero");
});

test("an extended constant offset (i32.const, i32.const, i32.add) is skipped whole", () => {
  const extended = [0, 0x41, ...sleb(1700), 0x41, ...sleb(0x0b), 0x6a, 0x0b, ...bytes([1, 2, 3])];
  const wasm = (segments: number[][]) =>
    new Uint8Array([
      ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
      ...section(5, [1, 0, 1]),
      ...section(11, [...uleb(segments.length), ...segments.flat()]),
    ]);
  assert.deepEqual(dropStaticBlockHeaders(wasm([extended, ...HELLO, extended]), new Set([1596])), wasm([extended, HELLO[1], extended]));
});

test("a data section it cannot read comes back unchanged", () => {
  const wasm = new Uint8Array([
    ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
    ...section(5, [1, 0, 1]),
    // Two segments announced, a header and its object present, then an unknown flags value.
    ...section(11, [3, ...HELLO.flat(), 7, 0]),
  ]);
  assert.deepEqual(dropStaticBlockHeaders(wasm, new Set([1596])), wasm);
});

test("the module reader's signed LEB128: the values the pass takes addresses from", () => {
  const read = (bytes: number[]) => {
    const r = new Reader(new Uint8Array(bytes), 0, bytes.length);
    const value = r.sleb(32);
    assert.ok(r.atEnd(), "every byte read");
    return value;
  };
  assert.equal(read([0x00]), 0);
  assert.equal(read([0x3f]), 63);
  assert.equal(read([0xc0, 0x00]), 64);
  assert.equal(read([0x80, 0x0b]), 1408);
  assert.equal(read([0x7f]), -1);
  assert.equal(read([0xff, 0xff, 0xff, 0xff, 0x07]), 2 ** 31 - 1);
  assert.equal(read([0x80, 0x80, 0x80, 0x80, 0x78]), -(2 ** 31));
});
