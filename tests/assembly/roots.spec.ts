// Named root contexts (registry.ts registerRootContext): one module serving several plugins picks the
// root factory by the plugin's root_id, which it reads from the host property `plugin_root_id` (as the
// C++ SDK does). This file has its own module, so its registrations do not mix with dispatcher.spec.
import * as d from "../../assembly/dispatcher";
import { registerRootContext, setRootContext, getContext } from "../../assembly/registry";
import { RootContext } from "../../assembly/root-context";
import { LogLevel } from "../../assembly/types";
import * as mock from "./mock";
import { utf8, arrayBytes } from "./mock";

let calls: string[] = [];
function takeCalls(): string[] {
  const c = calls;
  calls = [];
  return c;
}

class AlphaRoot extends RootContext {
  onConfigure(size: u32): bool {
    calls.push("alpha" + this.contextId.toString() + ".onConfigure(" + size.toString() + ")");
    return true;
  }
}
class BetaRoot extends RootContext {
  onConfigure(size: u32): bool {
    calls.push("beta" + this.contextId.toString() + ".onConfigure(" + size.toString() + ")");
    return true;
  }
}
class OmegaRoot extends RootContext {}
class DefaultRoot extends RootContext {
  onConfigure(size: u32): bool {
    calls.push("default" + this.contextId.toString() + ".onConfigure(" + size.toString() + ")");
    return true;
  }
}

registerRootContext("alpha", (id: u32): RootContext => new AlphaRoot(id));
registerRootContext("beta", (id: u32): RootContext => new BetaRoot(id));
registerRootContext("\u03C9mega", (id: u32): RootContext => new OmegaRoot(id));

function rootIdIs(rootId: string): void {
  mock.setProperty(utf8("plugin_root_id"), utf8(rootId));
}

describe("named root contexts", () => {
  beforeEach(() => {
    mock.reset();
    takeCalls();
  });

  test("the factory registered for plugin_root_id makes the root", () => {
    rootIdIs("beta");
    d.onContextCreate(1, 0);
    expect(mock.count(mock.GET_PROPERTY)).toBe(1);
    expect(mock.recorded(mock.GET_PROPERTY, 0)).toStrictEqual(arrayBytes(utf8("plugin_root_id")));
    const root = getContext(1);
    expect(root !== null && root instanceof BetaRoot).toBe(true);
    expect(d.onConfigure(1, 5)).toBe(true);
    expect(takeCalls()).toStrictEqual(["beta1.onConfigure(5)"]);
    expect(mock.count(mock.LOG)).toBe(0);
  });

  test("another plugin in the same module gets its own root", () => {
    rootIdIs("alpha");
    d.onContextCreate(2, 0);
    const root = getContext(2);
    expect(root !== null && root instanceof AlphaRoot).toBe(true);
    expect(d.onConfigure(2, 0)).toBe(true);
    expect(takeCalls()).toStrictEqual(["alpha2.onConfigure(0)"]);
  });

  test("root ids are compared as UTF-8 text", () => {
    rootIdIs("\u03C9mega");
    d.onContextCreate(3, 0);
    const root = getContext(3);
    expect(root !== null && root instanceof OmegaRoot).toBe(true);
  });

  test("an unknown root_id without a default: onConfigure and onVmStart fail, with a CRITICAL log naming it", () => {
    rootIdIs("gamma");
    d.onContextCreate(4, 0);
    const root = getContext(4);
    expect(root !== null).toBe(true);
    expect(root instanceof AlphaRoot || root instanceof BetaRoot || root instanceof OmegaRoot).toBe(false);
    expect(mock.count(mock.LOG)).toBe(1);
    expect(mock.value(mock.LOG, 0)).toBe(<u32>LogLevel.Critical);
    const message = mock.recordedText(mock.LOG, 0);
    expect(message.includes("root_id 'gamma'")).toBe(true, message);
    expect(message.includes("'alpha', 'beta', '\u03C9mega'")).toBe(true, message);
    expect(d.onVmStart(4, 0)).toBe(false);
    expect(d.onConfigure(4, 10)).toBe(false);
    expect(takeCalls()).toStrictEqual(<string[]>[]);
  });

  test("no plugin_root_id property at all is the empty root_id", () => {
    d.onContextCreate(5, 0); // the mock has no such property: NotFound
    expect(mock.count(mock.LOG)).toBe(1);
    const message = mock.recordedText(mock.LOG, 0);
    expect(message.includes("root_id ''")).toBe(true, message);
    expect(d.onConfigure(5, 0)).toBe(false);
  });

  test("with a default factory set, unknown root_ids use it and nothing is logged", () => {
    setRootContext((id: u32): RootContext => new DefaultRoot(id));
    rootIdIs("delta");
    d.onContextCreate(6, 0);
    const root = getContext(6);
    expect(root !== null && root instanceof DefaultRoot).toBe(true);
    expect(d.onConfigure(6, 1)).toBe(true);
    expect(mock.count(mock.LOG)).toBe(0);
    // Registered names still win over the default.
    rootIdIs("alpha");
    d.onContextCreate(7, 0);
    expect(d.onConfigure(7, 2)).toBe(true);
    expect(takeCalls()).toStrictEqual(["default6.onConfigure(1)", "alpha7.onConfigure(2)"]);
  });
});
