// A counting copy of a module, for the bench's deterministic cost measure: every function entry adds
// one to a "calls" counter, and every straight-line run of code adds its instruction count to an
// "instructions" counter on entry, so after N requests the counters say exactly how much guest code
// ran, whatever the machine's load. The module's own code is not changed otherwise.
//
// The module is printed by wabt in the flat text format (one instruction per line), the counters are
// added as text, and wabt assembles the result. A straight-line run ends after an instruction where
// control can leave or enter (if, else, end, loop, br, br_if, br_table, return, unreachable);
// structure markers (block, loop, else, end, nop) count as 0, like in a compiled or pre-decoded
// interpreter; every other instruction, the branch ones included, counts as 1.

export const INSTRUCTIONS_GLOBAL = "__bench_instructions";
export const CALLS_GLOBAL = "__bench_calls";
/** Calls of the exported allocator (malloc / proxy_on_memory_allocate), for modules without a known runtime. */
export const HOST_ALLOCS_GLOBAL = "__bench_host_allocations";

const ALLOCATOR_EXPORTS = new Set(["malloc", "proxy_on_memory_allocate"]);
const FREE = new Set(["block", "loop", "else", "end", "nop"]);
/** Control can enter or leave right after these. */
const BOUNDARY_AFTER = new Set([
  "if",
  "else",
  "end",
  "loop",
  "br",
  "br_if",
  "br_table",
  "return",
  "unreachable",
  "return_call",
  "return_call_indirect",
  "throw",
  "rethrow",
]);

// wabt: the npm package is an Emscripten build; loaded once.
type Wabt = {
  readWasm(b: Uint8Array, f: Record<string, boolean>): WabtModule;
  parseWat(name: string, text: string, f: Record<string, boolean>): WabtModule;
};
type WabtModule = {
  generateNames(): void;
  applyNames(): void;
  toText(o: Record<string, boolean>): string;
  toBinary(o: Record<string, boolean>): { buffer: Uint8Array };
  validate(): void;
  destroy(): void;
};
let wabt: Wabt | null = null;
const FEATURES = { mutable_globals: true, sat_float_to_int: true, sign_extension: true, bulk_memory: true, simd: true, multi_value: true };

async function loadWabt(): Promise<Wabt> {
  if (!wabt) wabt = (await (await import("wabt")).default()) as unknown as Wabt;
  return wabt;
}

/** The module in wabt's flat text format, every index replaced by a name. */
async function toFlatText(wasm: Uint8Array): Promise<string> {
  const w = await loadWabt();
  // A copy: wabt reads the whole underlying buffer of a view.
  const m = w.readWasm(new Uint8Array(wasm), { readDebugNames: true, ...FEATURES });
  try {
    m.generateNames();
    m.applyNames();
    return m.toText({ foldExprs: false, inlineExport: false });
  } finally {
    m.destroy();
  }
}

function add(global: string, n: number, indent: string): string[] {
  return [`${indent}global.get $${global}`, `${indent}i64.const ${n}`, `${indent}i64.add`, `${indent}global.set $${global}`];
}

function parenDepth(line: string): number {
  let d = 0;
  for (const c of line) {
    if (c === "(") d++;
    else if (c === ")") d--;
  }
  return d;
}

/** The opcode of an instruction line ("i32.add", "br_if"...). */
function opcodeOf(line: string): string {
  return line.trim().split(/[\s)]/, 1)[0];
}

/**
 * Prefixes of the per-function counters (instrumentCounting with `perFunction`) of instructions and of
 * calls; the function's name follows.
 */
export const FUNCTION_GLOBAL_PREFIX = "__bench_fn ";
export const FUNCTION_CALLS_PREFIX = "__bench_fn_calls ";

/**
 * Adds the counters to one function's lines (header first); `countAllocations` for an exported
 * allocator; `own`, a global that counts this function's instructions too.
 */
