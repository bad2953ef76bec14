// A walk over the compiler's AST for the build's transforms (assemblyscript's Node classes, seen as
// plain objects so that nothing here loads the compiler).

/** The part of an AST node a transform reads. */
export interface AstNode {
  kind: number;
  range: unknown;
  [key: string]: unknown;
}

/** A parsed file: the compiler's path for it (~lib/... for the SDK and the standard library). */
export interface Source {
  internalPath: string;
  statements: AstNode[];
}

/**
 * Calls `visit` on every node under `root` (arrays and node fields; not ranges or parents), each once,
 * before its children: a visit may replace a child, and the walk then goes into the new one.
 */
export function walkAst(root: unknown, visit: (n: AstNode) => void): void {
  const seen = new Set<unknown>();
  const go = (n: unknown): void => {
    if (!n || typeof n !== "object" || seen.has(n)) return;
    seen.add(n);
    if (Array.isArray(n)) {
      for (const item of n) go(item);
      return;
    }
    const node = n as AstNode;
    if (typeof node.kind === "number") visit(node);
    for (const [key, value] of Object.entries(node)) if (key !== "range" && key !== "parent") go(value);
  };
  go(root);
}
