// Docs that run: every code block in README.md and docs/*.md marked with a `<!-- doc-test: KIND -->`
// comment is run here, so the docs cannot drift from what the SDK and the compiler do.
//   filter                  the block is a whole filter: it builds
//   filter-error            it does not build, and every ERROR line of the ```text block right after
//                           it is in the compiler's output (the docs quote the compiler's real text)
//   node-test wasm=<entry>  the block is a node:test file (ESM, as in a "type": "module" project):
//                           it passes against <entry> built to build/<name>.wasm
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildFilter } from "../../src/build/build.js";
import { UserError } from "../../src/errors.js";
import { built, repoRoot } from "./helpers.js";

interface DocBlock {
  file: string;
  line: number;
  kind: string;
  args: Record<string, string>;
  code: string;
  /** The fenced block right after this one, if any (the quoted compiler output). */
  next: string | null;
}

/** The marked blocks of a Markdown file. */
function docBlocks(file: string): DocBlock[] {
  const lines = readFileSync(path.join(repoRoot, file), "utf8").split("\n");
  const blocks: DocBlock[] = [];
  const fence = (from: number): { code: string; end: number } | null => {
    let i = from;
    while (i < lines.length && lines[i].trim() === "") i++;
    if (!lines[i]?.startsWith("```")) return null;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end].startsWith("```")) end++;
    return { code: lines.slice(start, end).join("\n") + "\n", end };
  };
  lines.forEach((text, i) => {
    const m = /^<!-- doc-test: (\S+)((?: \S+=\S+)*) -->$/.exec(text.trim());
    if (!m) return;
    const block = fence(i + 1);
    assert.ok(block, `${file}:${i + 1}: a doc-test marker must be followed by a code block`);
    const args = Object.fromEntries(
      m[2]
        .trim()
        .split(" ")
        .filter(Boolean)
        .map((a) => a.split("=") as [string, string]),
    );
    blocks.push({ file, line: i + 1, kind: m[1], args, code: block.code, next: fence(block.end + 1)?.code ?? null });
  });
  return blocks;
}

const docs = [
  "README.md",
  ...readdirSync(path.join(repoRoot, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const blocks = docs.flatMap(docBlocks);
const work = mkdtempSync(path.join(os.tmpdir(), "pwa-docs-"));

test("the docs mark their runnable blocks, and every marker is one this test knows", () => {
  assert.ok(blocks.filter((b) => b.kind === "filter").length >= 4);
  assert.ok(blocks.filter((b) => b.kind === "filter-error").length >= 5);
  assert.ok(blocks.some((b) => b.kind === "node-test"));
  for (const b of blocks)
    assert.ok(["filter", "filter-error", "node-test"].includes(b.kind), `${b.file}:${b.line}: unknown kind ${b.kind}`);
});

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");

for (const b of blocks) {
  const where = `${b.file}:${b.line}`;
  if (b.kind === "filter" || b.kind === "filter-error") {
    test(`${where}: ${b.kind === "filter" ? "builds" : "fails to build with the quoted errors"}`, async () => {
      const entry = path.join(work, `block-${b.file.replace(/\W/g, "_")}-${b.line}.ts`);
      writeFileSync(entry, b.code);
      let diagnostics = "";
      const build = buildFilter({ entry, debug: true, config: false }, (t) => {
        diagnostics += t;
      });
      if (b.kind === "filter") {
        await build;
        return;
      }
      await assert.rejects(build, UserError);
      assert.ok(b.next, `${where}: the quoted compiler output must follow in a code block`);
      const quoted = b.next.split("\n").filter((l) => l.startsWith("ERROR"));
      assert.ok(quoted.length > 0, `${where}: the quoted block has no ERROR line`);
      for (const q of quoted) assert.ok(strip(diagnostics).includes(q), `${where}: asc did not say "${q}":\n${strip(diagnostics)}`);
    });
  } else if (b.kind === "node-test") {
    test(`${where}: the test passes against ${b.args.wasm}`, async () => {
      const dir = path.join(work, `node-${b.line}`);
      mkdirSync(path.join(dir, "build"), { recursive: true });
      mkdirSync(path.join(dir, "node_modules"));
      symlinkSync(repoRoot, path.join(dir, "node_modules", "proxy-wasm-as"), "dir");
      writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
      const r = await built(b.args.wasm);
      const target = path.join(dir, "build", `${path.basename(path.dirname(b.args.wasm))}.wasm`);
      copyFileSync(r.outFile, target);
      copyFileSync(r.sourceMapFile, `${target}.map`);
      writeFileSync(path.join(dir, "doc.test.js"), b.code);
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_TEST_CONTEXT"));
      const run = spawnSync(process.execPath, ["--test", "doc.test.js"], { cwd: dir, encoding: "utf8", env });
      assert.equal(run.status, 0, run.stdout + run.stderr);
      assert.match(run.stdout, /^# fail 0$/m);
      assert.doesNotMatch(run.stdout, /^# pass 0$/m);
    });
  }
}
