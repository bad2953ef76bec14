// An HTTP field map (headers, trailers, gRPC metadata) as Envoy keeps it: an ordered list of
// entries with lower-case names, several entries per name allowed, pseudo-headers (":x") first.
// Names and values are byte strings (see bytes.ts).
import { byteStringToBuffer, byteStringToText, lowerAscii, toByteString, type Bytesish } from "./bytes.js";
import { pairsSize, writePairs } from "./pairs.js";

export type PairsInput = ReadonlyArray<readonly [Bytesish, Bytesish]> | Record<string, string>;

export class HeaderMap {
  keys: string[] = [];
  values: string[] = [];

  static from(input: PairsInput | undefined): HeaderMap {
    const m = new HeaderMap();
    if (!input) return m;
    const list: ReadonlyArray<readonly [Bytesish, Bytesish]> = Array.isArray(input)
      ? (input as ReadonlyArray<readonly [Bytesish, Bytesish]>)
      : Object.entries(input as Record<string, string>);
    for (const pair of list) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError("header pairs must be [name, value] arrays");
      }
      m.add(lowerAscii(toByteString(pair[0])), toByteString(pair[1]));
    }
    return m;
  }

  get size(): number {
    return this.keys.length;
  }

  /** Sum of name and value lengths (Envoy's HeaderMap::byteSize, what proxy_get_header_map_size returns). */
  byteSize(): number {
    let n = 0;
    for (let i = 0; i < this.keys.length; i++) n += this.keys[i].length + this.values[i].length;
    return n;
  }

  serializedSize(): number {
    return pairsSize(this.keys, this.values);
  }

  writeTo(buf: Buffer, off: number): void {
    writePairs(buf, off, this.keys, this.values);
  }

  /** First value of a lower-case name. */
  get(key: string): string | undefined {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return this.values[i];
    return undefined;
  }

  getAll(key: string): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.keys.length; i++) if (this.keys[i] === key) out.push(this.values[i]);
    return out;
  }

  /** Adds an entry; pseudo-headers go after the existing pseudo-headers, others at the end. */
  add(key: string, value: string): void {
    if (key.charCodeAt(0) === 58 /* ':' */) {
      let i = 0;
      while (i < this.keys.length && this.keys[i].charCodeAt(0) === 58) i++;
      if (i < this.keys.length) {
        this.keys.splice(i, 0, key);
        this.values.splice(i, 0, value);
        return;
      }
    }
    this.keys.push(key);
    this.values.push(value);
  }

  remove(key: string): void {
    let w = 0;
    const keys = this.keys;
    const values = this.values;
    for (let r = 0; r < keys.length; r++) {
      if (keys[r] !== key) {
        keys[w] = keys[r];
        values[w] = values[r];
        w++;
      }
    }
    keys.length = w;
    values.length = w;
  }

  /**
   * Envoy's setCopy with http_set_copy_replace_all_headers (the default since Envoy 1.22): every
   * entry of the name is removed and one entry is added.
   */
  replace(key: string, value: string): void {
    this.remove(key);
    this.add(key, value);
  }

  setAll(keys: string[], values: string[]): void {
    this.keys = [];
    this.values = [];
    for (let i = 0; i < keys.length; i++) this.add(lowerAscii(keys[i]), values[i]);
  }

  clone(): HeaderMap {
    const m = new HeaderMap();
    m.keys = this.keys.slice();
    m.values = this.values.slice();
    return m;
  }

  /** Entries decoded as UTF-8 text. */
  toPairs(): Array<[string, string]> {
    const out: Array<[string, string]> = new Array(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) out[i] = [byteStringToText(this.keys[i]), byteStringToText(this.values[i])];
    return out;
  }

  toBytePairs(): Array<[Buffer, Buffer]> {
    const out: Array<[Buffer, Buffer]> = new Array(this.keys.length);
    for (let i = 0; i < this.keys.length; i++) out[i] = [byteStringToBuffer(this.keys[i]), byteStringToBuffer(this.values[i])];
    return out;
  }
}
