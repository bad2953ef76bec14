// Header maps (exports.cc get/set_header_map_pairs, get_header_map_size, get/add/replace/remove_header_map_value).
import { MapType, Status as S } from "../../abi.js";
import { lowerAscii } from "../bytes.js";
import { HeaderMap } from "../headers.js";
import { decodePairs } from "../pairs.js";
import { MAX_HEADER_MAP_BYTES, rejectPairs, u, type HostCallState } from "./state.js";

const EMPTY_MAP = new HeaderMap();

/** The map of a type as the current context sees it: null when it has none now, "bad" for an unknown type. */
export function mapFor(vm: HostCallState, type: number, write: boolean): HeaderMap | null | "bad" {
  if (type > MapType.HttpCallResponseTrailers) return "bad";
  const c = vm.ctx();
  if (type <= MapType.HttpResponseTrailers) {
    return c.kind === "stream" ? c.handler.map(type, write) : null;
  }
  // gRPC and HTTP-call maps live on the root context and are read-only (Envoy getMap() has
  // no mutable form of them).
  if (write) return null;
  const root = vm.rootOf(c);
  if (!root) return null;
  switch (type) {
    case MapType.GrpcReceiveInitialMetadata:
      return root.grpcInitialMetadata;
    case MapType.GrpcReceiveTrailingMetadata:
      return root.grpcTrailingMetadata;
    case MapType.HttpCallResponseHeaders:
      return root.httpCallResponse?.headers ?? null;
    default:
      return root.httpCallResponse?.trailers ?? null;
  }
}

export function proxy_get_header_map_pairs(vm: HostCallState, type: number, rPtr: number, rSize: number): number {
  const m = mapFor(vm, u(type), false);
  if (m === "bad") return S.BadArgument;
  // A map that is not available reads as empty (Envoy headerMapToPairs(nullptr)).
  return vm.copyMapOut(m ?? EMPTY_MAP, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_set_header_map_pairs(vm: HostCallState, type: number, ptr: number, size: number): number {
  type = u(type);
  if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
  ptr = u(ptr);
  size = u(size);
  if (!vm.inBounds(ptr, size)) return S.InvalidMemoryAccess;
  const parsed = decodePairs(vm.mem(), ptr, size);
  if (typeof parsed === "string") return rejectPairs(vm, "proxy_set_header_map_pairs", parsed);
  const m = mapFor(vm, type, true);
  if (m === null || m === "bad") return S.BadArgument;
  if (size > MAX_HEADER_MAP_BYTES) return S.BadArgument;
  m.setAll(parsed.keys, parsed.values);
  return S.Ok;
}

export function proxy_get_header_map_size(vm: HostCallState, type: number, rPtr: number): number {
  const m = mapFor(vm, u(type), true);
  if (m === null || m === "bad") return S.BadArgument;
  return vm.setU32(u(rPtr), m.byteSize()) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_get_header_map_value(
  vm: HostCallState,
  type: number,
  kPtr: number,
  kSize: number,
  rPtr: number,
  rSize: number,
): number {
  type = u(type);
  if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
  const key = vm.str(u(kPtr), u(kSize));
  if (key === undefined) return S.InvalidMemoryAccess;
  const m = mapFor(vm, type, false);
  if (m === null || m === "bad") {
    const c = vm.ctx();
    return c.kind === "stream" && c.handler.inLogPhase() ? S.NotFound : S.BadArgument;
  }
  const v = m.get(lowerAscii(key));
  if (v === undefined) return S.NotFound;
  return vm.copyOut(v, u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
}

/** proxy_add_header_map_value and proxy_replace_header_map_value: the same checks, then add or replace. */
function writeMapValue(
  vm: HostCallState,
  fn: "proxy_add_header_map_value" | "proxy_replace_header_map_value",
  type: number,
  kPtr: number,
  kSize: number,
  vPtr: number,
  vSize: number,
): number {
  type = u(type);
  if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
  const key = vm.str(u(kPtr), u(kSize));
  const value = vm.str(u(vPtr), u(vSize));
  if (key === undefined || value === undefined) return S.InvalidMemoryAccess;
  const m = mapFor(vm, type, true);
  if (m === null || m === "bad") return S.BadArgument;
  if (m.byteSize() + key.length + value.length > MAX_HEADER_MAP_BYTES) {
    vm.host.log(3, `${fn}: refused to grow a map past ${MAX_HEADER_MAP_BYTES} bytes`, vm.ctx().id, vm.index);
    return S.BadArgument;
  }
  if (fn === "proxy_add_header_map_value") m.add(lowerAscii(key), value);
  else m.replace(lowerAscii(key), value);
  return S.Ok;
}

export function proxy_replace_header_map_value(
  vm: HostCallState,
  type: number,
  kPtr: number,
  kSize: number,
  vPtr: number,
  vSize: number,
): number {
  return writeMapValue(vm, "proxy_replace_header_map_value", type, kPtr, kSize, vPtr, vSize);
}

export function proxy_add_header_map_value(
  vm: HostCallState,
  type: number,
  kPtr: number,
  kSize: number,
  vPtr: number,
  vSize: number,
): number {
  return writeMapValue(vm, "proxy_add_header_map_value", type, kPtr, kSize, vPtr, vSize);
}

export function proxy_remove_header_map_value(vm: HostCallState, type: number, kPtr: number, kSize: number): number {
  type = u(type);
  if (type > MapType.HttpCallResponseTrailers) return S.BadArgument;
  const key = vm.str(u(kPtr), u(kSize));
  if (key === undefined) return S.InvalidMemoryAccess;
  const m = mapFor(vm, type, true);
  if (m === null || m === "bad") return S.BadArgument;
  m.remove(lowerAscii(key));
  return S.Ok;
}
