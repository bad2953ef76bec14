// Foreign functions (exports.cc call_foreign_function): functions the embedder registered by name.
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

export function proxy_call_foreign_function(
  vm: HostCallState,
  nPtr: number,
  nSize: number,
  aPtr: number,
  aSize: number,
  rPtr: number,
  rSize: number,
): number {
  const name = vm.str(u(nPtr), u(nSize));
  if (name === undefined) return S.InvalidMemoryAccess;
  const args = vm.bytes(u(aPtr), u(aSize));
  if (args === undefined) return S.InvalidMemoryAccess;
  const fns = vm.host.foreignFunctions;
  const f = Object.hasOwn(fns, name) ? fns[name] : undefined;
  if (!f) return S.NotFound;
  const r = f(args);
  if (typeof r === "number") return r >>> 0;
  const out = Buffer.from(r.buffer, r.byteOffset, r.byteLength);
  rPtr = u(rPtr);
  rSize = u(rSize);
  if (rPtr === 0) return rSize === 0 || vm.setU32(rSize, out.length) ? S.Ok : S.InvalidMemoryAccess;
  return vm.copyOut(out, rPtr, rSize) ? S.Ok : S.InvalidMemoryAccess;
}
