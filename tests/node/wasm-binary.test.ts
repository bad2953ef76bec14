// The Wasm binary reader (src/wasm/binary.ts): what it extracts, the one-line error for each kind
// of damage, and properties against random input and against V8's own decoder.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import fc from "fast-check";
import { functionType, parseModule, WasmFormatError, type ParsedModule } from "../../src/wasm/binary.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixtureDir = join(root, "tests/fixtures/verify");

const fixtures = new Map<string, Uint8Array>();
before(async () => {
  const wabt = await wabtInit();
  for (const f of readdirSync(fixtureDir).filter((n) => n.endsWith(".wat"))) {
    const mod = wabt.parseWat(f, readFileSync(join(fixtureDir, f), "utf8"));
    fixtures.set(f.replace(/\.wat$/, ""), mod.toBinary({}).buffer);
    mod.destroy();
  }
});

// --- a tiny binary assembler for hand-made (often broken) modules ---------------------------
const leb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const str = (s: string): number[] => {
  const b = [...new TextEncoder().encode(s)];
  return [...leb(b.length), ...b];
};
const vec = (items: number[][]): number[] => [...leb(items.length), ...items.flat()];
const section = (id: number, payload: number[]): number[] => [id, ...leb(payload.length), ...payload];
const HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const wasm = (...sections: number[][]): Uint8Array => Uint8Array.from([...HEADER, ...sections.flat()]);

const I32 = 0x7f;
const I64 = 0x7e;
const funcType = (params: number[], results: number[]) => [0x60, ...vec(params.map((p) => [p])), ...vec(results.map((r) => [r]))];
const typeSec = (...types: number[][]) => section(1, vec(types));
const importFunc = (m: string, n: string, type: number) => [...str(m), ...str(n), 0x00, ...leb(type)];
const importSec = (...imports: number[][]) => section(2, vec(imports));
const funcSec = (...typeIdx: number[]) => section(3, vec(typeIdx.map((t) => leb(t))));
const exportSec = (...exps: [string, number, number][]) =>
  section(7, vec(exps.map(([name, kind, index]) => [...str(name), kind, ...leb(index)])));
const codeSec = (n: number) => section(10, vec(Array.from({ length: n }, () => [2, 0x00, 0x0b])));

const v8Validate = (b: Uint8Array): boolean => WebAssembly.validate(b as Uint8Array<ArrayBuffer>);

function formatError(bytes: Uint8Array): string {
  try {
    parseModule(bytes);
  } catch (err) {
    assert.ok(err instanceof WasmFormatError, `threw ${String(err)}`);
    assert.ok(!err.message.includes("\n"), "one line");
    return err.message;
  }
  assert.fail("parseModule accepted the bytes");
}

