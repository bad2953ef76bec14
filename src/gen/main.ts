// `npm run gen`: writes every file that lists ABI names from the ABI table (src/abi/), so the SDK,
// the build, the verifier, the host and the test mock host cannot disagree with it.
// `npm run gen -- --check` writes nothing and exits 1 naming the files that differ (CI runs it).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildCallbacks, hostImports, mockHostImports, verifyTables } from "./node.js";
import { sdkEnums, sdkImports } from "./sdk.js";
import { currentTable, type AbiTable } from "./table.js";

/** Every generated file (path relative to the repository root) and its contents. */
export function generate(table: AbiTable): Map<string, string> {
  return new Map([
    ["assembly/imports.ts", sdkImports(table)],
    ["assembly/enums.generated.ts", sdkEnums(table)],
    ["src/build/callbacks.generated.ts", buildCallbacks(table)],
    ["src/verify/abi-tables.generated.ts", verifyTables(table)],
    ["src/host/imports.generated.ts", hostImports(table)],
    ["tests/assembly/mock-host.generated.js", mockHostImports(table)],
  ]);
}

/** Writes the generated files under `root`; returns the paths whose contents changed. */
export function writeGenerated(table: AbiTable, root: string): string[] {
  const changed: string[] = [];
  for (const [rel, text] of generate(table)) {
    const file = path.join(root, rel);
    if (existsSync(file) && readFileSync(file, "utf8") === text) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    changed.push(rel);
  }
  return changed;
}

/** The generated files under `root` that are missing or differ from what the table gives. */
export function staleFiles(table: AbiTable, root: string): string[] {
  return [...generate(table)]
    .filter(([rel, text]) => {
      const file = path.join(root, rel);
      return !existsSync(file) || readFileSync(file, "utf8") !== text;
    })
    .map(([rel]) => rel);
}

function main(argv: string[]): number {
  // dist/src/gen/main.js -> the repository root
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  const unknown = argv.filter((a) => a !== "--check");
  if (unknown.length > 0) {
    console.error(`gen: unknown argument ${unknown[0]}; usage: npm run gen [-- --check]`);
    return 2;
  }
  if (argv.includes("--check")) {
    const stale = staleFiles(currentTable(), root);
    if (stale.length > 0) {
      console.error(`gen: stale generated files (run \`npm run gen\` and commit them): ${stale.join(", ")}`);
      return 1;
    }
    console.log("gen: every generated file matches the ABI table");
    return 0;
  }
  const changed = writeGenerated(currentTable(), root);
  console.log(changed.length ? `gen: wrote ${changed.join(", ")}` : "gen: every generated file was up to date");
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  process.exitCode = main(process.argv.slice(2));
}
