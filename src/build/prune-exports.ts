// An asc transform that removes the exports of proxy_on_* callbacks the filter does not use, so a
// filter that only handles request headers exports 6 callbacks instead of 28 (about 1.5 KB less),
// and a filter with one HTTP context for every stream (setSharedHttpContext) and nothing that needs
// contexts created and deleted exports neither proxy_on_context_create nor proxy_on_delete (and keeps
// proxy_on_configure when its roots must exist before any stream).
// A callback is used when the filter overrides one of the context methods it dispatches to: asc then
// compiles a virtual stub named "<SDK class>#<method>@override". It runs on the Binaryen module after
// compilation and before optimization, so the optimizer drops the unexported shims too. The host treats
// a missing callback exactly like the default (Continue / true / nothing), so behaviour is unchanged.
// Used by `proxy-wasm-as build` and by the asconfig preset ("transform": ["proxy-wasm-as/transform"]).

import { type BinaryenApi, type BinaryenModule, functionNames } from "./binaryen-module.js";
import { CALLBACK_METHODS } from "./callbacks.generated.js";

/** Callback export -> context methods it dispatches to (generated from the ABI table). */
export { CALLBACK_METHODS };

/**
 * SDK functions that use a callback when the filter calls them (asc compiles only what is called;
 * also the two the rules below read: setSharedHttpContext and ChildContext#getRootContext):
 * registerRootContext needs proxy_on_configure to refuse a plugin whose root_id has no factory; the
 * context factories need proxy_on_context_create and proxy_on_delete, and so do calls to other
 * services made from a shared HTTP context (trackCallout: a deleted stream forgets its calls).
 */
const USED_BY_CALLING = /[/#](registerRootContext|setRootContext|setHttpContext|setSharedHttpContext|setStreamContext|trackCallout|getRootContext)$/;

/**
 * Dropped only from a filter with a shared HTTP context (setSharedHttpContext): any other filter
 * keeps them, so that a stream reaching a module that registered no context factory is reported
 * (dispatcher.ts: "no setHttpContext/setStreamContext factory").
 */
const ONLY_WITH_SHARED_CONTEXT = new Set(["proxy_on_context_create", "proxy_on_delete"]);

/** Names of the callback exports to remove, given every function name in the module. */
export function unusedCallbackExports(functionNames: Iterable<string>, exportNames: Iterable<string>): string[] {
  const overridden = new Set<string>();
  for (const name of functionNames) {
    const m = /#([A-Za-z0-9_]+)@override$/.exec(name) ?? USED_BY_CALLING.exec(name);
    if (m) overridden.add(m[1]);
  }
  const shared = overridden.has("setSharedHttpContext");
  const readsRoot = overridden.has("getRootContext");
  const unused: string[] = [];
  for (const exp of exportNames) {
    const methods = CALLBACK_METHODS[exp];
    if (!methods || methods.some((m) => overridden.has(m))) continue;
    if (ONLY_WITH_SHARED_CONTEXT.has(exp) && !shared) continue;
    unused.push(exp);
  }
  // Without proxy_on_context_create a root context is created at its first callback. When the
  // shared context reads its root (getRootContext) or proxy_on_delete is kept, every root has to
  // exist before any stream: proxy_on_configure, once per plugin, creates it. Otherwise
  // getRootContext() would find no root, and the root's proxy_on_delete would reach the shared
  // context as if a stream had ended.
  const rootsAtCreate = !unused.includes("proxy_on_context_create");
  const deleteKept = !unused.includes("proxy_on_delete");
  if (shared && !rootsAtCreate && (readsRoot || deleteKept)) return unused.filter((e) => e !== "proxy_on_configure");
  return unused;
}

export default class PruneUnusedCallbacks {
  // asc assigns these on the prototype before instantiating a transform class.
  declare binaryen: BinaryenApi;
  /** Filled after each compile: the exports removed (for build reports and tests). */
  static lastRemoved: string[] = [];

  afterCompile(module: BinaryenModule): void {
    const b = this.binaryen;
    const exportNames: string[] = [];
    for (let i = 0, n = module.getNumExports(); i < n; i++) {
      exportNames.push(b.getExportInfo(module.getExportByIndex(i)).name);
    }
    const unused = unusedCallbackExports(functionNames(b, module), exportNames);
    for (const name of unused) module.removeExport(name);
    PruneUnusedCallbacks.lastRemoved = unused;
  }
}