describe("parseModule reads a module", () => {
  test("the good fixture: types, imports, exports, memory, sections", () => {
    const bytes = fixtures.get("good-0.2.1")!;
    const m = parseModule(bytes);
    assert.equal(m.size, bytes.length);
    assert.deepEqual(m.imports[0], {
      module: "env",
      name: "proxy_log",
      kind: "function",
      typeIndex: m.imports[0].typeIndex,
      params: ["i32", "i32", "i32"],
      results: ["i32"],
    });
    assert.deepEqual(
      m.imports.map((i) => `${i.module}.${i.name}`),
      ["env.proxy_log", "env.proxy_get_header_map_value", "wasi_snapshot_preview1.fd_write"],
    );
    assert.equal(m.importedFunctionCount, 3);
    assert.equal(m.functionCount, 9);
    assert.equal(m.functionTypeIndices.length, 12);
    const alloc = m.exports.find((e) => e.name === "proxy_on_memory_allocate")!;
    assert.deepEqual([alloc.kind, alloc.params, alloc.results], ["function", ["i32"], ["i32"]]);
    assert.deepEqual(functionType(m, alloc.index), { params: ["i32"], results: ["i32"] });
    assert.deepEqual(m.memories, [{ index: 0, limits: { min: 1, shared: false, is64: false }, exportedAs: ["memory"] }]);
    assert.deepEqual(m.globals, [{ type: "i32", mutable: true }]);
    assert.equal(m.hasStart, false);
    assert.equal(m.dataSegmentCount, 1);
    assert.equal(m.dataBytes, "hello from a proxy-wasm module".length);
    assert.deepEqual(
      m.sections.map((s) => s.name),
      ["type", "import", "function", "memory", "global", "export", "code", "data"],
    );
    const code = m.sections.find((s) => s.name === "code")!;
    assert.equal(m.codeSectionSize, code.size);
    // Section headers and payloads tile the file exactly.
    let pos = 8;
    for (const s of m.sections) {
      assert.equal(s.offset, pos);
      pos = s.offset + 1 + leb(s.size).length + s.size;
    }
    assert.equal(pos, bytes.length);
  });

  test("start section and custom sections", () => {
    const m = parseModule(fixtures.get("start-section")!);
    assert.equal(m.hasStart, true);
    assert.equal(typeof m.startFunction, "number");
    assert.deepEqual(functionType(m, m.startFunction!), { params: [], results: [] });

    const withCustom = wasm(section(0, [...str("producers"), 1, 2, 3]), typeSec(), section(0, str("name")));
    const c = parseModule(withCustom);
    assert.deepEqual(c.customSections, [
      { name: "producers", size: 13 },
      { name: "name", size: 5 },
    ]);
    assert.deepEqual(
      c.sections.map((s) => [s.name, s.customName]),
      [
        ["custom", "producers"],
        ["type", undefined],
        ["custom", "name"],
      ],
    );
  });

  test("imports of every kind, and a 5-byte (padded) LEB128 as engines accept it", () => {
    const bytes = wasm(
      typeSec(funcType([I32, I64], [])),
      importSec(
        importFunc("env", "f", 0),
        [...str("env"), ...str("t"), 0x01, 0x70, 0x00, 0x01],
        [...str("env"), ...str("memory"), 0x02, 0x01, 0x01, 0x02],
        [...str("env"), ...str("g"), 0x03, I32, 0x01],
      ),
      // one function of type 0, count written as a padded 5-byte LEB
      section(3, [0x81, 0x80, 0x80, 0x80, 0x00, 0x00]),
      exportSec(["mem", 2, 0], ["f", 0, 1]),
      codeSec(1),
    );
    assert.equal(v8Validate(bytes), true);
    const m = parseModule(bytes);
    assert.deepEqual(
      m.imports.map((i) => i.kind),
      ["function", "table", "memory", "global"],
    );
    assert.deepEqual(m.imports[1].table, { element: "funcref", limits: { min: 1, shared: false, is64: false } });
    assert.deepEqual(m.imports[2].memory, { min: 1, max: 2, shared: false, is64: false });
    assert.deepEqual(m.imports[3].global, { type: "i32", mutable: true });
    assert.equal(m.functionCount, 1);
    assert.deepEqual(m.memories[0], {
      index: 0,
      importedFrom: "env.memory",
      limits: { min: 1, max: 2, shared: false, is64: false },
      exportedAs: ["mem"],
    });
    assert.deepEqual(m.exports[1], { name: "f", kind: "function", index: 1, params: ["i32", "i64"], results: [] });
  });

  test("agrees with V8 on the imports and exports of every fixture", () => {
    for (const [name, bytes] of fixtures) {
      assertAgreesWithV8(parseModule(bytes), bytes, name);
    }
  });
});

function assertAgreesWithV8(m: ParsedModule, bytes: Uint8Array, label: string): void {
  const v8 = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
  assert.deepEqual(
    m.imports.map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    WebAssembly.Module.imports(v8).map((i) => ({ module: i.module, name: i.name, kind: i.kind })),
    label,
  );
  assert.deepEqual(
    m.exports.map((e) => ({ name: e.name, kind: e.kind })),
    WebAssembly.Module.exports(v8).map((e) => ({ name: e.name, kind: e.kind })),
    label,
  );
}

