// No import cycles in src/ or assembly/: every relative import of every .ts file is followed, and a
// cycle fails the test naming its files in order. Imports are read with the TypeScript parser
// (import and export-from declarations, type-only ones included: a cycle of types is still a cycle
// for a reader), resolved the way tsc and asc resolve them (".js" written for ".ts", "./x" for x.ts
// or x/index.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { repoRoot } from "./helpers.js";

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) tsFiles(p, out);
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** The file a relative specifier names, or null when it is not a file of ours. */
function resolve(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  const stem = base.replace(/\.js$/, "");
  for (const candidate of [`${stem}.ts`, path.join(base, "index.ts")]) {
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Relative imports of `file` (import declarations, export ... from, import("...") types). */
export function relativeImports(file: string, text: string = readFileSync(file, "utf8")): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specs: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      specs.push(node.moduleSpecifier.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specs.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs.filter((s) => s.startsWith("."));
}

/** Every cycle's files in order (each cycle once), by depth-first search over the import graph. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string): void => {
    state.set(f, "open");
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === "open") {
        const cycle = stack.slice(stack.indexOf(g));
        const key = [...cycle].sort().join(" ");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return cycles;
}

function importGraph(dirs: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of tsFiles(path.join(repoRoot, dir))) {
      const targets = relativeImports(file)
        .map((s) => resolve(file, s))
        .filter((t): t is string => t !== null);
      graph.set(file, [...new Set(targets)].sort());
    }
  }
  return graph;
}

const describeCycle = (c: string[]) => [...c, c[0]].map((f) => path.relative(repoRoot, f)).join(" -> ");

test("the cycle finder finds a cycle, names it in import order, and passes a tree", () => {
  const cyclic = new Map([
    ["a.ts", ["b.ts"]],
    ["b.ts", ["c.ts", "d.ts"]],
    ["c.ts", ["a.ts"]],
    ["d.ts", []],
  ]);
  assert.deepEqual(findCycles(cyclic), [["a.ts", "b.ts", "c.ts"]]);
  assert.deepEqual(
    findCycles(
      new Map([
        ["a.ts", ["b.ts", "c.ts"]],
        ["b.ts", ["c.ts"]],
        ["c.ts", []],
      ]),
    ),
    [],
  );
  assert.deepEqual(
    relativeImports("x.ts", 'import { a } from "./a";\nexport * from "../b.js";\nimport x from "node:fs";\ntype T = import("./c").T;'),
    ["./a", "../b.js", "./c"],
  );
});

test("assembly/ has no import cycle", () => {
  const graph = importGraph(["assembly"]);
  assert.ok(graph.size > 15, `only ${graph.size} files found in assembly/`);
  const cycles = findCycles(graph);
  assert.deepEqual(cycles.map(describeCycle), [], `import cycles in assembly/:\n  ${cycles.map(describeCycle).join("\n  ")}`);
});

// Cycles in src/ that exist and are reported to their owners, to be broken there. A new cycle fails
// the test, and so does a listed one that is gone (then delete its line here).
const KNOWN_SRC_CYCLES: string[] = [];

test("src/ has no import cycle beyond the known ones", () => {
  const graph = importGraph(["src"]);
  assert.ok(graph.size > 30, `only ${graph.size} files found in src/`);
  const cycles = findCycles(graph).map(describeCycle);
  const added = cycles.filter((c) => !KNOWN_SRC_CYCLES.includes(c));
  assert.deepEqual(added, [], `import cycles in src/:\n  ${added.join("\n  ")}`);
  const gone = KNOWN_SRC_CYCLES.filter((c) => !cycles.includes(c));
  assert.deepEqual(gone, [], "these cycles are gone: delete them from KNOWN_SRC_CYCLES");
});
