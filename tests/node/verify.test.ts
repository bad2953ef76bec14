// verifyModule / formatVerifyResult against WAT fixtures (tests/fixtures/verify/*.wat), each of
// which has exactly one thing wrong with it; and the `verify` command end to end.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";
import fc from "fast-check";
import { closestName, formatVerifyResult, PROBLEM_CODES, verifyModule, type VerifyResult } from "../../src/verify.js";
import { HOST_FUNCTIONS, MODULE_EXPORTS } from "../../src/abi.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixtureDir = join(root, "tests/fixtures/verify");
const cli = join(root, "dist/src/cli.js");

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt;

function compileWat(name: string, text: string): Uint8Array {
  const mod = wabt.parseWat(name, text, { exceptions: true });
  try {
    return mod.toBinary({}).buffer;
  } finally {
    mod.destroy();
  }
}

const fixture = (name: string): Uint8Array => compileWat(`${name}.wat`, readFileSync(join(fixtureDir, `${name}.wat`), "utf8"));

function verify(name: string): VerifyResult {
  const bytes = fixture(name);
  return verifyModule(bytes);
}

/** Asserts the result has exactly the listed problem codes (in any order) and returns them by code. */
function expectProblems(r: VerifyResult, codes: string[]): Map<string, string> {
  assert.deepEqual(
    r.problems.map((p) => p.code).sort(),
    [...codes].sort(),
    `problems were:\n${r.problems.map((p) => `${p.code}: ${p.message}`).join("\n")}`,
  );
  assert.equal(r.ok, codes.length === 0);
  for (const p of r.problems) assert.equal(PROBLEM_CODES[p.code], "error", p.code);
  for (const w of r.warnings) assert.equal(PROBLEM_CODES[w.code], "warning", w.code);
  return new Map(r.problems.map((p) => [p.code, p.message]));
}

before(async () => {
  wabt = await wabtInit();
});