function instrumentFunction(lines: string[], countAllocations: boolean, own: string | null): string[] {
  const out: string[] = [];
  let i = 1;
  // A body-less function prints on one line: open it up.
  let header = lines[0];
  let closeEmpty = false;
  if (lines.length === 1) {
    header = header.replace(/\)$/, "");
    closeEmpty = true;
  }
  out.push(header);
  while (i < lines.length && /^\s*\(local /.test(lines[i])) out.push(lines[i++]);
  const indent = "    ";
  out.push(...add(CALLS_GLOBAL, 1, indent));
  if (own) out.push(...add(`${own}_calls`, 1, indent));
  if (countAllocations) out.push(...add(HOST_ALLOCS_GLOBAL, 1, indent));
  // Segments: the counter goes before the first line of each straight-line run.
  let pending: string[] = [];
  let cost = 0;
  const flush = () => {
    if (cost > 0) {
      const ind = /^\s*/.exec(pending[0])![0];
      out.push(...add(INSTRUCTIONS_GLOBAL, cost, ind));
      if (own) out.push(...add(own, cost, ind));
    }
    out.push(...pending);
    pending = [];
    cost = 0;
  };
  for (; i < lines.length; i++) {
    const line = lines[i];
    const op = opcodeOf(line);
    pending.push(line);
    if (!FREE.has(op)) cost++;
    if (BOUNDARY_AFTER.has(op)) flush();
  }
  flush();
  if (closeEmpty) out.push(")");
  return out;
}

/**
 * A copy of `wasm` that counts executed instructions and function entries (and calls of the exported
 * allocator) in exported mutable i64 globals named by INSTRUCTIONS_GLOBAL, CALLS_GLOBAL and
 * HOST_ALLOCS_GLOBAL. With `perFunction`, each function also counts its own instructions in a global
 * exported as FUNCTION_GLOBAL_PREFIX + its name (`npm run bench:profile`).
 */
export async function instrumentCounting(wasm: Uint8Array, perFunction = false): Promise<Uint8Array> {
  const text = await toFlatText(wasm);
  const lines = text.split("\n");
  // Functions the allocator exports name.
  const allocators = new Set<string>();
  for (const l of lines) {
    const m = /^ {2}\(export "([^"]+)" \(func (\$[^)\s]+)\)\)/.exec(l);
    if (m && ALLOCATOR_EXPORTS.has(m[1])) allocators.add(m[2]);
  }
  const out: string[] = [];
  const own: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line.startsWith("  (func ")) {
      out.push(line);
      continue;
    }
    const start = i;
    let depth = parenDepth(line);
    while (depth > 0 && i + 1 < lines.length) depth += parenDepth(lines[++i]);
    const name = /^ {2}\(func (\$\S+)/.exec(line)![1];
    let g: string | null = null;
    if (perFunction) {
      g = `__bench_fn_${own.length}`;
      own.push([g, name.slice(1)]);
    }
    out.push(...instrumentFunction(lines.slice(start, i + 1), allocators.has(name), g));
  }
  // The module's closing parenthesis is on its last non-empty line.
  let last = out.length - 1;
  while (last > 0 && out[last].trim() === "") last--;
  out[last] = out[last].replace(/\)\s*$/, "");
  for (const g of [INSTRUCTIONS_GLOBAL, CALLS_GLOBAL, HOST_ALLOCS_GLOBAL]) {
    out.push(`  (global $${g} (mut i64) (i64.const 0))`, `  (export "${g}" (global $${g}))`);
  }
  for (const [g, name] of own) {
    for (const [global, prefix] of [
      [g, FUNCTION_GLOBAL_PREFIX],
      [`${g}_calls`, FUNCTION_CALLS_PREFIX],
    ]) {
      out.push(`  (global $${global} (mut i64) (i64.const 0))`, `  (export ${JSON.stringify(prefix + name)} (global $${global}))`);
    }
  }
  out.push(")");
  const w = await loadWabt();
  const m = w.parseWat("instrumented.wat", out.join("\n"), FEATURES);
  try {
    m.validate();
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}