describe("parseModule rejects damaged input with one line", () => {
  test("not a module at all", () => {
    assert.equal(formatError(new Uint8Array()), "not a Wasm module: the file is empty");
    assert.equal(
      formatError(Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])),
      "not a Wasm module: bad magic (starts with 7f 45 4c 46, expected 00 61 73 6d)",
    );
    assert.match(
      formatError(new TextEncoder().encode("  (module (func))")),
      /^not a Wasm module: bad magic \(this is WebAssembly text, WAT;/,
    );
    assert.match(formatError(Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0])), /gzip/);
    assert.equal(formatError(Uint8Array.from([0x00, 0x62])), "not a Wasm module: bad magic (starts with 00 62, expected 00 61 73 6d)");
    assert.equal(formatError(Uint8Array.from([0x00, 0x61])), "not a Wasm module: truncated header (2 bytes, need 8)");
    assert.equal(formatError(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1])), "not a Wasm module: truncated header (5 bytes, need 8)");
    assert.equal(
      formatError(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0])),
      "not a Wasm module: unsupported binary version 2 (expected 1)",
    );
    assert.match(formatError(Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0, 1, 0])), /this is a WebAssembly component/);
  });

  test("truncated sections", () => {
    assert.equal(
      formatError(wasm([1, 10, 1, 0x60])),
      "truncated section 'type' at offset 0x8: declares 10 bytes but only 2 bytes remain in the file",
    );
    assert.equal(formatError(wasm([2, 0x80])), "truncated section 'import' at offset 0x8: the file ends inside the section header");
    const good = fixtures.get("good-0.2.1")!;
    assert.match(
      formatError(good.subarray(0, good.length - 1)),
      /^truncated section 'data' at offset 0x[0-9a-f]+: declares \d+ bytes but only \d+ bytes remain in the file$/,
    );
  });

  test("section ids, order and duplicates", () => {
    assert.equal(formatError(wasm([14, 0])), "malformed module: unknown section id 14 at offset 0x8");
    assert.equal(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0), importSec())),
      "malformed module: section 'import' at offset 0x12 comes after section 'function'",
    );
    assert.equal(formatError(wasm(typeSec(), typeSec())), "malformed module: section 'type' at offset 0xb appears twice");
  });

  test("indices out of range", () => {
    // An import whose type index does not exist.
    assert.equal(
      formatError(wasm(typeSec(funcType([], [])), importSec(importFunc("env", "f", 5)))),
      "malformed section 'import' at offset 0x18: type index 5 out of range (the module has 1 type)",
    );
    assert.match(
      formatError(wasm(typeSec(), funcSec(0), codeSec(1))),
      /^malformed section 'function' .*: type index 0 out of range \(the module has 0 types\)$/,
    );
    assert.match(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0), exportSec(["f", 0, 3]), codeSec(1))),
      /^malformed section 'export' .*: export "f" refers to function 3, but the module has 1 function$/,
    );
    assert.match(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0), exportSec(["memory", 2, 0]), codeSec(1))),
      /export "memory" refers to memory 0, but the module has 0 memorys?$/,
    );
    assert.match(
      formatError(wasm(typeSec(funcType([I32], [])), funcSec(0), section(8, [0]), codeSec(1))),
      /^malformed section 'start' .*: start function 0 must take no parameters and return nothing$/,
    );
  });

  test("LEB128 integers", () => {
    assert.match(formatError(wasm(section(1, [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))), /LEB128 integer longer than 5 bytes$/);
    assert.match(formatError(wasm(section(1, [0xff, 0xff, 0xff, 0xff, 0x1f]))), /LEB128 integer does not fit in u32$/);
    assert.match(formatError(wasm(section(1, [0x85]))), /unexpected end of section inside a LEB128 integer$/);
    assert.match(
      formatError(wasm(section(2, [0xe8, 0x07, 0, 0, 0]))),
      /^malformed section 'import' at offset 0x\w+: import count 1000 is larger than the section can hold \(3 bytes left\)$/,
    );
  });

  test("names, duplicates, counts, sizes", () => {
    assert.match(
      formatError(wasm(typeSec(funcType([], [])), importSec([...leb(1), 0xff, ...str("f"), 0x00, 0]))),
      /import module name is not valid UTF-8$/,
    );
    assert.match(formatError(wasm(section(0, [1, 0xc3]))), /custom section name is not valid UTF-8$/);
    assert.match(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0), exportSec(["f", 0, 0], ["f", 0, 0]), codeSec(1))),
      /duplicate export name "f"$/,
    );
    assert.equal(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0))),
      "malformed module: the function section declares 1 function but there is no code section",
    );
    assert.match(
      formatError(wasm(typeSec(funcType([], [])), funcSec(0), codeSec(2))),
      /the code section has 2 function bodies but the function section declares 1$/,
    );
    assert.match(
      formatError(wasm(section(1, [0, 0]))),
      /^malformed section 'type' at offset 0x\w+: 1 unused byte at the end of the section$/,
    );
    assert.match(formatError(wasm(section(5, vec([[0x01, 0x02, 0x01]])))), /memory maximum 1 is smaller than its minimum 2$/);
    assert.match(
      formatError(wasm(section(5, vec([[0x00, 0x01]])), section(12, [2]), section(11, vec([[0x01, 0x00]])))),
      /the data count section says 2 but the data section has 1 segment$/,
    );
    assert.match(formatError(wasm(section(1, vec([[0x5f, 0, 0]])))), /GC proposal types are not supported/);
    // Names from the module can hold anything; messages stay one line.
    assert.match(
      formatError(wasm(typeSec(), importSec([...str("e\nv"), ...str("x\u2028"), 0x1a, 0]))),
      /import e\\nv\.x\\u2028 has invalid kind 0x1a$/,
    );
    assert.match(formatError(wasm(section(1, vec([funcType([0x40], [])])))), /invalid value type 0x40$/);
  });

  test("signed LEB128 in constant expressions: accepted and rejected exactly as V8 does", () => {
    const globalWith = (init: number[]) => wasm(section(6, vec([[I32, 0x00, 0x41, ...init, 0x0b]])));
    const cases = [
      [0x00],
      [0x7f],
      [0xff, 0xff, 0xff, 0xff, 0x07], // i32 max
      [0x80, 0x80, 0x80, 0x80, 0x78], // i32 min
      [0x80, 0x80, 0x80, 0x80, 0x70], // bad unused bits
      [0xff, 0xff, 0xff, 0xff, 0x0f], // bad unused bits
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // too long
      [0x80, 0x80, 0x80, 0x80, 0x00], // padded zero
      [0xff, 0xff, 0xff, 0xff, 0x7f], // padded -1
    ];
    for (const init of cases) {
      const bytes = globalWith(init);
      const v8 = v8Validate(bytes);
      let ours = true;
      try {
        parseModule(bytes);
      } catch (err) {
        assert.ok(err instanceof WasmFormatError);
        ours = false;
      }
      assert.equal(ours, v8, `i32.const ${init.map((b) => b.toString(16)).join(" ")}`);
    }
  });
});

