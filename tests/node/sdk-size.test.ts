// Size budgets of the SDK (issue targets: the two smallest examples fit in 6 KB), and the ASCII byte
// tables the SDK keeps instead of string literals: each must spell the "// > " lines written above it,
// so the readable text and the bytes cannot drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildFilter } from "../../src/build/build.js";
import { createHost, LogLevel } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

const BUDGET = 6144;

for (const name of ["x-service-name", "add-header"]) {
  test(`examples/${name} builds to at most ${BUDGET} bytes`, async () => {
    const { wasm } = await built(`examples/${name}/index.ts`);
    assert.ok(wasm.length <= BUDGET, `examples/${name}: ${wasm.length} bytes, over the ${BUDGET}-byte budget by ${wasm.length - BUDGET}`);
  });
}

interface AsciiTable {
  file: string;
  name: string;
  text: string;
  bytes: number[];
}

/** Every `memory.data<u8>([...])` table preceded by "// > " lines, in assembly/*.ts. */
function asciiTables(): AsciiTable[] {
  const dir = path.join(repoRoot, "assembly");
  const tables: AsciiTable[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const lines = readFileSync(path.join(dir, file), "utf8").split("\n");
    let text: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.startsWith("// > ")) {
        text.push(line.slice(5));
        continue;
      }
      const m = /const (\w+) = memory\.data<u8>\(\[$/.exec(line);
      if (m && text.length > 0) {
        const bytes: number[] = [];
        for (i++; i < lines.length && lines[i].trim() !== "]);"; i++) {
          for (const b of lines[i].split(",")) if (b.trim() !== "") bytes.push(Number(b.trim()));
        }
        tables.push({ file, name: m[1], text: text.join(""), bytes });
        text = [];
      } else if (!line.startsWith("//")) {
        text = [];
      }
    }
  }
  return tables;
}

test("ASCII tables in the SDK spell the text written above them", () => {
  const tables = asciiTables();
  const names = tables.map((t) => `${t.file}:${t.name}`).sort();
  assert.deepEqual(names, ["dispatcher.ts:NO_FACTORY", "json-messages.ts:MESSAGES", "small-blocks.ts:TOO_LARGE"]);
  for (const t of tables) {
    assert.ok(
      t.bytes.every((b) => Number.isInteger(b) && b >= 0x20 && b < 0x7f),
      `${t.file}:${t.name}: only printable ASCII`,
    );
    assert.equal(Buffer.from(t.bytes).toString("latin1"), t.text, `${t.file}:${t.name}: the bytes differ from the text above them`);
  }
});

test("a filter with no HTTP or TCP context factory logs the (ASCII) warning once, in full", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sdk-size-"));
  try {
    const entry = path.join(dir, "index.ts");
    writeFileSync(
      entry,
      'import { RootContext, setRootContext } from "proxy-wasm-as";\n' +
        "class Root extends RootContext {}\n" +
        "setRootContext((id: u32): RootContext => new Root(id));\n",
    );
    const { wasm } = await buildFilter({ entry, outFile: path.join(dir, "f.wasm") }, () => {});
    const host = await createHost({ wasm });
    assert.equal(host.startPlugin(), true);
    host.httpStream();
    host.httpStream();
    assert.deepEqual(host.logMessages(LogLevel.Critical), ["proxy-wasm-as: no setHttpContext/setStreamContext factory"]);
    assert.deepEqual(host.failures, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
