// The module's exports: the ABI version marker, the allocator, and every proxy_on_* callback of ABI
// 0.2.1 as a thin shim into the dispatcher. `proxy-wasm-as build` (and the asconfig preset's
// "entries") add this file to every filter, so a filter's own code only imports "proxy-wasm-as".
// It imports the SDK by package name so that it shares one copy of the SDK with the filter.
// enter/leaveCallback let the SDK collect garbage only when no callback is on the stack (gc.ts).

import * as d from "proxy-wasm-as/assembly/dispatcher";
import { allocateForHost } from "proxy-wasm-as/assembly/memory";
import { enterCallback, leaveCallback } from "proxy-wasm-as/assembly/gc";

/** Marker: this module speaks proxy-wasm ABI 0.2.1. Never called. */
export function proxy_abi_version_0_2_1(): void {}

/** Allocator for data the host hands in. Envoy looks up malloc first; the spec names the other. */
export function malloc(size: usize): usize {
  return allocateForHost(size);
}
export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  enterCallback();
  d.onContextCreate(contextId, parentContextId);
  leaveCallback();
}
export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  enterCallback();
  const result: bool = d.onVmStart(rootContextId, vmConfigurationSize);
  leaveCallback();
  return result;
}
export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  enterCallback();
  const result: bool = d.onConfigure(rootContextId, pluginConfigurationSize);
  leaveCallback();
  return result;
}
export function proxy_on_tick(rootContextId: u32): void {
  enterCallback();
  d.onTick(rootContextId);
  leaveCallback();
}
export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  enterCallback();
  d.onQueueReady(rootContextId, queueId);
  leaveCallback();
}
export function proxy_on_foreign_function(rootContextId: u32, functionId: u32, argumentsSize: u32): void {
  enterCallback();
  d.onForeignFunction(rootContextId, functionId, argumentsSize);
  leaveCallback();
}
export function proxy_on_done(contextId: u32): bool {
  enterCallback();
  const result: bool = d.onDone(contextId);
  leaveCallback();
  return result;
}
export function proxy_on_log(contextId: u32): void {
  enterCallback();
  d.onLog(contextId);
  leaveCallback();
}
export function proxy_on_delete(contextId: u32): void {
  enterCallback();
  d.onDelete(contextId);
  leaveCallback();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpRequestHeaders(contextId, numHeaders, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpRequestBody(contextId, bodySize, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpRequestTrailers(contextId, numTrailers);
  leaveCallback();
  return result;
}
export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpResponseHeaders(contextId, numHeaders, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpResponseBody(contextId, bodySize, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): u32 {
  enterCallback();
  const result: u32 = d.onHttpResponseTrailers(contextId, numTrailers);
  leaveCallback();
  return result;
}

export function proxy_on_new_connection(contextId: u32): u32 {
  enterCallback();
  const result: u32 = d.onNewConnection(contextId);
  leaveCallback();
  return result;
}
export function proxy_on_downstream_data(contextId: u32, dataSize: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onDownstreamData(contextId, dataSize, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_upstream_data(contextId: u32, dataSize: u32, endOfStream: u32): u32 {
  enterCallback();
  const result: u32 = d.onUpstreamData(contextId, dataSize, endOfStream);
  leaveCallback();
  return result;
}
export function proxy_on_downstream_connection_close(contextId: u32, peerType: u32): void {
  enterCallback();
  d.onDownstreamClose(contextId, peerType);
  leaveCallback();
}
export function proxy_on_upstream_connection_close(contextId: u32, peerType: u32): void {
  enterCallback();
  d.onUpstreamClose(contextId, peerType);
  leaveCallback();
}

export function proxy_on_http_call_response(rootContextId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  enterCallback();
  d.onHttpCallResponse(rootContextId, token, numHeaders, bodySize, numTrailers);
  leaveCallback();
}
export function proxy_on_grpc_receive_initial_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  enterCallback();
  d.onGrpcStreamInitialMetadata(rootContextId, token, numElements);
  leaveCallback();
}
export function proxy_on_grpc_receive(rootContextId: u32, token: u32, messageSize: u32): void {
  enterCallback();
  d.onGrpcReceive(rootContextId, token, messageSize);
  leaveCallback();
}
export function proxy_on_grpc_receive_trailing_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  enterCallback();
  d.onGrpcStreamTrailingMetadata(rootContextId, token, numElements);
  leaveCallback();
}
export function proxy_on_grpc_close(rootContextId: u32, token: u32, statusCode: u32): void {
  enterCallback();
  d.onGrpcClose(rootContextId, token, statusCode);
  leaveCallback();
}
