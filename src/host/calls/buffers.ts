// Buffers (exports.cc get_buffer_bytes / get_buffer_status / set_buffer_bytes).
import { BufferType, Status as S } from "../../abi.js";
import type { BufferSlot } from "../types.js";
import { EMPTY, MAX_BUFFER_BYTES, u, type HostCallState } from "./state.js";

/** The buffer of a type as the current context sees it, or null when it has none now. */
export function bufferFor(vm: HostCallState, type: number): BufferSlot | null {
  const c = vm.ctx();
  const root = vm.rootOf(c);
  switch (type) {
    case BufferType.HttpRequestBody:
    case BufferType.HttpResponseBody:
    case BufferType.DownstreamData:
    case BufferType.UpstreamData:
      return c.kind === "stream" ? c.handler.buffer(type) : { data: EMPTY, mutable: false };
    case BufferType.HttpCallResponseBody:
      return root?.httpCallResponse ? { data: root.httpCallResponse.body, mutable: false } : null;
    case BufferType.GrpcReceiveBuffer:
      return { data: root?.grpcMessage ?? EMPTY, mutable: false };
    case BufferType.VmConfiguration:
      return { data: vm.vmConfig, mutable: false };
    case BufferType.PluginConfiguration:
      return root?.configuring ? { data: root.plugin.config, mutable: false } : null;
    case BufferType.ForeignFunctionArguments:
      return { data: root?.callData ?? EMPTY, mutable: false };
    default:
      return null;
  }
}

export function proxy_get_buffer_bytes(
  vm: HostCallState,
  type: number,
  start: number,
  maxSize: number,
  rPtr: number,
  rSize: number,
): number {
  type = u(type);
  if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
  const slot = bufferFor(vm, type);
  if (!slot) return S.NotFound;
  const data = slot.data;
  start = u(start);
  let len = u(maxSize);
  if (start > data.length) len = 0;
  else if (start + len > data.length) len = data.length - start;
  if (len === 0) return vm.setU32(u(rPtr), 0) && vm.setU32(u(rSize), 0) ? S.Ok : S.InvalidMemoryAccess;
  return vm.copyOut(data.subarray(start, start + len), u(rPtr), u(rSize)) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_get_buffer_status(vm: HostCallState, type: number, lenPtr: number, flagsPtr: number): number {
  type = u(type);
  if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
  const slot = bufferFor(vm, type);
  if (!slot) return S.NotFound;
  // Envoy always reports flags 0 (proxy-wasm-cpp-host exports.cc get_buffer_status).
  return vm.setU32(u(lenPtr), slot.data.length) && vm.setU32(u(flagsPtr), 0) ? S.Ok : S.InvalidMemoryAccess;
}

export function proxy_set_buffer_bytes(vm: HostCallState, type: number, start: number, size: number, dPtr: number, dSize: number): number {
  type = u(type);
  if (type > BufferType.ForeignFunctionArguments) return S.BadArgument;
  const slot = bufferFor(vm, type);
  if (!slot) return S.NotFound;
  const data = vm.bytes(u(dPtr), u(dSize));
  if (data === undefined) return S.InvalidMemoryAccess;
  if (!slot.mutable) return S.BadArgument;
  start = u(start);
  size = u(size);
  const cur = slot.data;
  // Envoy's Buffer::copyFrom: (0,0) prepends, (0, >= length) replaces everything,
  // start >= length appends; any other range is BAD_ARGUMENT.
  const grown = start === 0 && size >= cur.length ? data.length : cur.length + data.length;
  if (grown > MAX_BUFFER_BYTES) {
    vm.host.log(
      3,
      `proxy_set_buffer_bytes: refused to grow a buffer to ${grown} bytes (the host's limit is ${MAX_BUFFER_BYTES})`,
      vm.ctx().id,
      vm.index,
    );
    return S.BadArgument;
  }
  if (start === 0) {
    if (size === 0) slot.data = Buffer.concat([data, cur]);
    else if (size >= cur.length) slot.data = data;
    else return S.BadArgument;
  } else if (start >= cur.length) {
    slot.data = Buffer.concat([cur, data]);
  } else {
    return S.BadArgument;
  }
  return S.Ok;
}
