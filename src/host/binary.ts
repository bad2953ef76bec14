// Just enough of the Wasm binary format to cap a module's memory: the host rewrites the limits of
// the module's own memory so that memory.grow past the ceiling fails inside the guest (returns -1)
// instead of taking the Node process's memory.

function readLeb(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated LEB128");
    const b = buf[pos++];
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [result, pos];
    if (shift > 63) throw new Error("LEB128 too long");
  }
}

/** Unsigned LEB128 encoding of n. */
export function writeLeb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export interface MemoryInfo {
  initialPages: number;
  maximumPages: number | undefined;
}

/**
 * Returns the module bytes with the memory's maximum set to at most `limitPages`, and the
 * original limits. Throws (one line) when the initial size is already over the ceiling.
 */
export function capMemory(bytes: Uint8Array, limitPages: number): { bytes: Uint8Array; memory: MemoryInfo | null } {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error("not a WebAssembly binary (bad magic number)");
  }
  let pos = 8;
  while (pos < bytes.length) {
    const id = bytes[pos];
    const [size, start] = readLeb(bytes, pos + 1);
    const end = start + size;
    if (end > bytes.length) throw new Error("truncated section");
    if (id === 5) {
      let p = start;
      const [count, p1] = readLeb(bytes, p);
      p = p1;
      if (count === 0) return { bytes, memory: null };
      const flags = bytes[p++];
      if (flags > 1) throw new Error(`memory limits flags 0x${flags.toString(16)} (shared or 64-bit memory) are not supported`);
      const [min, p2] = readLeb(bytes, p);
      p = p2;
      let max: number | undefined;
      if (flags === 1) {
        const [m, p3] = readLeb(bytes, p);
        max = m;
        p = p3;
      }
      if (min > limitPages) {
        throw new Error(`the module's initial memory is ${min} pages, over memoryLimitPages ${limitPages}`);
      }
      const newMax = max === undefined ? limitPages : Math.min(max, limitPages);
      const first = [0x01, ...writeLeb(min), ...writeLeb(newMax)];
      const content = new Uint8Array([...writeLeb(count), ...first, ...bytes.subarray(p, end)]);
      const header = [5, ...writeLeb(content.length)];
      const out = new Uint8Array(pos + header.length + content.length + (bytes.length - end));
      out.set(bytes.subarray(0, pos), 0);
      out.set(header, pos);
      out.set(content, pos + header.length);
      out.set(bytes.subarray(end), pos + header.length + content.length);
      return { bytes: out, memory: { initialPages: min, maximumPages: max } };
    }
    pos = end;
  }
  return { bytes, memory: null };
}
