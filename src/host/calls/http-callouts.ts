// HTTP callouts (exports.cc http_call). The callout belongs to the root context; the host answers
// it through proxy_on_http_call_response.
import { Status as S } from "../../abi.js";
import { decodePairs } from "../pairs.js";
import { mapFromPairs, rejectPairs, u, unknownUpstream, type HostCallState } from "./state.js";

export function proxy_http_call(
  vm: HostCallState,
  uPtr: number,
  uSize: number,
  hPtr: number,
  hSize: number,
  bPtr: number,
  bSize: number,
  tPtr: number,
  tSize: number,
  timeout: number,
  rPtr: number,
): number {
  const upstream = vm.str(u(uPtr), u(uSize));
  const body = vm.bytes(u(bPtr), u(bSize));
  hPtr = u(hPtr);
  hSize = u(hSize);
  tPtr = u(tPtr);
  tSize = u(tSize);
  if (upstream === undefined || body === undefined || !vm.inBounds(hPtr, hSize) || !vm.inBounds(tPtr, tSize)) {
    return S.InvalidMemoryAccess;
  }
  const hp = decodePairs(vm.mem(), hPtr, hSize);
  if (typeof hp === "string") return rejectPairs(vm, "proxy_http_call (headers)", hp);
  const tp = decodePairs(vm.mem(), tPtr, tSize);
  if (typeof tp === "string") return rejectPairs(vm, "proxy_http_call (trailers)", tp);
  if (!vm.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
  const root = vm.rootOf(vm.ctx());
  if (!root) return S.BadArgument;
  if ((timeout | 0) < 0) return S.BadArgument;
  if (unknownUpstream(vm, upstream)) return S.BadArgument;
  const headers = mapFromPairs(hp);
  const trailers = mapFromPairs(tp);
  if (headers.get(":path") === undefined || headers.get(":method") === undefined || headers.get(":authority") === undefined) {
    return S.BadArgument;
  }
  const token = (vm.calloutIds.http += 4);
  vm.dispatchHttpCall(root, { token, upstream, headers, body, trailers, timeoutMs: u(timeout) }, vm.ctx().id);
  vm.setU32(u(rPtr), token);
  return S.Ok;
}