describe("verifyModule on fixtures", () => {
  test("a good minimal 0.2.1 module passes with its summary", () => {
    const bytes = fixture("good-0.2.1");
    const r = verifyModule(bytes);
    expectProblems(r, []);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.abiVersion, "0.2.1");
    assert.equal(r.allocator, "proxy_on_memory_allocate");
    assert.deepEqual(r.callbacks.sort(), [
      "proxy_on_configure",
      "proxy_on_context_create",
      "proxy_on_delete",
      "proxy_on_done",
      "proxy_on_request_headers",
      "proxy_on_vm_start",
    ]);
    assert.equal(formatVerifyResult("good.wasm", r), `ok: good.wasm: ABI 0.2.1, 3 imports, 6 callbacks, ${bytes.length} bytes`);
  });

  test("env.abort: names the import, Envoy's error and the AssemblyScript fix", () => {
    const msg = expectProblems(verify("env-abort"), ["import-assemblyscript"]).get("import-assemblyscript")!;
    assert.match(msg, /^import env\.abort is AssemblyScript's default abort handler/);
    assert.match(msg, /missing import: env\.abort/);
    assert.match(msg, /proxy-wasm-as build/);
    assert.match(msg, /--use abort=/);
  });

  test("a misspelled proxy_on_* export: says it is never called and what was meant", () => {
    const msg = expectProblems(verify("misspelled-callback"), ["export-unknown-callback"]).get("export-unknown-callback")!;
    assert.equal(
      msg,
      "export proxy_on_grpc_trailing_metadata is not a proxy-wasm callback, so the host never calls it; did you mean proxy_on_grpc_receive_trailing_metadata?",
    );
  });

  test("no allocator", () => {
    const msg = expectProblems(verify("no-allocator"), ["allocator-missing"]).get("allocator-missing")!;
    assert.match(msg, /^no allocator: the module exports neither malloc nor proxy_on_memory_allocate, typed \(i32\) -> i32/);
    assert.match(msg, /Wasm module is missing malloc function\./);
  });

  test("no ABI marker", () => {
    const r = verify("no-marker");
    const msg = expectProblems(r, ["abi-marker-missing"]).get("abi-marker-missing")!;
    assert.equal(r.abiVersion, null);
    assert.match(msg, /^no ABI version marker: /);
    assert.match(msg, /Missing or unknown Proxy-Wasm ABI version/);
    assert.match(msg, /export a function named proxy_abi_version_0_2_1/);
  });

  test("an import with the wrong signature (proxy_log taking i64)", () => {
    const msg = expectProblems(verify("import-wrong-signature"), ["import-signature"]).get("import-signature")!;
    assert.match(
      msg,
      /^import env\.proxy_log has type \(i32, i64, i32\) -> i32, but the host provides \(i32 level, i32 message_data, i32 message_size\) -> i32/,
    );
    assert.match(msg, /import type mismatch/);
  });

  test("a 0.1.0-only import with the 0.2.1 marker fails with a missing import in Envoy", () => {
    const msg = expectProblems(verify("legacy-import"), ["import-not-in-abi-version"]).get("import-not-in-abi-version")!;
    assert.equal(
      msg,
      'import env.proxy_get_configuration exists only in ABI 0.1.0, but the module exports proxy_abi_version_0_2_1: Envoy fails to load the module with "Failed to load Wasm module due to a missing import: env.proxy_get_configuration"; use proxy_get_buffer_bytes(PLUGIN_CONFIGURATION) instead',
    );
  });

  test("a start section", () => {
    const msg = expectProblems(verify("start-section"), ["start-section"]).get("start-section")!;
    assert.match(msg, /^the module has a start section \(function \d+\): its top-level code would run during instantiation/);
    assert.match(msg, /--exportStart _initialize/);
  });

  test("ABI 0.1.0 is known but unsupported by our host, and its own signatures are accepted", () => {
    const r = verify("abi-0.1.0");
    const msg = expectProblems(r, ["abi-version-unsupported"]).get("abi-version-unsupported")!;
    assert.equal(r.abiVersion, "0.1.0");
    assert.match(msg, /^ABI 0\.1\.0 \(export proxy_abi_version_0_1_0\) is obsolete: Envoy still loads it/);
    assert.match(msg, /rebuild the filter with an SDK release that targets ABI 0\.2\.1/);
  });

  test("two markers", () => {
    const r = verify("two-markers");
    const msg = expectProblems(r, ["abi-marker-multiple"]).get("abi-marker-multiple")!;
    assert.equal(r.abiVersion, "0.2.1", "Envoy takes the first known marker in export order");
    assert.match(msg, /exports 2 ABI version markers \(proxy_abi_version_0_2_1, proxy_abi_version_0_2_0\)/);
  });

  test("the 0.1.0 header callback form under the 0.2.1 marker", () => {
    const msg = expectProblems(verify("old-header-callback"), ["export-signature"]).get("export-signature")!;
    assert.equal(
      msg,
      'export proxy_on_request_headers has type (i32, i32) -> i32 (the ABI 0.1.0 form), but ABI 0.2.1 expects (i32 context_id, i32 num_headers, i32 end_of_stream) -> i32; Envoy fails the VM with "Bad function signature for: proxy_on_request_headers"',
    );
  });

  test("memory not exported", () => {
    const msg = expectProblems(verify("memory-not-exported"), ["memory-not-exported"]).get("memory-not-exported")!;
    assert.match(msg, /does not export its memory/);
    assert.match(msg, /--noExportMemory/);
  });

  test("a non-spec Envoy callback is a warning, not a failure", () => {
    const r = verify("nonspec-export");
    expectProblems(r, []);
    assert.deepEqual(
      r.warnings.map((w) => w.code),
      ["export-not-in-spec"],
    );
    assert.match(r.warnings[0].message, /^export proxy_on_request_metadata is not in the proxy-wasm spec/);
    const text = formatVerifyResult("m.wasm", r).split("\n");
    assert.equal(text.length, 2);
    assert.match(text[0], /^warning: m\.wasm: export proxy_on_request_metadata/);
    assert.match(text[1], /^ok: m\.wasm: ABI 0\.2\.1, 3 imports, 7 callbacks, \d+ bytes$/);
  });

  test("imports from other modules, unknown host and WASI functions, AssemblyScript's seed", () => {
    const m = expectProblems(verify("foreign-imports"), [
      "import-foreign-module",
      "import-unknown",
      "wasi-import-unknown",
      "import-assemblyscript",
    ]);
    assert.match(m.get("import-foreign-module")!, /^import go\.runtime\.wasmExit comes from module "go"/);
    assert.match(m.get("import-foreign-module")!, /GOOS=js/);
    assert.match(m.get("import-unknown")!, /^import env\.proxy_get_headers_map_value is not a proxy-wasm host function/);
    assert.match(m.get("import-unknown")!, /did you mean proxy_get_header_map_value\?$/);
    assert.match(
      m.get("wasi-import-unknown")!,
      /^import wasi_snapshot_preview1\.proc_raise is not a WASI function proxy-wasm hosts provide: .*missing import: wasi_snapshot_preview1\.proc_raise"/,
    );
    assert.match(m.get("import-assemblyscript")!, /^import env\.seed comes from Math\.random\(\)/);
  });

  test("every fixture's problems are distinct one-line messages", () => {
    for (const f of readdirSync(fixtureDir).filter((n) => n.endsWith(".wat"))) {
      const r = verify(f.replace(/\.wat$/, ""));
      for (const p of [...r.problems, ...r.warnings]) {
        assert.ok(!p.message.includes("\n"), `${f}: ${p.message}`);
        assert.ok(p.message.length > 20);
      }
    }
  });
});

