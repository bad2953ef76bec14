// An asc transform, used by `proxy-wasm-as build`, that puts the SDK's small-block free lists
// (assembly/small-blocks.ts) in front of AssemblyScript's TLSF allocator: after parsing, it renames
// TLSF's global __alloc and __free to __tlsf_alloc and __tlsf_free and adds the SDK file, whose
// __alloc and __free take their place for the whole program (the runtime's `new`, `heap.alloc`,
// the collector's sweep). When the runtime's TLSF is not found as expected (another compiler
// version), it changes nothing and the filter keeps plain TLSF.
import { readFileSync } from "node:fs";

import { fileURLToPath } from "node:url";

/** The SDK file with the free lists (this file runs from dist/src/build/). */
const FRONT_FILE = fileURLToPath(new URL("../../../assembly/small-blocks.ts", import.meta.url));
/** The path the compiler knows the file by (like every SDK file in a build). */
const FRONT_PATH = "~lib/proxy-wasm-as/assembly/small-blocks.ts";
const TLSF_PATH = "~lib/rt/tlsf";
const RENAMES: Record<string, string> = { __alloc: "__tlsf_alloc", __free: "__tlsf_free" };

interface Identifier {
  text: string;
}
interface Statement {
  name?: Identifier;
}
interface Source {
  internalPath: string;
  statements: Statement[];
}
interface Parser {
  sources: Source[];
  parseFile(text: string | null, path: string, isEntry: boolean): void;
}

/** Renames TLSF's entry points in `sources`; false (nothing renamed) when either is missing. */
export function renameTlsfEntryPoints(sources: Source[]): boolean {
  const tlsf = sources.find((s) => s.internalPath === TLSF_PATH);
  if (!tlsf) return false;
  const found = tlsf.statements.filter((s) => s.name && Object.hasOwn(RENAMES, s.name.text));
  if (found.length !== Object.keys(RENAMES).length) return false;
  for (const s of found) s.name!.text = RENAMES[s.name!.text];
  return true;
}

export default class SmallBlocks {
  /** Whether the last compilation got the free lists (for tests and the bench). */
  static lastApplied = false;

  afterParse(parser: Parser): void {
    SmallBlocks.lastApplied = renameTlsfEntryPoints(parser.sources);
    if (SmallBlocks.lastApplied) parser.parseFile(readFileSync(FRONT_FILE, "utf8"), FRONT_PATH, false);
  }
}


