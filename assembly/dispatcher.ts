// The dispatcher: turns the host's proxy_on_* callbacks into calls on the filter's context objects
// (exports.ts holds the exported shims). Each function is named after the context callback it calls
// (onHttpRequestHeaders...); the gRPC ones that choose between callbacks keep the ABI's name
// (onGrpcReceive, onGrpcClose). It makes no host call and builds no string on the hot path: per
// request it creates the HTTP context, looks it up once per callback, and forgets it on delete; with
// a shared HTTP context (setSharedHttpContext) it only writes the stream's id into that context.
// Root contexts are created by proxy_on_context_create or, when the build dropped that export (a
// filter with a shared HTTP context: src/build/prune-exports.ts), by their first root callback.

import { Context } from "./context";
import { KIND_HTTP, KIND_ROOT, KIND_STREAM, contexts } from "./contexts";
import { RootContext } from "./root-context";
import { HttpContext } from "./http-context";
import { StreamContext } from "./stream-context";
import { calloutLookup, calloutForgetOwner, CALLOUT_GRPC_STREAM, CALLOUT_OWNER_GONE } from "./callouts";
import { defaultRootFactory, namedRootResolver, httpFactory, streamFactory, sharedContextCheck } from "./registry";
import { Action, LogLevel, PeerType } from "./types";
import { setEffectiveContext } from "./hostcalls";
import { refreshLogLevel } from "./log";
import { proxy_log } from "./imports";
import { checkGarbage, collectSoon } from "./gc";

// ---- context creation ----

export function onContextCreate(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    createRootContext(contextId);
    return;
  }
  if (sharedHttp() !== null) {
    // Every stream uses the shared context; a TCP connection cannot be told from an HTTP stream here.
    const check = sharedContextCheck;
    if (check !== null) check();
    return;
  }
  const parent = contextOf(parentId);
  if (parent === null || parent.__sdkKind != KIND_ROOT) return;
  const root = changetype<RootContext>(parent);
  let child: Context | null = root.createHttpContext(contextId);
  if (child !== null) {
    child.__sdkKind = KIND_HTTP;
  } else {
    child = root.createStreamContext(contextId);
    if (child !== null) {
      child.__sdkKind = KIND_STREAM;
    } else {
      const hf = httpFactory;
      if (hf !== null) {
        child = hf(contextId, parentId);
        child.__sdkKind = KIND_HTTP;
      } else {
        const sf = streamFactory;
        if (sf === null) {
          missingChildFactory();
          return;
        }
        child = sf(contextId, parentId);
        child.__sdkKind = KIND_STREAM;
      }
    }
  }
  child.__sdkRootId = parentId;
  contexts.set<Context>(child);
}

let warnedMissingChildFactory = false;
// The warning as ASCII bytes, half the size of a string literal (this is in every filter). They spell
// (tests/node/sdk-size.test.ts checks that they match):
// > proxy-wasm-as: no setHttpContext/setStreamContext factory
// @ts-ignore: decorator
@lazy const NO_FACTORY = memory.data<u8>([
  0x70, 0x72, 0x6f, 0x78, 0x79, 0x2d, 0x77, 0x61, 0x73, 0x6d, 0x2d, 0x61, 0x73, 0x3a, 0x20, 0x6e,
  0x6f, 0x20, 0x73, 0x65, 0x74, 0x48, 0x74, 0x74, 0x70, 0x43, 0x6f, 0x6e, 0x74, 0x65, 0x78, 0x74,
  0x2f, 0x73, 0x65, 0x74, 0x53, 0x74, 0x72, 0x65, 0x61, 0x6d, 0x43, 0x6f, 0x6e, 0x74, 0x65, 0x78,
  0x74, 0x20, 0x66, 0x61, 0x63, 0x74, 0x6f, 0x72, 0x79,
]);
function missingChildFactory(): void {
  if (warnedMissingChildFactory) return;
  warnedMissingChildFactory = true;
  // Critical passes any level filter, so the message goes straight to the host.
  proxy_log(LogLevel.Critical, NO_FACTORY, 57);
}

function createRootContext(contextId: u32): RootContext {
  let root: RootContext | null = null;
  const resolve = namedRootResolver;
  if (resolve !== null) root = resolve(contextId);
  if (root === null) {
    const f = defaultRootFactory;
    root = f !== null ? f(contextId) : new RootContext(contextId);
  }
  contexts.set<Context>(root!); // a new context's kind is KIND_ROOT
  const shared = sharedHttp();
  if (shared !== null) shared.__sdkRootId = contextId;
  return root!;
}