describe("verifyModule on hand-written modules", () => {
  const good = () => readFileSync(join(fixtureDir, "good-0.2.1.wat"), "utf8");
  const variant = (from: string, to: string) => {
    const text = good();
    assert.ok(text.includes(from), `fixture lacks ${from}`);
    return verifyModule(compileWat("variant.wat", text.replace(from, to)));
  };

  test("an unknown marker is named, and without a known one the module has no ABI", () => {
    const r = variant('"proxy_abi_version_0_2_1"', '"proxy_abi_version_0_3_0"');
    const m = expectProblems(r, ["abi-marker-unknown"]);
    assert.equal(r.abiVersion, null);
    assert.match(
      m.get("abi-marker-unknown")!,
      /^export proxy_abi_version_0_3_0 is not a known ABI version marker \(known: 0\.1\.0, 0\.2\.0, 0\.2\.1\)/,
    );
  });

  test("a marker exported as a global does not count", () => {
    const r = variant('(func (export "proxy_abi_version_0_2_1"))', '(global (export "proxy_abi_version_0_2_1") i32 (i32.const 0))');
    expectProblems(r, ["abi-marker-not-function"]);
    assert.equal(r.abiVersion, null);
  });

  test("proxy_get_log_level needs the 0.2.1 marker", () => {
    const text = good()
      .replace('"proxy_abi_version_0_2_1"', '"proxy_abi_version_0_2_0"')
      .replace("(module\n", '(module\n  (import "env" "proxy_get_log_level" (func (param i32) (result i32)))\n');
    const m = expectProblems(verifyModule(compileWat("v.wat", text)), ["import-not-in-abi-version"]);
    assert.match(
      m.get("import-not-in-abi-version")!,
      /^import env\.proxy_get_log_level was added in ABI 0\.2\.1, but the module exports proxy_abi_version_0_2_0/,
    );
    assert.match(m.get("import-not-in-abi-version")!, /export proxy_abi_version_0_2_1 instead$/);
  });

  test("malloc with the wrong type is a problem even though proxy_on_memory_allocate is right", () => {
    const r = variant(
      '(func (export "_initialize"))',
      '(func (export "_initialize"))\n  (func (export "malloc") (param i64) (result i32) i32.const 0)',
    );
    const m = expectProblems(r, ["export-signature"]);
    assert.match(m.get("export-signature")!, /^export malloc has type \(i64\) -> i32, but ABI 0\.2\.1 expects \(i32 size\) -> i32/);
  });

  test("an imported memory and a global import", () => {
    const text = good()
      .replace('(memory (export "memory") 1)', "")
      .replace("(module\n", '(module\n  (import "env" "memory" (memory 1))\n  (import "env" "__stack_pointer" (global (mut i32)))\n');
    const m = expectProblems(verifyModule(compileWat("v.wat", text)), ["memory-imported", "import-not-function"]);
    assert.match(m.get("memory-imported")!, /^the module imports its memory \(env\.memory\)/);
    assert.match(m.get("import-not-function")!, /^import env\.__stack_pointer is a global/);
  });

  test("a callback exported as a global, and proxy_on_foreign_function in a 0.1.0 module", () => {
    const r = variant('(func (export "proxy_on_delete") (param i32))', '(global (export "proxy_on_delete") i32 (i32.const 0))');
    assert.match(expectProblems(r, ["export-not-function"]).get("export-not-function")!, /^export proxy_on_delete is a global/);

    const text = readFileSync(join(fixtureDir, "abi-0.1.0.wat"), "utf8").replace(
      '(func (export "proxy_on_delete") (param i32))',
      '(func (export "proxy_on_delete") (param i32))\n  (func (export "proxy_on_foreign_function") (param i32 i32 i32))',
    );
    const r2 = verifyModule(compileWat("v.wat", text));
    expectProblems(r2, ["abi-version-unsupported"]);
    assert.deepEqual(
      r2.warnings.map((w) => w.code),
      ["export-not-in-abi-version"],
    );
    assert.match(
      r2.warnings[0].message,
      /^export proxy_on_foreign_function is part of ABI 0\.2\.0 and later, but the module exports proxy_abi_version_0_1_0/,
    );
  });

  test("names with line breaks cannot split a message", () => {
    const r = variant('(func (export "proxy_on_delete") (param i32))', '(func (export "proxy_on_delete\\0a") (param i32))');
    const msg = expectProblems(r, ["export-unknown-callback"]).get("export-unknown-callback")!;
    assert.match(
      msg,
      /^export proxy_on_delete\\n is not a proxy-wasm callback, so the host never calls it; did you mean proxy_on_delete\?$/,
    );
  });

  test("_initialize and _start together is a warning", () => {
    const r = variant('(func (export "_initialize"))', '(func (export "_initialize"))\n  (func (export "_start"))');
    expectProblems(r, []);
    assert.deepEqual(
      r.warnings.map((w) => w.code),
      ["entry-both"],
    );
  });

  test("a malformed module gives exactly one problem and no crash", () => {
    const bytes = fixture("good-0.2.1");
    const r = verifyModule(bytes.subarray(0, bytes.length - 5));
    assert.equal(r.ok, false);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].code, "malformed");
    assert.match(
      r.problems[0].message,
      /^truncated section 'data' at offset 0x[0-9a-f]+: declares \d+ bytes but only \d+ bytes remain in the file$/,
    );
    assert.equal(formatVerifyResult("t.wasm", r).split("\n")[1], "FAILED: t.wasm: 1 problem");

    const text = verifyModule(new TextEncoder().encode("(module)"));
    assert.equal(text.problems[0].code, "not-wasm");
    assert.match(text.problems[0].message, /^not a Wasm module: bad magic/);
  });

  test("verifyModule never throws, whatever the bytes", () => {
    const valid = fixture("good-0.2.1");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(), (noise, cut) => {
        for (const bytes of [noise, valid.subarray(0, cut % (valid.length + 1))]) {
          const r = verifyModule(bytes);
          assert.equal(r.ok, r.problems.length === 0);
          for (const p of [...r.problems, ...r.warnings]) assert.doesNotMatch(p.message, /[\n\r\u2028\u2029]/);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("docs/verify.md", () => {
  const docs = () => readFileSync(join(root, "docs/verify.md"), "utf8");

  test("documents every problem code", () => {
    const text = docs();
    for (const code of Object.keys(PROBLEM_CODES)) assert.ok(text.includes(`\`${code}\``), `docs/verify.md lacks ${code}`);
  });

  test("quotes the fixtures' messages exactly", () => {
    const text = docs();
    // These messages are documented with placeholders or split into a table.
    const paraphrased = new Set(["import-assemblyscript", "import-foreign-module", "start-section"]);
    for (const f of readdirSync(fixtureDir).filter((n) => n.endsWith(".wat"))) {
      const r = verify(f.replace(/\.wat$/, ""));
      for (const p of [...r.problems, ...r.warnings]) {
        if (paraphrased.has(p.code)) continue;
        assert.ok(text.includes(p.message), `docs/verify.md does not quote (${f}): ${p.message}`);
      }
    }
  });
});

describe("closestName", () => {
  const callbacks = MODULE_EXPORTS.map((f) => f.name);
  test("finds near names and refuses unrelated ones", () => {
    assert.equal(closestName("proxy_on_request_header", callbacks), "proxy_on_request_headers");
    assert.equal(closestName("proxy_on_http_request_headers", callbacks), "proxy_on_request_headers");
    assert.equal(closestName("proxy_on_grpc_trailing_metadata", callbacks), "proxy_on_grpc_receive_trailing_metadata");
    assert.equal(closestName("proxy_on_foo", callbacks), undefined);
    assert.equal(
      closestName(
        "proxy_get_headers_map_value",
        HOST_FUNCTIONS.map((f) => f.name),
      ),
      "proxy_get_header_map_value",
    );
  });
});

describe("proxy-wasm-as verify (CLI)", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "pwas-verify-"));
    for (const name of ["good-0.2.1", "env-abort", "misspelled-callback", "nonspec-export"]) {
      writeFileSync(join(dir, `${name}.wasm`), fixture(name));
    }
    writeFileSync(join(dir, "random.wasm"), Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x7f]));
    mkdirSync(join(dir, "adir"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [cli, "verify", ...args], { cwd: dir }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? -1) : 0;
        resolve({ code: typeof code === "number" ? code : -1, stdout, stderr });
      });
    });

  test("a good module: exit 0 and one ok line", async () => {
    const r = await run("good-0.2.1.wasm");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: good-0\.2\.1\.wasm: ABI 0\.2\.1, 3 imports, 6 callbacks, \d+ bytes\n$/);
    assert.equal(r.stderr, "");
  });

  test("problems: exit 1, one error line each, then FAILED", async () => {
    const r = await run("good-0.2.1.wasm", "env-abort.wasm", "misspelled-callback.wasm");
    assert.equal(r.code, 1);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^ok: good-0\.2\.1\.wasm: /);
    assert.match(lines[1], /^error: env-abort\.wasm: import env\.abort is AssemblyScript's default abort handler/);
    assert.equal(lines[2], "FAILED: env-abort.wasm: 1 problem");
    assert.equal(
      lines[3],
      "error: misspelled-callback.wasm: export proxy_on_grpc_trailing_metadata is not a proxy-wasm callback, so the host never calls it; did you mean proxy_on_grpc_receive_trailing_metadata?",
    );
    assert.equal(lines[4], "FAILED: misspelled-callback.wasm: 1 problem");
    assert.equal(lines.length, 5);
  });

  test("a malformed file: one line, no stack trace, exit 1", async () => {
    const r = await run("random.wasm");
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      "error: random.wasm: truncated section 'type' at offset 0x8: declares 127 bytes but only 0 bytes remain in the file\nFAILED: random.wasm: 1 problem\n",
    );
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /);
  });

  test("warnings pass, unless --strict", async () => {
    const plain = await run("nonspec-export.wasm");
    assert.equal(plain.code, 0);
    assert.match(plain.stdout, /^warning: nonspec-export\.wasm: export proxy_on_request_metadata is not in the proxy-wasm spec/);
    const strict = await run("--strict", "nonspec-export.wasm");
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /\nFAILED: nonspec-export\.wasm: 1 warning \(--strict\)\n$/);
  });

  test("--json prints one object per file", async () => {
    const r = await run("--json", "good-0.2.1.wasm", "env-abort.wasm");
    assert.equal(r.code, 1);
    const objs = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(objs.length, 2);
    assert.equal(objs[0].file, "good-0.2.1.wasm");
    assert.equal(objs[0].ok, true);
    assert.equal(objs[0].abiVersion, "0.2.1");
    assert.equal(objs[0].allocator, "proxy_on_memory_allocate");
    assert.deepEqual(objs[0].imports[0], {
      module: "env",
      name: "proxy_log",
      kind: "function",
      signature: "(i32, i32, i32) -> i32",
    });
    assert.ok(objs[0].sections.some((s: { name: string; size: number }) => s.name === "code" && s.size > 0));
    assert.equal(objs[1].ok, false);
    assert.deepEqual(
      objs[1].problems.map((p: { code: string }) => p.code),
      ["import-assemblyscript"],
    );
  });

  test("unreadable files and bad usage exit 2", async () => {
    const missing = await run("nope.wasm");
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, "proxy-wasm-as: cannot read nope.wasm: no such file\n");
    const directory = await run("adir");
    assert.equal(directory.code, 2);
    assert.match(directory.stderr, /^proxy-wasm-as: cannot read adir: it is a directory/);
    const noArgs = await run();
    assert.equal(noArgs.code, 2);
    assert.match(noArgs.stderr, /missing required argument 'files'/);
    const badOption = await run("--nope", "good-0.2.1.wasm");
    assert.equal(badOption.code, 2);
  });
});
