// gRPC calls and streams (exports.cc grpc_call / grpc_stream / grpc_send / grpc_cancel / grpc_close).
import { Status as S } from "../../abi.js";
import type { HeaderMap } from "../headers.js";
import { decodePairs } from "../pairs.js";
import type { RootContext } from "../types.js";
import { mapFromPairs, rejectPairs, u, unknownUpstream, type HostCallState } from "./state.js";

/** Where a gRPC call or stream goes, read from guest memory; a status when the guest's input is bad. */
interface GrpcTarget {
  upstream: string;
  service: string;
  method: string;
  metadata: HeaderMap;
  root: RootContext;
}

function readTarget(
  vm: HostCallState,
  fn: string,
  uPtr: number,
  uSize: number,
  sPtr: number,
  sSize: number,
  mPtr: number,
  mSize: number,
  mdPtr: number,
  mdSize: number,
): GrpcTarget | number {
  const upstream = vm.str(u(uPtr), u(uSize));
  const service = vm.str(u(sPtr), u(sSize));
  const method = vm.str(u(mPtr), u(mSize));
  mdPtr = u(mdPtr);
  mdSize = u(mdSize);
  if (upstream === undefined || service === undefined || method === undefined || !vm.inBounds(mdPtr, mdSize)) {
    return S.InvalidMemoryAccess;
  }
  const md = decodePairs(vm.mem(), mdPtr, mdSize);
  if (typeof md === "string") return rejectPairs(vm, `${fn} (metadata)`, md);
  const root = vm.rootOf(vm.ctx());
  if (!root) return S.BadArgument;
  if (unknownUpstream(vm, upstream)) return S.ParseFailure;
  return { upstream, service, method, metadata: mapFromPairs(md), root };
}

export function proxy_grpc_call(
  vm: HostCallState,
  uPtr: number,
  uSize: number,
  sPtr: number,
  sSize: number,
  mPtr: number,
  mSize: number,
  mdPtr: number,
  mdSize: number,
  msgPtr: number,
  msgSize: number,
  timeout: number,
  rPtr: number,
): number {
  const message = vm.bytes(u(msgPtr), u(msgSize));
  if (message === undefined) return S.InvalidMemoryAccess;
  const t = readTarget(vm, "proxy_grpc_call", uPtr, uSize, sPtr, sSize, mPtr, mSize, mdPtr, mdSize);
  if (typeof t === "number") return t;
  if (!vm.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
  const token = (vm.calloutIds.grpcCall += 4);
  const { upstream, service, method, metadata, root } = t;
  vm.dispatchGrpc(root, { token, kind: "call", upstream, service, method, metadata, message, timeoutMs: u(timeout) }, vm.ctx().id);
  vm.setU32(u(rPtr), token);
  return S.Ok;
}

export function proxy_grpc_stream(
  vm: HostCallState,
  uPtr: number,
  uSize: number,
  sPtr: number,
  sSize: number,
  mPtr: number,
  mSize: number,
  mdPtr: number,
  mdSize: number,
  rPtr: number,
): number {
  const t = readTarget(vm, "proxy_grpc_stream", uPtr, uSize, sPtr, sSize, mPtr, mSize, mdPtr, mdSize);
  if (typeof t === "number") return t;
  if (!vm.inBounds(u(rPtr), 4)) return S.InvalidMemoryAccess;
  const token = (vm.calloutIds.grpcStream += 4);
  const { upstream, service, method, metadata, root } = t;
  vm.dispatchGrpc(root, { token, kind: "stream", upstream, service, method, metadata, message: null, timeoutMs: 0 }, vm.ctx().id);
  vm.setU32(u(rPtr), token);
  return S.Ok;
}

export function proxy_grpc_send(vm: HostCallState, token: number, mPtr: number, mSize: number, endStream: number): number {
  const msg = vm.bytes(u(mPtr), u(mSize));
  if (msg === undefined) return S.InvalidMemoryAccess;
  return vm.grpcSend(u(token), msg, u(endStream) !== 0);
}

export function proxy_grpc_cancel(vm: HostCallState, token: number): number {
  return vm.grpcCancelOrClose(u(token), "cancel");
}

export function proxy_grpc_close(vm: HostCallState, token: number): number {
  return vm.grpcCancelOrClose(u(token), "close");
}
