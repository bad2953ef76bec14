// An asc transform, used by `proxy-wasm-as build`, that puts the SDK's small-block free lists
// (assembly/small-blocks.ts) in front of AssemblyScript's TLSF allocator: after parsing, it renames
// TLSF's global __alloc, __realloc and __free to __tlsf_alloc, __tlsf_realloc and __tlsf_free and adds
// the SDK file, whose __alloc, __realloc and __free take their place for the whole program (the
// runtime's `new` and `__renew`, `heap.alloc`, `heap.realloc`, the collector's sweep). When the
// runtime's TLSF is not found as expected (another compiler version), it changes nothing and the
// filter keeps plain TLSF.
//
// It also points the runtime's "Allocation too large" failures (a single block over 1 GiB, in TLSF
// and the collector) at the SDK's __sdkAllocationTooLarge, which logs the same fact from a 20-byte
// ASCII table and traps: the runtime's own throw carries two file names and the message as UTF-16
// string literals, about 140 bytes of data in every filter for a failure the host's 1 GiB memory
// limit reaches first.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type AstNode, walkAst } from "./ast-walk.js";
// The compiler's AST classes are loaded when a build runs (asc has loaded them by then): a static import
// would load the whole compiler with every CLI command.
type AscAst = typeof import("assemblyscript");

/** The SDK file with the free lists (this file runs from dist/src/build/). */
const FRONT_FILE = fileURLToPath(new URL("../../../assembly/small-blocks.ts", import.meta.url));
/** The path the compiler knows the file by (like every SDK file in a build). */
const FRONT_PATH = "~lib/proxy-wasm-as/assembly/small-blocks.ts";
const TLSF_PATH = "~lib/rt/tlsf";
const RENAMES: Record<string, string> = { __alloc: "__tlsf_alloc", __realloc: "__tlsf_realloc", __free: "__tlsf_free" };
/** Runtime sources whose "Allocation too large" throws go to the SDK's function. */
const RUNTIME_PATHS = new Set([TLSF_PATH, "~lib/rt/tcms"]);
const TOO_LARGE_ERROR = "E_ALLOCATION_TOO_LARGE";
const TOO_LARGE_FUNCTION = "__sdkAllocationTooLarge";

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

/** Renames TLSF's entry points in `sources`; false (nothing renamed) when any of them is missing. */
export function renameTlsfEntryPoints(sources: Source[]): boolean {
  const tlsf = sources.find((s) => s.internalPath === TLSF_PATH);
  if (!tlsf) return false;
  const found = tlsf.statements.filter((s) => s.name && Object.hasOwn(RENAMES, s.name.text));
  if (found.length !== Object.keys(RENAMES).length) return false;
  for (const s of found) s.name!.text = RENAMES[s.name!.text];
  return true;
}

/** The node kinds the rewrite compares (a const enum in the compiler's types). */
interface Kinds {
  If: number;
  Throw: number;
  New: number;
  Identifier: number;
}

/** Whether `n` is `throw new Error(E_ALLOCATION_TOO_LARGE)`. */
function isTooLargeThrow(n: unknown, NodeKind: Kinds): boolean {
  const t = n as AstNode | null;
  if (!t || t.kind !== NodeKind.Throw) return false;
  const v = t.value as AstNode | null;
  const args = v?.kind === NodeKind.New ? (v.args as AstNode[]) : [];
  return args.length === 1 && args[0].kind === NodeKind.Identifier && args[0].text === TOO_LARGE_ERROR;
}

/**
 * Replaces each `if (...) throw new Error(E_ALLOCATION_TOO_LARGE)` of the runtime's allocator and
 * collector with a call of the SDK's __sdkAllocationTooLarge (which traps); returns how many.
 */
export function redirectAllocationTooLarge(sources: Source[], ast: AscAst): number {
  const { Node } = ast;
  const NodeKind: Kinds = { If: ast.NodeKind.If, Throw: ast.NodeKind.Throw, New: ast.NodeKind.New, Identifier: ast.NodeKind.Identifier };
  let replaced = 0;
  const visit = (node: AstNode): void => {
    if (node.kind === NodeKind.If && isTooLargeThrow(node.ifTrue, NodeKind)) {
      const range = (node.ifTrue as AstNode).range as never;
      const call = Node.createCallExpression(Node.createIdentifierExpression(TOO_LARGE_FUNCTION, range), null, [], range);
      node.ifTrue = Node.createExpressionStatement(call);
      replaced++;
    }
  };
  for (const source of sources) if (RUNTIME_PATHS.has(source.internalPath)) walkAst(source.statements, visit);
  return replaced;
}

export default class SmallBlocks {
  /** Whether the last compilation got the free lists (for tests and the bench). */
  static lastApplied = false;
  /** How many "Allocation too large" throws the last compilation redirected. */
  static lastRedirected = 0;

  async afterParse(parser: Parser): Promise<void> {
    SmallBlocks.lastApplied = renameTlsfEntryPoints(parser.sources);
    if (!SmallBlocks.lastApplied) return;
    SmallBlocks.lastRedirected = redirectAllocationTooLarge(parser.sources, await import("assemblyscript"));
    parser.parseFile(readFileSync(FRONT_FILE, "utf8"), FRONT_PATH, false);
  }
}


