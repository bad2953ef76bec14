// Properties (exports.cc get_property / set_property).
import { Status as S } from "../../abi.js";
import { canonicalPath, propertyBytes, type PropertyValue } from "../properties.js";
import { u, type HostCallState } from "./state.js";

/** A property as the current context sees it: the stream's own first, then the host's. */
export function propertyFor(vm: HostCallState, key: string): PropertyValue | undefined {
  const c = vm.ctx();
  if (c.kind === "stream") {
    const v = c.handler.property(key);
    if (v !== undefined) return v;
    return vm.host.hostProperty(key, c.root.plugin, true);
  }
  return vm.host.hostProperty(key, c.kind === "root" ? c.plugin : null, false);
}

export function proxy_get_property(vm: HostCallState, pPtr: number, pSize: number, rPtr: number, rSize: number): number {
  const raw = vm.str(u(pPtr), u(pSize));
  if (raw === undefined) return S.InvalidMemoryAccess;
  const v = propertyFor(vm, canonicalPath(raw));
  if (v === undefined) return S.NotFound;
  return vm.copyOut(propertyBytes(v), u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_set_property(vm: HostCallState, pPtr: number, pSize: number, vPtr: number, vSize: number): number {
  const raw = vm.str(u(pPtr), u(pSize));
  const value = vm.bytes(u(vPtr), u(vSize));
  if (raw === undefined || value === undefined) return S.InvalidMemoryAccess;
  const c = vm.ctx();
  // Envoy stores it as filter state of the stream; a root context has no stream (NOT_FOUND).
  if (c.kind !== "stream") return S.NotFound;
  return c.handler.guestSetProperty(canonicalPath(raw), value);
}
