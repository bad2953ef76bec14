// Every public SDK method is used by at least one example or test filter: AssemblyScript code that
// really calls the SDK (examples/, tests/fixtures/, tests/assembly/). "Public" is what a filter can
// reach from `import ... from "proxy-wasm-as"`: the exported functions of assembly/index.ts and the
// modules it re-exports, the public methods and getters of the exported classes, and the functions
// of exported namespaces, without names starting with "_". The sources are parsed with the
// TypeScript compiler API (AssemblyScript is TypeScript syntax).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { createHost, type Host } from "../../src/host/index.js";
import { built, repoRoot } from "./helpers.js";

const sdkDir = path.join(repoRoot, "assembly");

function parseFile(file: string): ts.SourceFile {
  return ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** "name" for a function, "Class.method" for a method or getter, "ns.fn" for a namespace function. */
interface PublicName {
  qualified: string;
  name: string;
  file: string;
}

/** The public callables declared by `decl` (an exported top-level declaration) under its name. */
function callablesOf(decl: ts.Statement, file: string, out: PublicName[]): void {
  const rel = path.relative(repoRoot, file);
  if (ts.isFunctionDeclaration(decl) && decl.name) {
    out.push({ qualified: decl.name.text, name: decl.name.text, file: rel });
  } else if (ts.isClassDeclaration(decl) && decl.name) {
    const cls = decl.name.text;
    for (const m of decl.members) {
      if (!(ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m)) || !m.name || !ts.isIdentifier(m.name)) continue;
      if (hasModifier(m, ts.SyntaxKind.PrivateKeyword) || hasModifier(m, ts.SyntaxKind.ProtectedKeyword)) continue;
      out.push({ qualified: `${cls}.${m.name.text}`, name: m.name.text, file: rel });
    }
  } else if (ts.isModuleDeclaration(decl) && ts.isIdentifier(decl.name) && decl.body && ts.isModuleBlock(decl.body)) {
    for (const s of decl.body.statements) {
      if (ts.isFunctionDeclaration(s) && s.name && hasModifier(s, ts.SyntaxKind.ExportKeyword)) {
        out.push({ qualified: `${decl.name.text}.${s.name.text}`, name: s.name.text, file: rel });
      }
    }
  }
}

function declName(s: ts.Statement): string | null {
  if ((ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s)) && s.name) return s.name.text;
  if (ts.isModuleDeclaration(s) && ts.isIdentifier(s.name)) return s.name.text;
  if (ts.isEnumDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s)) return s.name.text;
  return null;
}

/** Public callables reachable from assembly/index.ts, following `export *` and `export { } from`. */
function publicApi(): PublicName[] {
  const out: PublicName[] = [];
  const index = parseFile(path.join(sdkDir, "index.ts"));
  const moduleFile = (spec: string) => path.join(sdkDir, `${spec.replace(/^\.\//, "")}.ts`);
  for (const s of index.statements) {
    if (!ts.isExportDeclaration(s) || !s.moduleSpecifier || !ts.isStringLiteral(s.moduleSpecifier)) continue;
    const file = moduleFile(s.moduleSpecifier.text);
    const mod = parseFile(file);
    const exported = mod.statements.filter((d) => hasModifier(d, ts.SyntaxKind.ExportKeyword));
    let wanted: Set<string> | null = null; // null: export *
    if (s.exportClause && ts.isNamedExports(s.exportClause)) {
      wanted = new Set(s.exportClause.elements.map((e) => (e.propertyName ?? e.name).text));
      const declared = new Set(exported.map(declName).filter((n) => n !== null));
      for (const w of wanted)
        assert.ok(declared.has(w), `assembly/index.ts re-exports ${w}, which ${path.relative(repoRoot, file)} does not export`);
    }
    for (const d of exported) {
      const name = declName(d);
      if (name === null || (wanted !== null && !wanted.has(name))) continue;
      callablesOf(d, file, out);
    }
  }
  return out.filter((p) => !p.name.startsWith("_") && !p.qualified.split(".").some((part) => part.startsWith("_")));
}

function tsFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "node_modules" && name !== "build") tsFiles(p, out);
    } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Filters and tests that call the SDK: AssemblyScript sources, not the Node tests. */
const USER_DIRS = ["examples", "tests/fixtures", "tests/assembly"];

/**
 * Names used in the user code: identifiers in calls, property accesses and other expressions, plus
 * the names of methods a class declares (an override of a callback such as onHttpRequestHeaders or
 * createHttpContext, which the SDK calls). Other declared names (functions, variables, parameters,
 * properties) are not uses: a filter's own `function log()` does not use the SDK's.
 */
