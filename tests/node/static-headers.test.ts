// build's size pass over the data section (src/build/static-headers.ts): it drops exactly the
// segments that hold a static object's allocator block header, and the module keeps every other byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileWat } from "../../src/host/wat-builder.js";
import { dropStaticBlockHeaders } from "../../src/build/static-headers.js";
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
  const out = dropStaticBlockHeaders(wasm);
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
});

test("a module without such segments comes back byte for byte", async () => {
  const wasm = await compileWat(`(module (memory 1) (data (i32.const 16) "abc"))`);
  assert.deepEqual(dropStaticBlockHeaders(wasm), new Uint8Array(wasm));
});

test("build runs the pass: on a built filter it finds nothing more to drop", async () => {
  const { wasm } = await built("examples/x-service-name/index.ts");
  assert.deepEqual(dropStaticBlockHeaders(wasm), new Uint8Array(wasm));
});