describe("parseModule never throws anything but a one-line WasmFormatError", () => {
  const onlyFormatErrors = (bytes: Uint8Array): ParsedModule | undefined => {
    try {
      return parseModule(bytes);
    } catch (err) {
      if (!(err instanceof WasmFormatError)) throw err;
      if (err.message.includes("\n") || err.message.length === 0) throw new Error(`bad message: ${err.message}`);
      return undefined;
    }
  };

  test("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void onlyFormatErrors(b)),
      { numRuns: 2000 },
    );
  });

  test("random bytes after a valid header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void onlyFormatErrors(Uint8Array.from([...HEADER, ...b]))),
      { numRuns: 2000 },
    );
  });

  test("every truncation of every fixture: accepted exactly when V8 accepts it", () => {
    for (const [name, bytes] of fixtures) {
      for (let cut = 0; cut < bytes.length; cut++) {
        const prefix = bytes.subarray(0, cut);
        const ours = onlyFormatErrors(prefix) !== undefined;
        assert.equal(ours, v8Validate(prefix), `${name} cut at ${cut}`);
      }
    }
  });

  test("random byte edits of a valid module: whatever V8 accepts, we read the same way", () => {
    const base = fixtures.get("good-0.2.1")!;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        (edits) => {
          const b = Uint8Array.from(base);
          for (const [i, v] of edits) b[i] = v;
          const m = onlyFormatErrors(b);
          if (v8Validate(b)) {
            assert.ok(m, "V8 accepts the module, so must we");
            assertAgreesWithV8(m, b, "edited");
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
