// Shared data (exports.cc get_shared_data / set_shared_data): key/value store shared by the VMs
// of one vm_id, with compare-and-swap tokens.
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

/** NOT_FOUND when the key is missing (a value the caller checks, not a trap). */
export function proxy_get_shared_data(vm: HostCallState, kPtr: number, kSize: number, rPtr: number, rSize: number, casPtr: number): number {
  const key = vm.str(u(kPtr), u(kSize));
  if (key === undefined) return S.InvalidMemoryAccess;
  const v = vm.host.shared.getData(vm.vmId, key);
  if (!v) return S.NotFound;
  if (!vm.inBounds(u(casPtr), 4)) return S.InvalidMemoryAccess;
  if (!vm.copyOut(v.value, u(rPtr), u(rSize))) return S.InvalidMemoryAccess;
  return vm.setU32(u(casPtr), v.cas) ? S.Ok : S.InvalidMemoryAccess;
}

/** CAS_MISMATCH when cas is not 0 and the value changed since it was read. */
export function proxy_set_shared_data(vm: HostCallState, kPtr: number, kSize: number, vPtr: number, vSize: number, cas: number): number {
  const key = vm.str(u(kPtr), u(kSize));
  const value = vm.bytes(u(vPtr), u(vSize));
  if (key === undefined || value === undefined) return S.InvalidMemoryAccess;
  return vm.host.shared.setData(vm.vmId, key, value, u(cas)) ? S.Ok : S.CasMismatch;
}