// ---- lookups ----

/** The HTTP context every stream shares (setSharedHttpContext), or null. */
// @ts-ignore: decorator
@inline function sharedHttp(): HttpContext | null {
  return changetype<HttpContext | null>(contexts.shared);
}

/**
 * The root context with this id. A filter with a shared HTTP context may export no
 * proxy_on_context_create: its root contexts are created here, at their first callback.
 */
function rootOf(contextId: u32): RootContext | null {
  const c = contextOf(contextId);
  if (c === null) return sharedHttp() !== null ? createRootContext(contextId) : null;
  return c.__sdkKind == KIND_ROOT ? changetype<RootContext>(c) : null;
}

/**
 * The shared HTTP context, now serving stream `contextId`. It sees no stream end, so whether garbage
 * took memory is checked at each of its callbacks instead.
 */
// @ts-ignore: decorator
@inline function serving(shared: HttpContext, contextId: u32): HttpContext {
  checkGarbage();
  store<u32>(changetype<usize>(shared), contextId, offsetof<Context>("contextId"));
  return shared;
}

function httpOf(contextId: u32): HttpContext | null {
  const shared = sharedHttp();
  if (shared !== null) return serving(shared, contextId);
  const c = contextOf(contextId);
  return c !== null && c.__sdkKind == KIND_HTTP ? changetype<HttpContext>(c) : null;
}

function streamOf(contextId: u32): StreamContext | null {
  const c = contextOf(contextId);
  return c !== null && c.__sdkKind == KIND_STREAM ? changetype<StreamContext>(c) : null;
}

// ---- root lifecycle ----

export function onVmStart(rootId: u32, vmConfigurationSize: u32): bool {
  refreshLogLevel();
  collectSoon();
  const root = rootOf(rootId);
  if (root === null) return false;
  if (root.__sdkUnmatched) return false;
  return root.onVmStart(vmConfigurationSize);
}

export function onConfigure(rootId: u32, pluginConfigurationSize: u32): bool {
  refreshLogLevel();
  collectSoon();
  const root = rootOf(rootId);
  if (root === null) return false;
  if (root.__sdkUnmatched) return false;
  return root.onConfigure(pluginConfigurationSize);
}

export function onTick(rootId: u32): void {
  refreshLogLevel();
  collectSoon();
  const root = rootOf(rootId);
  if (root !== null) root.onTick();
}

export function onQueueReady(rootId: u32, queueId: u32): void {
  collectSoon();
  const root = rootOf(rootId);
  if (root !== null) root.onQueueReady(queueId);
}

export function onForeignFunction(rootId: u32, functionId: u32, argumentsSize: u32): void {
  collectSoon();
  const root = rootOf(rootId);
  if (root !== null) root.onForeignFunction(functionId, argumentsSize);
}

function contextOf(contextId: u32): Context | null {
  return contexts.get<Context>(contextId);
}

/** The context with this id: a root or a stream's own, else the shared HTTP context serving it. */
function anyContextOf(contextId: u32): Context | null {
  const shared = sharedHttp();
  if (shared === null) return contextOf(contextId);
  const c = contextOf(contextId);
  return c !== null ? c : serving(shared, contextId);
}

export function onDone(contextId: u32): bool {
  const c = anyContextOf(contextId);
  return c === null ? true : c.onDone();
}

export function onLog(contextId: u32): void {
  const c = anyContextOf(contextId);
  if (c !== null) c.onLog();
}

export function onDelete(contextId: u32): void {
  // Out of the table first: nothing looks a context up by its own id while it is being deleted.
  const c = contexts.take<Context>(contextId);
  const shared = sharedHttp();
  if (shared !== null) {
    // A stream of the shared context (or a root) ended: the answers to its open calls reach no one.
    const forget = calloutForgetOwner;
    if (forget !== null) forget(contextId);
    if (c === null) {
      serving(shared, contextId).onDelete();
      return;
    }
  }
  if (c === null) return;
  c.onDelete();
  if (c.__sdkKind == KIND_ROOT) collectSoon();
  else checkGarbage();
}

// ---- HTTP ----

