// Builds the WAT text of small hand-written proxy-wasm modules for the host's own tests: the
// edge cases an SDK never produces (bad pointers, malformed maps, traps in any callback...).
// Not part of the public API. Imports come from the ABI table, so they always match it.
import { HOST_FUNCTIONS, WASI_FUNCTIONS, hostFunctionsFor, type AbiFunction, type AbiVersion } from "../abi.js";

export interface WatModuleOptions {
  version?: AbiVersion | "none";
  /** Extra raw import lines, e.g. '(import "env" "abort" (func (param i32 i32 i32 i32)))'. */
  extraImports?: string[];
  /** Import every ABI host function (default true). */
  importAll?: boolean;
  /** Import these host functions even if the version lacks them. */
  forceImports?: string[];
  /** Initial memory pages (default 2). */
  pages?: number;
  /** Leave out the malloc export (and proxy_on_memory_allocate). */
  noMalloc?: boolean;
  /** Export the allocator as proxy_on_memory_allocate instead of malloc. */
  allocatorName?: string;
  /** Body: WAT function definitions and exports. */
  body: string;
}

const sig = (f: AbiFunction): string =>
  `(param ${f.params.map((p) => p.type).join(" ")}) ${f.results.length ? `(result ${f.results.join(" ")})` : ""}`.replace("(param )", "");

/**
 * Memory layout: 256..511 out-parameters (RP, RS, R2, R3) and free scratch, 512..767 used by
 * $log_num, 1024.. data strings, 32768..65535 free scratch for tests, 65536.. the bump heap.
 */
export const RP = 256;
export const RS = 260;
export const R2 = 264;
export const R3 = 272;

export class WatBuilder {
  private data: Array<[number, Uint8Array]> = [];
  private next = 1024;

  /** `(i32.const ptr) (i32.const len)` for bytes placed in the data segment. */
  str(text: string | Uint8Array): string {
    const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
    const at = this.next;
    this.data.push([at, bytes]);
    this.next += bytes.length + 8 - (bytes.length % 8);
    return `(i32.const ${at}) (i32.const ${bytes.length})`;
  }

  /** Pointer only. */
  ptr(text: string | Uint8Array): number {
    const s = this.str(text);
    return Number(/i32\.const (\d+)/.exec(s)![1]);
  }

  /** Serialized pairs (the proxy-wasm map format) in the data segment. */
  pairs(pairs: Array<[string, string]>): string {
    const enc = new TextEncoder();
    const parts = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
    let size = 4 + parts.length * 8;
    for (const [k, v] of parts) size += k.length + v.length + 2;
    const b = new Uint8Array(size);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, parts.length, true);
    let p = 4;
    for (const [k, v] of parts) {
      dv.setUint32(p, k.length, true);
      dv.setUint32(p + 4, v.length, true);
      p += 8;
    }
    for (const [k, v] of parts) {
      b.set(k, p);
      p += k.length + 1;
      b.set(v, p);
      p += v.length + 1;
    }
    return this.str(b);
  }

  /** Logs a fixed message (level default INFO). */
  log(msg: string, level = 2): string {
    return `(drop (call $proxy_log (i32.const ${level}) ${this.str(msg)}))`;
  }

  /** Logs `prefix` followed by the decimal value of an i32 expression (read as unsigned). */
  logNum(prefix: string, expr: string): string {
    return `(call $log_num ${this.str(prefix)} ${expr})`;
  }

  /** Logs the bytes the host returned through (RP, RS). */
  logResult(): string {
    return `(drop (call $proxy_log (i32.const 2) (i32.load (i32.const ${RP})) (i32.load (i32.const ${RS}))))`;
  }

  build(o: WatModuleOptions): string {
    const version = o.version ?? "0.2.1";
    const lines: string[] = ["(module"];
    if (o.importAll !== false) {
      const fns = version === "none" ? hostFunctionsFor("0.2.1") : hostFunctionsFor(version);
      for (const f of fns) lines.push(`  (import "env" "${f.name}" (func $${f.name} ${sig(f)}))`);
      for (const f of WASI_FUNCTIONS) lines.push(`  (import "wasi_snapshot_preview1" "${f.name}" (func $${f.name} ${sig(f)}))`);
    }
    for (const name of o.forceImports ?? []) {
      const f = HOST_FUNCTIONS.find((x) => x.name === name)!;
      lines.push(`  (import "env" "${f.name}" (func $${f.name} ${sig(f)}))`);
    }
    for (const l of o.extraImports ?? []) lines.push("  " + l);
    lines.push(`  (memory (export "memory") ${o.pages ?? 2})`);
    lines.push(`  (global $heap (mut i32) (i32.const 65536))`);
    if (!o.noMalloc) {
      lines.push(`  (func $malloc (export "${o.allocatorName ?? "malloc"}") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.and (i32.add (i32.add (global.get $heap) (local.get $n)) (i32.const 7)) (i32.const -8)))
    (block $ok
      (br_if $ok (i32.le_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536))))
      (if (i32.eq (memory.grow (i32.add (i32.div_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536)) (i32.const 1))) (i32.const -1))
        (then (global.set $heap (local.get $p)) (return (i32.const 0)))))
    (local.get $p))`);
    }
    if (o.importAll !== false) {
      lines.push(`  (func $log_num (param $pp i32) (param $pl i32) (param $v i32)
    (local $i i32) (local $t i32) (local $len i32)
    (memory.copy (i32.const 512) (local.get $pp) (local.get $pl))
    (local.set $t (local.get $v))
    (loop $l
      (i32.store8 (i32.add (i32.const 700) (local.get $i)) (i32.add (i32.const 48) (i32.rem_u (local.get $t) (i32.const 10))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $l (i32.ne (local.get $t) (i32.const 0))))
    (local.set $len (local.get $pl))
    (loop $r
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (i32.store8 (i32.add (i32.const 512) (local.get $len)) (i32.load8_u (i32.add (i32.const 700) (local.get $i))))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (br_if $r (i32.gt_s (local.get $i) (i32.const 0))))
    (drop (call $proxy_log (i32.const 2) (i32.const 512) (local.get $len))))`);
    }
    if (version !== "none") {
      lines.push(`  (func (export "proxy_abi_version_${version.replace(/\./g, "_")}"))`);
    }
    lines.push(o.body);
    for (const [at, bytes] of this.data) {
      const esc = [...bytes].map((b) => "\\" + b.toString(16).padStart(2, "0")).join("");
      lines.push(`  (data (i32.const ${at}) "${esc}")`);
    }
    lines.push(")");
    return lines.join("\n");
  }
}

type Wabt = Awaited<ReturnType<typeof import("wabt")>>;
let wabt: Wabt | undefined;

/** Compiles WAT text with the `wabt` package (a dev dependency, loaded only here). */
export async function compileWat(text: string): Promise<Uint8Array> {
  if (!wabt) {
    const init = (await import("wabt")).default;
    wabt = await init();
  }
  const m = wabt.parseWat("module.wat", text, { multi_value: true, bulk_memory: true, sign_extension: true, mutable_globals: true });
  try {
    return m.toBinary({}).buffer;
  } finally {
    m.destroy();
  }
}

/** Builds and compiles a module in one step. */
export async function watModule(body: (w: WatBuilder) => string, options: Omit<WatModuleOptions, "body"> = {}): Promise<Uint8Array> {
  const w = new WatBuilder();
  return compileWat(w.build({ ...options, body: body(w) }));
}
