// The SDK's one failure convention (docs/sdk.md, "When the host says no"): a wrapper never traps on
// a host status. A value that can be missing comes back as null, an id or token as 0 (Envoy never
// hands out 0), a size as 0, and every other outcome as the Status itself. The status behind the
// last null or 0 is kept for lastStatus().

import { Status } from "./types";

let last: Status = Status.Ok;

/** Why the last host call that came back with null or 0 failed (NotFound, Empty, BadArgument...). */
export function lastStatus(): Status {
  return last;
}

/** Whether a host status is a failure; remembers it for lastStatus(). */
// @ts-ignore: decorator
@inline export function failed(status: u32): bool {
  if (status != 0) {
    last = <Status>status;
    return true;
  }
  return false;
}

/** Address of optional bytes for the host (0 for null). */
// @ts-ignore: decorator
@inline export function ptrOf(b: ArrayBuffer | null): usize {
  return changetype<usize>(b);
}

/** Length of optional bytes for the host (0 for null). */
// @ts-ignore: decorator
@inline export function lenOf(b: ArrayBuffer | null): usize {
  return b === null ? 0 : <usize>b.byteLength;
}
