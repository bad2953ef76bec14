// Header lists as the Envoy proxy passes them around: [name, value] pairs of latin1 strings (one
// character per byte, as Node reads and writes them), converted to bytes for the host.
import type { HeaderToAdd } from "../config/types.js";
import { compileFormat, renderHeader, type FormatContext } from "../format.js";

export type Pair = [string, string];

export function toHost(pairs: readonly Pair[]): Array<[Buffer, Buffer]> {
  return pairs.map(([k, v]) => [Buffer.from(k, "latin1"), Buffer.from(v, "latin1")]);
}

export function fromHost(pairs: ReadonlyArray<readonly [Buffer, Buffer]>): Pair[] {
  return pairs.map(([k, v]) => [k.toString("latin1"), v.toString("latin1")]);
}

/** The first value of `name` (lower case), or undefined. */
export function get(pairs: readonly Pair[], name: string): string | undefined {
  for (const [k, v] of pairs) if (k === name) return v;
  return undefined;
}

/** All values of `name` joined with "," (how Envoy's %REQ()% reads a repeated header). */
export function getJoined(pairs: readonly Pair[], name: string): string | undefined {
  let out: string | undefined;
  for (const [k, v] of pairs) if (k === name) out = out === undefined ? v : `${out},${v}`;
  return out;
}

export function remove(pairs: Pair[], name: string): Pair[] {
  return pairs.filter(([k]) => k !== name);
}

export function set(pairs: Pair[], name: string, value: string): Pair[] {
  const out = remove(pairs, name);
  out.push([name, value]);
  return out;
}

/** Compiled request/response_headers_to_add of a route, virtual host or route configuration. */
export class HeaderEdits {
  private readonly adds: Array<{ h: HeaderToAdd; pieces: ReturnType<typeof compileFormat> }>;

  constructor(
    adds: readonly HeaderToAdd[],
    private readonly removes: readonly string[],
  ) {
    this.adds = adds.map((h) => ({ h, pieces: compileFormat(h.value, h.key) }));
  }

  get empty(): boolean {
    return this.adds.length === 0 && this.removes.length === 0;
  }

  /** Applies the removals then the additions (Envoy's order), values formatted against `c`. */
  apply(pairs: Pair[], c: FormatContext): Pair[] {
    let out = pairs;
    for (const r of this.removes) out = remove(out, r);
    for (const { h, pieces } of this.adds) {
      const value = renderHeader(pieces, c);
      if (value === "" && !h.keepEmpty) continue;
      const present = out.some(([k]) => k === h.key);
      switch (h.append) {
        case "APPEND_IF_EXISTS_OR_ADD":
          out = [...out, [h.key, value]];
          break;
        case "ADD_IF_ABSENT":
          if (!present) out = [...out, [h.key, value]];
          break;
        case "OVERWRITE_IF_EXISTS_OR_ADD":
          out = set(out, h.key, value);
          break;
        case "OVERWRITE_IF_EXISTS":
          if (present) out = set(out, h.key, value);
          break;
      }
    }
    return out;
  }
}
