// The part of Binaryen's JavaScript API the build's transforms use on a compiled module (asc hands a
// transform the binaryen.js module and the binaryen namespace; typed here so nothing loads Binaryen).

/** The binaryen namespace's readers of a function's and an export's details. */
export interface BinaryenApi {
  getFunctionInfo(ref: number): { name: string };
  getExportInfo(ref: number): { name: string };
}

/** A binaryen.js module, as far as the transforms read and change it. */
export interface BinaryenModule {
  getNumFunctions(): number;
  getFunctionByIndex(i: number): number;
  getNumExports(): number;
  getExportByIndex(i: number): number;
  removeExport(name: string): void;
}

/** The names of the module's functions (imports included), in index order. */
export function functionNames(binaryen: Pick<BinaryenApi, "getFunctionInfo">, module: Pick<BinaryenModule, "getNumFunctions" | "getFunctionByIndex">): string[] {
  const names: string[] = [];
  for (let i = 0, n = module.getNumFunctions(); i < n; i++) names.push(binaryen.getFunctionInfo(module.getFunctionByIndex(i)).name);
  return names;
}