export function onHttpRequestHeaders(contextId: u32, numHeaders: u32, endOfStream: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpRequestHeaders(numHeaders, endOfStream != 0);
}
export function onHttpRequestBody(contextId: u32, bodySize: u32, endOfStream: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpRequestBody(bodySize, endOfStream != 0);
}
export function onHttpRequestTrailers(contextId: u32, numTrailers: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpRequestTrailers(numTrailers);
}
export function onHttpResponseHeaders(contextId: u32, numHeaders: u32, endOfStream: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpResponseHeaders(numHeaders, endOfStream != 0);
}
export function onHttpResponseBody(contextId: u32, bodySize: u32, endOfStream: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpResponseBody(bodySize, endOfStream != 0);
}
export function onHttpResponseTrailers(contextId: u32, numTrailers: u32): Action {
  const c = httpOf(contextId);
  return c === null ? Action.Continue : c.onHttpResponseTrailers(numTrailers);
}

// ---- TCP ----

export function onNewConnection(contextId: u32): Action {
  const c = streamOf(contextId);
  return c === null ? Action.Continue : c.onNewConnection();
}
export function onDownstreamData(contextId: u32, dataSize: u32, endOfStream: u32): Action {
  const c = streamOf(contextId);
  return c === null ? Action.Continue : c.onDownstreamData(dataSize, endOfStream != 0);
}
export function onUpstreamData(contextId: u32, dataSize: u32, endOfStream: u32): Action {
  const c = streamOf(contextId);
  return c === null ? Action.Continue : c.onUpstreamData(dataSize, endOfStream != 0);
}
export function onDownstreamClose(contextId: u32, peerType: u32): void {
  const c = streamOf(contextId);
  if (c !== null) c.onDownstreamClose(<PeerType>peerType);
}
export function onUpstreamClose(contextId: u32, peerType: u32): void {
  const c = streamOf(contextId);
  if (c !== null) c.onUpstreamClose(<PeerType>peerType);
}

// ---- callouts: delivered on the root id, routed to the context that made the call ----

/** The callout table's entry for `token` (0 when the filter made no tracked call), removed when `remove`. */
function takeCallout(token: u32, remove: bool): u64 {
  const lookup = calloutLookup;
  return lookup === null ? 0 : lookup(token, remove);
}

/**
 * The context that made the call of `entry`, made current with proxy_set_effective_context when it is
 * not the root; the root itself for a token the SDK does not know (a call made with the raw imports).
 * Null when the owning context is gone (for a shared HTTP context's stream: CALLOUT_OWNER_GONE).
 */
function calloutOwner(rootId: u32, entry: u64): Context | null {
  const owner = <u32>entry;
  if (owner == 0) return contextOf(rootId);
  const c = sharedHttp() === null || owner != CALLOUT_OWNER_GONE ? anyContextOf(owner) : null;
  if (c !== null && owner != rootId) setEffectiveContext(owner);
  return c;
}

export function onHttpCallResponse(rootId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const c = calloutOwner(rootId, takeCallout(token, true));
  if (c !== null) c.onHttpCallResponse(token, numHeaders, bodySize, numTrailers);
}

export function onGrpcStreamInitialMetadata(rootId: u32, token: u32, numElements: u32): void {
  const c = calloutOwner(rootId, takeCallout(token, false));
  if (c !== null) c.onGrpcStreamInitialMetadata(token, numElements);
}

export function onGrpcStreamTrailingMetadata(rootId: u32, token: u32, numElements: u32): void {
  const c = calloutOwner(rootId, takeCallout(token, false));
  if (c !== null) c.onGrpcStreamTrailingMetadata(token, numElements);
}

/** A message: onGrpcStreamMessage for a stream, onGrpcCallResponse (which ends it) for a unary call. */
export function onGrpcReceive(rootId: u32, token: u32, messageSize: u32): void {
  const entry = takeCallout(token, false);
  if (entry >> 32 == CALLOUT_GRPC_STREAM) {
    const c = calloutOwner(rootId, entry);
    if (c !== null) c.onGrpcStreamMessage(token, messageSize);
    return;
  }
  // A unary call's response: the call is over (Envoy sends no close after it).
  takeCallout(token, true);
  const c = calloutOwner(rootId, entry);
  if (c !== null) c.onGrpcCallResponse(token, 0, messageSize);
}

/** The end: onGrpcStreamClose for a stream, onGrpcCallResponse with the error for a unary call. */
export function onGrpcClose(rootId: u32, token: u32, statusCode: u32): void {
  const entry = takeCallout(token, true);
  const c = calloutOwner(rootId, entry);
  if (c === null) return;
  if (entry >> 32 == CALLOUT_GRPC_STREAM) c.onGrpcStreamClose(token, statusCode);
  else c.onGrpcCallResponse(token, statusCode, 0);
}
