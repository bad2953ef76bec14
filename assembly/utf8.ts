// UTF-8 conversion between AssemblyScript strings (UTF-16) and the bytes the host speaks. Pure
// functions over memory: nothing here calls the host or keeps state.

import { noteCopied } from "./gc";

/** Number of UTF-16 units of `s` (String#length without the call: the size in its object header). */
// @ts-ignore: decorator
@inline export function unitsOf(s: string): usize {
  return <usize>(load<u32>(changetype<usize>(s) - 4) >> 1);
}

/** Upper bound of the UTF-8 size of a string (3 bytes per UTF-16 unit). */
// @ts-ignore: decorator
@inline export function utf8Bound(s: string): usize {
  return unitsOf(s) * 3;
}

/**
 * Writes `s` as UTF-8 at `dst` (room for utf8Bound(s) bytes) and returns the byte count. Unpaired
 * surrogates become U+FFFD, so the output is always valid UTF-8. (For data handed to the host,
 * memory.ts's encodeForHost and headers.ts's putUtf8z reuse the bytes of literals instead.)
 */
export function encodeUtf8Into(s: string, dst: usize): usize {
  return encodeUtf16Units(changetype<usize>(s), unitsOf(s), dst);
}

/** Writes `units` UTF-16 code units from `src` as UTF-8 at `dst`; returns the byte count. */
export function encodeUtf16Units(src: usize, units: usize, dst: usize): usize {
  let p = src;
  const end = p + (units << 1);
  let o = dst;
  while (p < end) {
    if (p + 8 <= end) {
      // Four ASCII units at once (the common case): q holds u0..u3 in its 16-bit lanes; with
      // q | q >> 8, the low half's bytes 0-1 and the high half's bytes 0-1 are u0 u1 and u2 u3.
      const q = load<u64>(p);
      if (((<u32>q | <u32>(q >> 32)) & 0xff80ff80) == 0) {
        const t = q | (q >> 8);
        store<u32>(o, (<u32>t & 0xffff) | (<u32>(t >> 16) & 0xffff0000));
        p += 8;
        o += 4;
        continue;
      }
    }
    let c = <u32>load<u16>(p);
    p += 2;
    if (c < 0x80) {
      store<u8>(o++, <u8>c);
      continue;
    }
    if ((c & 0xf800) == 0xd800) {
      // A high surrogate followed by a low one is one code point; any other surrogate is U+FFFD.
      const c2 = p < end ? <u32>load<u16>(p) : 0;
      if (c < 0xdc00 && (c2 & 0xfc00) == 0xdc00) {
        c = 0x10000 + ((c & 0x3ff) << 10) + (c2 & 0x3ff);
        p += 2;
      } else {
        c = 0xfffd;
      }
    }
    // n continuation bytes (0 for ASCII); the lead byte is c itself, 110xxxxx, 1110xxxx or 11110xxx.
    let n: u32 = u32(c >= 0x80) + u32(c >= 0x800) + u32(c >= 0x10000);
    store<u8>(o++, <u8>((<u32>0xf0e0c000 >> (n << 3)) | (c >> (6 * n))));
    while (n != 0) {
      n--;
      store<u8>(o++, <u8>(0x80 | ((c >> (6 * n)) & 0x3f)));
    }
  }
  return o - dst;
}

/**
 * Decodes `len` UTF-8 bytes at `ptr` into a string (SDK-internal: filters use bytesToString).
 * Invalid sequences (bad lead or continuation bytes, overlong forms, surrogates, code points above
 * U+10FFFF, truncation) become U+FFFD, one per maximal invalid subpart, as the WHATWG Encoding
 * standard and JavaScript's TextDecoder do.
 */
export function decodeUtf8(ptr: usize, len: usize): string {
  noteCopied(len << 1);
  // At most one UTF-16 unit per input byte; the string is trimmed to its size at the end.
  const out = __new(len << 1, idof<String>());
  let o = out;
  const end = ptr + len;
  let p = ptr;
  while (p < end) {
    let cp = <u32>load<u8>(p++);
    if (cp < 0x80) {
      store<u16>(o, <u16>cp); // ASCII: the common case, first
      o += 2;
      continue;
    }
    const b0 = cp;
    cp = 0xfffd;
    if (b0 - 0xc2 <= 0xf4 - 0xc2) {
      // n continuation bytes, and the valid range of the second byte (excludes overlongs,
      // surrogates and code points above U+10FFFF).
      let n: u32 = 1 + u32(b0 >= 0xe0) + u32(b0 >= 0xf0);
      let lo: u32 = b0 == 0xe0 ? 0xa0 : b0 == 0xf0 ? 0x90 : 0x80;
      let hi: u32 = b0 == 0xed ? 0x9f : b0 == 0xf4 ? 0x8f : 0xbf;
      let v = b0 & (0x7f >> n);
      while (n != 0 && p < end) {
        const b = <u32>load<u8>(p);
        if (b - lo > hi - lo) break;
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (b & 0x3f);
        p++;
        n--;
      }
      // A complete sequence gives its code point; a broken one (its maximal valid prefix) one U+FFFD.
      if (n == 0) cp = v;
    }
    if (cp >= 0x10000) {
      // A surrogate pair: the high half here, the low half below.
      cp -= 0x10000;
      store<u16>(o, <u16>(0xd800 | (cp >> 10)));
      o += 2;
      cp = 0xdc00 | (cp & 0x3ff);
    }
    store<u16>(o, <u16>cp);
    o += 2;
  }
  // ASCII (and any text of one unit per byte) fills the string exactly; otherwise it is trimmed.
  const size = o - out;
  return changetype<string>(size == len << 1 ? out : __renew(out, size));
}

/**
 * Decodes bytes as UTF-8. Invalid sequences become U+FFFD, as TextDecoder does: use the bytes
 * accessors when the exact bytes matter, since this conversion is lossy for invalid input.
 */
export function bytesToString(bytes: ArrayBuffer): string {
  return decodeUtf8(changetype<usize>(bytes), <usize>bytes.byteLength);
}
