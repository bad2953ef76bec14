// Stream control and local replies (exports.cc continue_stream / close_stream / send_local_response
// / get_status).
import { Status as S } from "../../abi.js";
import { decodePairs } from "../pairs.js";
import { SentHttpResponse } from "../types.js";
import { mapFromPairs, rejectPairs, u, type HostCallState } from "./state.js";

/** Resumes a paused stream; on a root context nothing happens (Envoy: no callbacks there). */
export function proxy_continue_stream(vm: HostCallState, type: number): number {
  type = u(type);
  if (type > 3) return S.BadArgument;
  const c = vm.ctx();
  if (c.kind !== "stream") return S.Ok;
  return c.handler.continueStream(type);
}

/** Resets a stream; on a root context nothing happens. */
export function proxy_close_stream(vm: HostCallState, type: number): number {
  type = u(type);
  if (type > 3) return S.BadArgument;
  const c = vm.ctx();
  if (c.kind !== "stream") return S.Ok;
  return c.handler.closeStream(type);
}

export function proxy_send_local_response(
  vm: HostCallState,
  code: number,
  dPtr: number,
  dSize: number,
  bPtr: number,
  bSize: number,
  hPtr: number,
  hSize: number,
  grpc: number,
): number {
  const details = vm.str(u(dPtr), u(dSize));
  const body = vm.bytes(u(bPtr), u(bSize));
  hPtr = u(hPtr);
  hSize = u(hSize);
  if (details === undefined || body === undefined || !vm.inBounds(hPtr, hSize)) return S.InvalidMemoryAccess;
  const parsed = decodePairs(vm.mem(), hPtr, hSize);
  if (typeof parsed === "string") return rejectPairs(vm, "proxy_send_local_response", parsed);
  const headers = mapFromPairs(parsed);
  const c = vm.ctx();
  if (c.kind === "stream") {
    // Envoy replaces whitespace in details with "_" (StringUtil::replaceAllEmptySpace).
    const text = details === "" ? "" : Buffer.from(details, "latin1").toString("utf8").replace(/\s/g, "_");
    c.handler.sendHttpResponse(new SentHttpResponse(u(code), headers, body, text, grpc | 0));
  }
  vm.stopNext = true;
  return S.Ok;
}

/** Code and message of the last callout result on the current root (0 and "" before any). */
export function proxy_get_status(vm: HostCallState, codePtr: number, mPtr: number, mSize: number): number {
  const root = vm.rootOf(vm.ctx());
  const st = root?.status ?? { code: 0, message: "" };
  if (!vm.setU32(u(codePtr), st.code)) return S.InvalidMemoryAccess;
  return vm.copyOut(Buffer.from(st.message, "utf8"), u(mPtr), u(mSize)) ? S.Ok : S.InvalidMemoryAccess;
}
