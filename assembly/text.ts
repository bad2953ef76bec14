// Small text helpers for header names and tokens. They touch ASCII only: String#toLowerCase pulls in
// AssemblyScript's Unicode case tables (about 8 KB), which HTTP names never need.

/** `s` with A-Z turned into a-z; every other character unchanged. Returns `s` itself when unchanged. */
export function lowerAscii(s: string): string {
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) break;
    i++;
  }
  if (i == n) return s;
  const out = changetype<string>(__new((<usize>n) << 1, idof<String>()));
  memory.copy(changetype<usize>(out), changetype<usize>(s), (<usize>n) << 1);
  for (; i < n; i++) {
    const p = changetype<usize>(out) + ((<usize>i) << 1);
    const c = load<u16>(p);
    if (c >= 65 && c <= 90) store<u16>(p, c | 0x20);
  }
  return out;
}

/** Whether `a` and `b` are equal when A-Z and a-z are taken as the same (HTTP header names). */
export function equalsIgnoreAsciiCase(a: string, b: string): bool {
  const n = a.length;
  if (n != b.length) return false;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x |= 0x20;
    if (y >= 65 && y <= 90) y |= 0x20;
    if (x != y) return false;
  }
  return true;
}
