// Walking an Envoy bootstrap with Envoy's proto3 JSON rules: every field is checked against the list
// this reader supports, so anything else is refused with its path (never silently ignored).
import { UserError } from "../../errors.js";

/** A value at a path in the configuration, e.g. static_resources.listeners[0].name. */
export class Node {
  constructor(
    readonly path: string,
    readonly value: unknown,
  ) {}

  fail(problem: string): never {
    throw new UserError(`${this.path}: ${problem}`);
  }

  /** An object whose fields are all in `allowed` (anything else is refused). Returns its fields. */
  object(allowed: readonly string[]): Fields {
    const v = this.value;
    if (v === null || typeof v !== "object" || Array.isArray(v)) this.fail(`must be an object, not ${describe(v)}`);
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const hint = allowed.filter((a) => a !== "@type").join(", ");
        throw new UserError(
          `${this.path ? `${this.path}.` : ""}${k}: unknown field (proxy-wasm-as envoy supports ${hint || "no fields"} here; see docs/envoy.md)`,
        );
      }
    }
    return new Fields(this.path, o);
  }

  list(): Node[] {
    if (!Array.isArray(this.value)) this.fail(`must be a list, not ${describe(this.value)}`);
    return (this.value as unknown[]).map((x, i) => new Node(`${this.path}[${i}]`, x));
  }

  string(): string {
    if (typeof this.value !== "string") this.fail(`must be a string, not ${describe(this.value)}`);
    return this.value as string;
  }

  /** An integer: a number, or a string of digits (proto3 JSON writes 64-bit integers as strings). */
  int(min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value;
    const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) this.fail(`must be an integer, not ${describe(v)}`);
    if ((n as number) < min || (n as number) > max) this.fail(`must be between ${min} and ${max}, not ${n}`);
    return n as number;
  }

  bool(): boolean {
    if (typeof this.value !== "boolean") this.fail(`must be true or false, not ${describe(this.value)}`);
    return this.value as boolean;
  }

  /** One of the enum's names (proto3 JSON). */
  oneOf<T extends string>(names: readonly T[]): T {
    const s = this.string();
    if (!names.includes(s as T)) this.fail(`${JSON.stringify(s)} is not supported: use one of ${names.join(", ")}`);
    return s as T;
  }

  /** google.protobuf.Duration in JSON: "0.25s", "1s", "1.5s" (seconds with a trailing s). Milliseconds. */
  duration(): number {
    const s = typeof this.value === "string" ? this.value : "";
    const m = /^(\d+)(\.\d{1,9})?s$/.exec(s);
    if (!m) this.fail(`must be a duration like "0.25s" or "15s" (seconds ending in s), not ${describe(this.value)}`);
    return Math.round(Number(m![1] + (m![2] ?? "")) * 1000);
  }

  /** A typed_config / Any: checks its "@type" is `type` and returns the rest's fields. */
  typed(type: string, allowed: readonly string[]): Fields {
    const f = this.object(["@type", ...allowed]);
    const t = f.has("@type") ? f.get("@type").string() : "";
    if (t !== `type.googleapis.com/${type}`) {
      f.get("@type").fail(
        t
          ? `${JSON.stringify(t)} is not supported here: expected type.googleapis.com/${type}`
          : `missing: expected type.googleapis.com/${type}`,
      );
    }
    return f;
  }
}

/** The fields of one object. */
export class Fields {
  constructor(
    readonly path: string,
    private readonly o: Record<string, unknown>,
  ) {}

  has(k: string): boolean {
    return this.o[k] !== undefined && this.o[k] !== null;
  }

  get(k: string): Node {
    return new Node(this.path ? `${this.path}.${k}` : k, this.o[k]);
  }

  /** A field that must be there. */
  need(k: string): Node {
    if (!this.has(k)) throw new UserError(`${this.path ? `${this.path}.` : ""}${k}: missing (required)`);
    return this.get(k);
  }

  opt<T>(k: string, read: (n: Node) => T, fallback: T): T {
    return this.has(k) ? read(this.get(k)) : fallback;
  }

  fail(problem: string): never {
    throw new UserError(`${this.path}: ${problem}`);
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A socket_address Address: { socket_address: { address, port_value } }. */
export function readAddress(n: Node): { host: string; port: number } {
  const sa = n.object(["socket_address"]).need("socket_address").object(["address", "port_value", "protocol"]);
  if (sa.has("protocol")) sa.get("protocol").oneOf(["TCP"]);
  return { host: sa.need("address").string(), port: sa.need("port_value").int(0, 65535) };
}
