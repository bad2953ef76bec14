// RootContext (one per plugin configuration, Rust's `RootContext` trait) and ChildContext (what HTTP
// and stream contexts share: the root they belong to). Failures: docs/sdk.md, "When the host says no".

import * as hc from "./hostcalls";
import { Context } from "./context";
import { contexts } from "./contexts";
import { BufferType, Status } from "./types";
import { bytesToString } from "./utf8";

/** One per plugin configuration (Envoy `root_id`): configuration, timers, queues, factories. */
export class RootContext extends Context {
  /** Internal: set when no root context factory matched this plugin's root_id. */
  __sdkUnmatched: bool = false;

  // ---- callbacks ----

  /** The VM started; `vmConfigurationSize` bytes of VM configuration are readable. False fails it. */
  onVmStart(vmConfigurationSize: u32): bool {
    return true;
  }

  /**
   * The plugin got its configuration (`pluginConfigurationSize` bytes; 0 when none). Return false to
   * reject it: Envoy then refuses the listener update. Also called again on every config change.
   */
  onConfigure(pluginConfigurationSize: u32): bool {
    return true;
  }

  /** Timer tick, every period set with setTickPeriod(). */
  onTick(): void {}

  /** A message is waiting on queue `queueId` that this VM registered. */
  onQueueReady(queueId: u32): void {}

  /** The host calls a plugin function; read the arguments with getForeignFunctionArguments(). */
  onForeignFunction(functionId: u32, argumentsSize: u32): void {}

  /**
   * The HttpContext for a new stream, or null to use the factory given to setHttpContext(). Override
   * it as `createHttpContext(contextId: u32): HttpContext | null` (declared here with ChildContext,
   * so that this file does not import the HTTP one).
   */
  createHttpContext(contextId: u32): ChildContext | null {
    return null;
  }

  /** The StreamContext for a new TCP connection, or null to use setStreamContext()'s factory (override as above). */
  createStreamContext(contextId: u32): ChildContext | null {
    return null;
  }

  // ---- helpers ----

  /** VM configuration bytes (valid in onVmStart); empty when none was given, null when refused. */
  getVmConfiguration(): ArrayBuffer | null {
    return hc.getBuffer(BufferType.VmConfiguration, 0, u32.MAX_VALUE);
  }

  /** Plugin configuration bytes (valid in onConfigure); empty when none was given, null when refused. */
  getPluginConfiguration(): ArrayBuffer | null {
    return hc.getBuffer(BufferType.PluginConfiguration, 0, u32.MAX_VALUE);
  }

  /** Plugin configuration as text (invalid UTF-8 becomes U+FFFD); "" when none was given or refused. */
  getPluginConfigurationString(): string {
    const b = hc.getBuffer(BufferType.PluginConfiguration, 0, u32.MAX_VALUE);
    return b === null ? "" : bytesToString(b);
  }

  /** Arguments of the foreign function being called (valid in onForeignFunction); null when refused. */
  getForeignFunctionArguments(): ArrayBuffer | null {
    return hc.getBuffer(BufferType.ForeignFunctionArguments, 0, u32.MAX_VALUE);
  }

  /** Calls onTick every `millis` ms; 0 stops. The host's status. */
  setTickPeriod(millis: u32): Status {
    return hc.setTickPeriod(millis);
  }
}

/** A context that belongs to a root context (HTTP stream or TCP connection). */
export class ChildContext extends Context {
  /** The root context of this stream's plugin (set by the dispatcher before any callback). */
  getRootContext(): RootContext {
    return changetype<RootContext>(contexts.get<Context>(this.__sdkRootId));
  }
}
