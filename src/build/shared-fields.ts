// An asc transform, used by `proxy-wasm-as build` and the asconfig preset, that warns when the class
// given to setSharedHttpContext declares fields: one object of that class serves every HTTP stream,
// so a field written for one request is read by the next, or by another request in flight. The
// warning names the fields at the filter's own line; a field that is meant to be shared (settings read
// once) can move to the root context or a module-level variable to silence it. It also warns where a
// per-stream factory beside the shared context goes unused (setHttpContext, createHttpContext).
// It looks at the filter's own sources only, for `setSharedHttpContext(new X(...))` and for a
// variable made with `new X(...)` and passed to it, and follows X's base classes that the filter
// declares too.

import { type AstNode, type Source, walkAst } from "./ast-walk.js";

// The compiler's AST classes are loaded when a build runs (asc has loaded them by then).
type AscAst = typeof import("assemblyscript");

interface Parser {
  sources: Source[];
  warning(code: number, range: unknown, arg0?: string): void;
}

const SHARE = "setSharedHttpContext";

/** The name in a type reference (`X` of `new X()` or `extends X`), or null. */
function typeNameOf(t: unknown): string | null {
  const n = t as { identifier?: { text?: string }; name?: { identifier?: { text?: string } } } | null;
  return n?.identifier?.text ?? n?.name?.identifier?.text ?? null;
}

/** One finding: what the warning says, and where. */
export interface SharedFinding {
  message: string;
  range: unknown;
}

/**
 * The classes given to setSharedHttpContext (as `new X()` or a variable made so) that declare
 * instance fields, and the per-stream factories a shared context makes unused (setHttpContext, a
 * root's createHttpContext).
 */
export function sharedContextFindings(sources: Source[], ast: AscAst): SharedFinding[] {
  // NodeKind is a const enum in the compiler's types: read the kinds this check compares one by one.
  const K = {
    MethodDeclaration: ast.NodeKind.MethodDeclaration,
    Call: ast.NodeKind.Call,
    VariableDeclaration: ast.NodeKind.VariableDeclaration,
    New: ast.NodeKind.New,
    Identifier: ast.NodeKind.Identifier,
    ClassDeclaration: ast.NodeKind.ClassDeclaration,
    FieldDeclaration: ast.NodeKind.FieldDeclaration,
  };
  const STATIC = ast.CommonFlags.Static;
  const own = sources.filter((s) => !s.internalPath.startsWith("~lib/"));
  const classes = new Map<string, AstNode>();
  /** Variables initialized with `new X(...)`: name -> X (for `const f = new X(0); setSharedHttpContext(f)`). */
  const made = new Map<string, string>();
  const sharedArgs: AstNode[] = [];
  /** setHttpContext calls and createHttpContext methods: unused beside a shared context. */
  const unused: SharedFinding[] = [];
  for (const source of own) {
    walkAst(source.statements, (n) => {
      if (n.kind === K.ClassDeclaration) {
        const name = (n.name as { text?: string } | null)?.text;
        if (name) classes.set(name, n);
      } else if (n.kind === K.VariableDeclaration) {
        const init = n.initializer as AstNode | null;
        const name = (n.name as { text?: string } | null)?.text;
        const className = init?.kind === K.New ? typeNameOf(init.typeName) : null;
        if (name && className) made.set(name, className);
      } else if (n.kind === K.Call) {
        const callee = n.expression as AstNode;
        const args = (n.args as AstNode[]) ?? [];
        if (callee?.kind === K.Identifier && callee.text === SHARE && args[0]) sharedArgs.push(args[0]);
        if (callee?.kind === K.Identifier && callee.text === "setHttpContext") {
          unused.push({ message: `setHttpContext is not used: ${SHARE} serves every stream with one context`, range: n.range });
        }
      } else if (n.kind === K.MethodDeclaration && (n.name as { text?: string } | null)?.text === "createHttpContext") {
        unused.push({ message: `createHttpContext is not called: ${SHARE} serves every stream with one context`, range: n.range });
      }
    });
  }
  const shared: string[] = [];
  for (const arg of sharedArgs) {
    const name = arg.kind === K.New ? typeNameOf(arg.typeName) : arg.kind === K.Identifier ? (made.get(arg.text as string) ?? null) : null;
    if (name) shared.push(name);
  }
  if (sharedArgs.length === 0) return [];
  const out: SharedFinding[] = [...unused];
  for (const className of new Set(shared)) {
    const fields: string[] = [];
    let range: unknown = null;
    const visited = new Set<string>();
    for (let name: string | null = className; name && classes.has(name) && !visited.has(name); ) {
      visited.add(name);
      const decl: AstNode = classes.get(name)!;
      for (const m of (decl.members as AstNode[]) ?? []) {
        if (m.kind !== K.FieldDeclaration || ((m.flags as number) & STATIC) !== 0) continue;
        fields.push((m.name as { text: string }).text);
        range ??= m.range;
      }
      name = typeNameOf(decl.extendsType);
    }
    if (fields.length > 0) {
      out.push({
        message: `${className} is given to ${SHARE}, so every stream shares its fields (${fields.join(", ")}): keep per-request state in a context per stream (setHttpContext), and shared settings in the root context or a module variable`,
        range,
      });
    }
  }
  return out;
}

export default class SharedFieldsCheck {
  /** The findings of the last compilation (for tests). */
  static lastFound: SharedFinding[] = [];

  async afterParse(parser: Parser): Promise<void> {
    const ast: AscAst = await import("assemblyscript");
    SharedFieldsCheck.lastFound = sharedContextFindings(parser.sources, ast);
    for (const f of SharedFieldsCheck.lastFound) parser.warning(ast.DiagnosticCode.User_defined_0, f.range, f.message);
  }
}
