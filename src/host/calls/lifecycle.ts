// Context lifecycle (exports.cc set_effective_context / done).
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

export function proxy_set_effective_context(vm: HostCallState, id: number): number {
  const c = vm.contexts.get(u(id));
  if (!c) return S.BadArgument;
  vm.setEffective(c);
  return S.Ok;
}

/** Finishes a root whose proxy_on_done returned false; NOT_FOUND when none is pending. */
export function proxy_done(vm: HostCallState): number {
  const root = vm.rootOf(vm.ctx());
  if (!root || !root.pendingDone) return S.NotFound;
  root.pendingDone = false;
  vm.defer(() => vm.deleteRoot(root));
  return S.Ok;
}
