// What a failed assertion, a bounds check or an explicit abort() does in a filter: log
// "<message> at <file>:<line>:<column>" at CRITICAL through proxy_log, then trap. Envoy then fails the
// VM (fail-closed 503, fail-open bypass, or a reload, per the plugin's failure policy).
// `proxy-wasm-as build` and the asconfig preset route AssemblyScript's `abort` here
// (--use abort=~lib/proxy-wasm-as/assembly/abort/abortHandler), so modules never import env.abort.
// It allocates nothing: the runtime may be in any state when it runs.

import { proxy_log } from "./imports";
import { LogLevel } from "./types";
import { encodeUtf16Units } from "./utf8";

const ABORT_BUFFER_SIZE: usize = 512;
const abortBuffer: usize = memory.data(<i32>ABORT_BUFFER_SIZE);

function putString(s: string, at: usize, end: usize): usize {
  // Leave room for 3 bytes per UTF-16 unit; truncate long text.
  let units = s.length;
  const room = <i32>((end - at) / 3);
  if (units > room) units = room;
  return at + encodeUtf16Units(changetype<usize>(s), <usize>units, at);
}

/** Writes `v` in decimal ASCII at `at`; returns the end (also used by json-messages.ts). */
export function putDecimal(v: u32, at: usize): usize {
  // Digits from the right at at+10 (u32 has at most 10), then moved into place.
  const end = at + 10;
  let p = end;
  do {
    store<u8>(--p, <u8>(0x30 + (v % 10)));
    v /= 10;
  } while (v != 0);
  const n = end - p;
  memory.copy(at, p, n);
  return at + n;
}

export function abortHandler(message: string | null = null, fileName: string | null = null, line: u32 = 0, column: u32 = 0): void {
  const end = abortBuffer + ABORT_BUFFER_SIZE - 32; // room for " at ", ":line:col"
  let p = abortBuffer;
  // Fixed ASCII is stored as bytes: string literals would cost a data segment each.
  if (changetype<usize>(message) != 0) p = putString(changetype<string>(message), p, end - 160);
  else {
    store<u32>(p, 0x726f6261); // "abor"
    store<u8>(p, 0x74, 4); // "t"
    p += 5;
  }
  // An explicit abort("...") in a filter has no location; the runtime's checks always do.
  if (changetype<usize>(fileName) != 0) {
    store<u32>(p, 0x20746120); // " at "
    p += 4;
    p = putString(changetype<string>(fileName), p, end);
    store<u8>(p++, 0x3a);
    p = putDecimal(line, p);
    store<u8>(p++, 0x3a);
    p = putDecimal(column, p);
  }
  proxy_log(LogLevel.Critical, abortBuffer, p - abortBuffer);
  unreachable();
}
