// An asc transform, used by `proxy-wasm-as build` for release modules, that inlines four one-line
// accessors of AssemblyScript's collector (an object's size and its list links and colour) into their
// callers once the compiler has optimized the module.
//
// Why: every object a filter allocates goes through them about six times between `new` and the sweep
// that frees it; in x-service-name that is 45 of the 130 calls the guest makes per request. A call costs
// more than the accessor's four to eight instructions, in V8 and still more in an interpreter such as
// Envoy's WAMR. The release optimizer (shrink level 2) inlines only functions of at most two
// instructions; raising that limit for the whole module inlines dozens of SDK functions and adds up to
// 114 bytes to an example. These four alone add 10 to 40 bytes.
//
// How: asc calls its module's optimize(); this transform runs after it, marks every other function
// as not to be inlined (Binaryen's no-inline pass) and runs Binaryen's inlining with a limit the four
// accessors fit. When the compiler's module is not where this expects it (another compiler version),
// or Binaryen refuses a pass, the module is left as the optimizer made it.

import { type BinaryenApi, type BinaryenModule, functionNames } from "./binaryen-module.js";

/** The collector's accessors to inline (names as AssemblyScript 0.27 and 0.28 give them). */
export const INLINED_ACCESSORS = new Set([
  "~lib/rt/tcms/Object#get:size",
  "~lib/rt/tcms/Object#get:next",
  "~lib/rt/tcms/Object#set:next",
  "~lib/rt/tcms/Object#get:color",
]);
/** Binaryen's size measure of the largest of them. */
const ACCESSOR_SIZE = 8;

/** The compiler's own module wrapper (assemblyscript's Module): what its optimize() runs on. */
interface CompilerModule {
  optimize(...args: unknown[]): void;
  runPasses(passes: string[]): void;
  setPassArgument(key: string, value: string): void;
  setAlwaysInlineMaxSize(size: number): void;
}

export default class InlineRuntimeAccessors {
  // asc assigns these on the prototype before instantiating a transform class.
  declare binaryen: BinaryenApi;
  declare program: { module?: CompilerModule };
  /** Filled after each compile: how many accessors were found (for tests). */
  static lastFound = 0;

  afterCompile(module: BinaryenModule): void {
    InlineRuntimeAccessors.lastFound = 0;
    const compiler = this.program?.module;
    if (!compiler || typeof compiler.optimize !== "function" || typeof compiler.runPasses !== "function") return;
    const b = this.binaryen;
    const optimize = compiler.optimize;
    // Only after the first optimization. The no-inline marks stay on the module, so a later round
    // (asc's --converge) inlines nothing more; the four accessors are inlined by then.
    compiler.optimize = function (this: CompilerModule, ...args: unknown[]): void {
      optimize.apply(this, args);
      compiler.optimize = optimize;
      // Unoptimized builds (optimize and shrink levels 0, as a debug target has) stay as they are.
      if (!args[0] && !args[1]) return;
      const names = functionNames(b, module);
      const others = names.filter((name) => !INLINED_ACCESSORS.has(name));
      const found = names.length - others.length;
      if (found === 0) return;
      try {
        // Binaryen's pattern is a wildcard match: `*` and `?` in a name would match more, never less.
        for (const name of others) {
          this.setPassArgument("no-inline", name);
          this.runPasses(["no-inline"]);
        }
        this.setAlwaysInlineMaxSize(ACCESSOR_SIZE);
        this.runPasses(["inlining-optimizing", "remove-unused-module-elements"]);
        InlineRuntimeAccessors.lastFound = found;
      } catch {
        // A Binaryen without these passes: the optimized module stays as it is.
      }
    };
  }
}
