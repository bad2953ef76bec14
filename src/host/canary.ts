// Envoy's configuration canary (WasmHandleBase::canary): before a new plugin configuration reaches
// the running VM, a throwaway VM of the module is started and configured with it.
import type { SharedState } from "./shared.js";
import type { Plugin, RootContext } from "./types.js";
import type { Vm } from "./vm.js";

/** What the canary needs from the host that runs it. */
export interface CanaryHost {
  readonly shared: SharedState;
  /** The canary VM while it runs: its callouts are never dispatched (Envoy cancels them when it is destroyed). */
  canaryVm: Vm | null;
  startRoot(vm: Vm, plugin: Plugin): RootContext | null;
  configureRoot(root: RootContext, vm: Vm): boolean;
  log(level: number, message: string, contextId: number, vm: number): void;
}

/**
 * Runs the canary on a fresh `vm`: _initialize, root context, proxy_on_vm_start, then
 * proxy_on_configure with `plugin`; the VM is thrown away after. A trap there is recorded in
 * `failures` (with the canary's VM index) and fails nothing else. Shared data, metrics and logs it
 * produced stay (they are process-wide in Envoy too); queues it registered go back to the VMs that
 * had them. Returns what proxy_on_configure said, or null when the VM failed before configuring.
 */
export function runCanary(vm: Vm, plugin: Plugin, host: CanaryHost): boolean | null {
  const queues = host.shared.queueOwners();
  host.canaryVm = vm;
  let configured: boolean | null = null;
  try {
    const root = host.startRoot(vm, plugin);
    if (root && !vm.failed) {
      configured = host.configureRoot(root, vm);
      if (!configured && !vm.failed) {
        host.log(3, `the canary VM rejected the configuration: proxy_on_configure returned false`, root.id, vm.index);
      }
    }
  } finally {
    host.canaryVm = null;
    // Destroyed: nothing reaches it any more (queue notifications, callout answers).
    vm.failed = true;
    host.shared.restoreQueueOwners(vm, queues);
  }
  return configured;
}

/** Envoy's plugin_canary_cache_: what the canary said about each configuration already tried. */
export class CanaryCache {
  private readonly verdicts = new Map<string, boolean>();

  /** The cached verdict, or `run`'s (remembered unless the canary failed to start: that is retried). */
  check(plugin: Plugin, run: () => boolean | null): boolean {
    const key = canaryKey(plugin);
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;
    const configured = run();
    if (configured !== null) this.verdicts.set(key, configured);
    return configured === true;
  }

  /** A configuration the running VM accepted needs no canary to come back to it. */
  accepted(plugin: Plugin): void {
    this.verdicts.set(canaryKey(plugin), true);
  }
}

/** Envoy's plugin key: what tells two configurations of one plugin apart. */
function canaryKey(p: Plugin): string {
  return `${p.name}\0${p.rootId}\0${p.vmId}\0${p.config.toString("latin1")}`;
}