function usedNames(): { names: Set<string>; files: number } {
  const names = new Set<string>();
  let files = 0;
  for (const dir of USER_DIRS) {
    for (const file of tsFiles(path.join(repoRoot, dir))) {
      files++;
      const visit = (node: ts.Node): void => {
        if (ts.isIdentifier(node)) {
          const parent = node.parent;
          const isDeclName =
            parent &&
            (ts.isFunctionDeclaration(parent) ||
              ts.isVariableDeclaration(parent) ||
              ts.isParameter(parent) ||
              ts.isPropertyDeclaration(parent) ||
              ts.isClassDeclaration(parent) ||
              ts.isPropertyAssignment(parent)) &&
            (parent as ts.NamedDeclaration).name === node;
          if (!isDeclName) names.add(node.text);
        }
        ts.forEachChild(node, visit);
      };
      visit(parseFile(file));
    }
  }
  return { names, files };
}

test("the SDK's public API is found (the parser follows index.ts's re-exports)", () => {
  const api = publicApi().map((p) => p.qualified);
  // A few that must be there, from each kind of declaration and each module.
  for (const q of [
    "setRootContext",
    "logInfo",
    "HttpContext.getHttpRequestHeader",
    "HttpContext.sendHttpResponse",
    "RootContext.getPluginConfiguration",
    "Counter.increment",
    "JsonValue.get",
    "properties.sourceAddress",
    "parseJson",
    "lowerAscii",
  ]) {
    assert.ok(api.includes(q), `${q} is not in the public API found: ${api.length} names`);
  }
  for (const cls of ["ProtoWriter", "ProtoReader", "Context", "StreamContext", "Gauge", "Histogram"]) {
    assert.ok(
      api.some((a) => a.startsWith(`${cls}.`)),
      `no methods of ${cls} found`,
    );
  }
  assert.ok(api.length > 150, `only ${api.length} public names found`);
  assert.ok(!api.some((q) => q.split(".").some((p) => p.startsWith("_"))), "names starting with _ are not public");
});

test("every public SDK method is used by an example or a test filter", () => {
  const { names, files } = usedNames();
  assert.ok(files > 20, `only ${files} user files found`);
  const unused = publicApi()
    .filter((p) => !names.has(p.name))
    .map((p) => `${p.qualified} (${p.file})`);
  assert.deepEqual(unused, [], `public SDK methods no example or test filter uses:\n  ${unused.join("\n  ")}`);
});

// ---- Test filters for the methods no example uses (tests/fixtures/filters/api-*.ts), run in the host. ----

/** Trailers in name order: where a replaced trailer lands is the host's business, not the SDK's. */
const sorted = (pairs: Array<[string, string]>) => [...pairs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

async function startFilter(entry: string): Promise<Host> {
  const { wasm } = await built(entry);
  const host = await createHost({ wasm });
  assert.equal(host.startPlugin(), true, host.logMessages().join("\n"));
  return host;
}

test("api-trailers: request trailers and body edits reach the upstream", async () => {
  const host = await startFilter("tests/fixtures/filters/api-trailers.ts");
  const http = host.httpStream();
  http.requestHeaders(
    [
      [":method", "POST"],
      [":path", "/"],
      [":authority", "a"],
    ],
    false,
  );
  http.requestBody("abc", false);
  http.requestTrailers([
    ["t1", "one"],
    ["t2", "two"],
    ["t3", "three"],
  ]);
  assert.equal(http.request.forwardedBody.toString(), "<XY");
  assert.deepEqual(
    sorted(http.request.trailers),
    sorted([
      ["t2", "replaced"],
      ["t3", "replaced-bytes"],
      ["seen", "one|one|3|3"],
      ["added-bytes", "b"],
    ]),
  );
});

test("api-trailers: response trailers are added, replaced, removed or set whole", async () => {
  const host = await startFilter("tests/fixtures/filters/api-trailers.ts");
  const run = (r1: string) => {
    const http = host.httpStream();
    http.requestHeaders(
      [
        [":method", "GET"],
        [":path", "/"],
        [":authority", "a"],
      ],
      true,
    );
    http.responseHeaders([[":status", "200"]], false);
    http.responseBody("xyz", false);
    http.responseTrailers([
      ["r1", r1],
      ["r2", "two"],
    ]);
    return http;
  };
  const edited = run("one");
  assert.equal(edited.response.forwardedBody.toString(), ">xyz!");
  assert.deepEqual(
    sorted(edited.response.trailers),
    sorted([
      ["r2", "replaced"],
      ["seen", "one|one|2|2"],
      ["added-bytes", "b"],
      ["r3", "replaced-bytes"],
    ]),
  );
  assert.deepEqual(run("set").response.trailers, [["only", "set|set|2|2"]]);
  assert.deepEqual(run("set-bytes").response.trailers, [["only-bytes", "set-bytes|set-bytes|2|2"]]);
});
