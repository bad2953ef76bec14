// `npm run gen`: the ABI table (src/abi/) is the source of every file that lists ABI names. A fake
// function added to a copy of the table must reach every generated output, and the committed
// outputs must be what the current table gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { params } from "../../src/abi.js";
import { generate, staleFiles, writeGenerated } from "../../src/gen/main.js";
import { GENERATED_NOTE, currentTable, type AbiTable } from "../../src/gen/table.js";
import { repoRoot } from "./helpers.js";

/** A copy of the table with one fake import, one fake callback export and one fake enum value. */
function tableWithFake(): AbiTable {
  const t = currentTable();
  return {
    ...t,
    hostFunctions: [
      ...t.hostFunctions,
      {
        module: "env",
        name: "proxy_fake_lookup",
        params: params("fake_key_data,fake_key_size,return_fake_value"),
        results: ["i32"],
        since: "0.2.1",
        area: "fake",
        doc: "A fake host function.",
        phases: ["start", "callback"],
      },
    ],
    moduleExports: [
      ...t.moduleExports,
      {
        module: "",
        name: "proxy_on_fake_event",
        params: params("context_id,fake_size"),
        results: ["i32"],
        since: "0.2.1",
        area: "fake",
        doc: "A fake callback.",
        sdkMethods: ["onFakeEvent"],
      },
    ],
    enums: t.enums.map((e) => (e.name === "MetricType" ? { ...e, values: { ...e.values, FakeMeter: 77 } } : e)),
  };
}

test("a fake ABI function and enum value in a copy of the table reach every generated output", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pwa-gen-"));
  try {
    const written = writeGenerated(tableWithFake(), dir);
    const read = (rel: string) => readFileSync(path.join(dir, rel), "utf8");
    assert.deepEqual(written.sort(), [...generate(currentTable()).keys()].sort(), "every output written");

    // SDK: the @external declaration with the SDK's types, and the enum value.
    assert.match(
      read("assembly/imports.ts"),
      /@external\("env", "proxy_fake_lookup"\)\nexport declare function proxy_fake_lookup\(fakeKeyData: usize, fakeKeySize: usize, returnFakeValue: usize\): u32;/,
    );
    assert.match(read("assembly/enums.generated.ts"), /export enum MetricType \{[^}]*FakeMeter = 77,\n\}/);
    // Build: the callback may be dropped unless a filter overrides its method.
    assert.match(read("src/build/callbacks.generated.ts"), / {2}proxy_on_fake_event: \["onFakeEvent"\],/);
    // Verifier: the import and the export with their signatures.
    const verify = read("src/verify/abi-tables.generated.ts");
    assert.match(
      verify,
      /name: "proxy_fake_lookup", params: \[\["fake_key_data", "i32"\], \["fake_key_size", "i32"\], \["return_fake_value", "i32"\]\], results: \["i32"\], since: "0.2.1"/,
    );
    assert.match(
      verify,
      /proxy_on_fake_event: \[\{ module: "", name: "proxy_on_fake_event", params: \[\["context_id", "i32"\], \["fake_size", "i32"\]\], results: \["i32"\], since: "0.2.1", callback: true \}\]/,
    );
    // Host: the skeleton row with its area and phases, the implementation slot, the start rule.
    const host = read("src/host/imports.generated.ts");
    assert.match(
      host,
      /name: "proxy_fake_lookup", params: \["i32", "i32", "i32"\], results: \["i32"\], area: "fake", since: "0.2.1", phases: \["start", "callback"\]/,
    );
    assert.match(
      host,
      / {2}proxy_fake_lookup\(vm: HostCallState, fake_key_data: number, fake_key_size: number, return_fake_value: number\): number;/,
    );
    assert.match(host, /ALLOWED_DURING_START[^\]]*"proxy_fake_lookup",/);
    // Mock host: listed with its arity, so the as-pect tests fail by name when they reach it.
    assert.match(read("tests/assembly/mock-host.generated.js"), / {2}\["proxy_fake_lookup", 3\],/);

    // The repository's own outputs do not have it, and --check sees the copy as stale.
    assert.doesNotMatch(readFileSync(path.join(repoRoot, "assembly", "imports.ts"), "utf8"), /proxy_fake_lookup/);
    assert.deepEqual(staleFiles(tableWithFake(), dir), []);
    assert.deepEqual(staleFiles(currentTable(), dir).sort(), written.sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every generated file is committed as the table gives it, and says it is generated", () => {
  assert.deepEqual(staleFiles(currentTable(), repoRoot), [], "run `npm run gen` and commit the result");
  for (const [rel, text] of generate(currentTable())) {
    assert.equal(text.split("\n")[0], `// ${GENERATED_NOTE}`, `${rel} first line`);
  }
});

test("--check names a stale file; a hand edit makes it stale", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "pwa-gen-"));
  try {
    writeGenerated(currentTable(), dir);
    assert.deepEqual(staleFiles(currentTable(), dir), []);
    const file = path.join(dir, "src", "host", "imports.generated.ts");
    writeFileSync(file, readFileSync(file, "utf8").replace('"proxy_log"', '"proxy_logg"'));
    assert.deepEqual(staleFiles(currentTable(), dir), ["src/host/imports.generated.ts"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the gen command exits 0 on the repository with --check and 2 on an unknown flag", async () => {
  const { spawnSync } = await import("node:child_process");
  const main = path.join(repoRoot, "dist", "src", "gen", "main.js");
  const ok = spawnSync(process.execPath, [main, "--check"], { encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  const bad = spawnSync(process.execPath, [main, "--chek"], { encoding: "utf8" });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /^gen: unknown argument --chek; usage: npm run gen \[-- --check\]/);
});
