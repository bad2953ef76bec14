// Shared queues (exports.cc register/resolve/enqueue/dequeue_shared_queue).
import { Status as S } from "../../abi.js";
import { u, type HostCallState } from "./state.js";

/** The registering root context gets proxy_on_queue_ready; a VM context cannot register (BAD_ARGUMENT). */
export function proxy_register_shared_queue(vm: HostCallState, nPtr: number, nSize: number, rPtr: number): number {
  const name = vm.str(u(nPtr), u(nSize));
  if (name === undefined) return S.InvalidMemoryAccess;
  if (!vm.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
  const root = vm.rootOf(vm.ctx());
  if (!root) return S.BadArgument;
  const token = vm.host.shared.registerQueue(vm.vmId, name, vm, root.id);
  return vm.setU32(u(rPtr), token) ? S.Ok : S.InvalidMemoryAccess;
}

/** An empty vm_id means this VM's own; NOT_FOUND when no such queue is registered. */
export function proxy_resolve_shared_queue(
  vm: HostCallState,
  vPtr: number,
  vSize: number,
  nPtr: number,
  nSize: number,
  rPtr: number,
): number {
  const vmId = vm.str(u(vPtr), u(vSize));
  const name = vm.str(u(nPtr), u(nSize));
  if (vmId === undefined || name === undefined) return S.InvalidMemoryAccess;
  const token = vm.host.shared.resolveQueue(vmId === "" ? vm.vmId : vmId, name);
  if (token === 0) return S.NotFound;
  return vm.setU32(u(rPtr), token) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_enqueue_shared_queue(vm: HostCallState, token: number, vPtr: number, vSize: number): number {
  const value = vm.bytes(u(vPtr), u(vSize));
  if (value === undefined) return S.InvalidMemoryAccess;
  return vm.host.shared.enqueue(u(token), value) ? S.Ok : S.NotFound;
}

/** EMPTY when the queue has no message (a value the caller checks). */
export function proxy_dequeue_shared_queue(vm: HostCallState, token: number, rPtr: number, rSize: number): number {
  const q = vm.host.shared.queue(u(token));
  if (!q) return S.NotFound;
  if (q.messages.length === 0) return S.Empty;
  if (!vm.inBounds(u(rPtr), 4) || !vm.inBounds(u(rSize), 4)) return S.InvalidMemoryAccess;
  const msg = q.messages.shift()!;
  return vm.copyOut(msg, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
}
