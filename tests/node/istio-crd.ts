// A WasmPlugin validator with the Kubernetes API server's checks and message style: Istio's CRD
// (OpenAPI v3 schema, with ajv) plus its CEL rules (implemented in src/manifest/rules.ts). Shared by
// the manifest tests and the examples' deployment tests.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject } from "ajv";
import { parse } from "yaml";
import { checkWasmPluginRules } from "../../src/manifest/rules.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const ISTIO = join(ROOT, "..", "shared", "schemas", "istio");

type Schema = Record<string, unknown>;

/** Kubernetes prunes or rejects unknown fields; make the schema say so, except where it preserves them. */
function structural(s: Schema): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === "properties") out[k] = Object.fromEntries(Object.entries(v as Record<string, Schema>).map(([p, ps]) => [p, structural(ps)]));
    else if ((k === "items" || k === "additionalProperties") && v && typeof v === "object") out[k] = structural(v as Schema);
    else out[k] = v;
  }
  if (out.properties && !out["x-kubernetes-preserve-unknown-fields"] && out.additionalProperties === undefined)
    out.additionalProperties = false;
  return out;
}

function k8sPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : `.${p}`))
    .join("")
    .replace(/^\./, "");
}

function k8sMessage(e: ErrorObject): string {
  const path = k8sPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "required":
      return `${path ? `${path}.` : ""}${p.missingProperty}: Required value`;
    case "minLength":
      return `${path} in body should be at least ${p.limit} chars long`;
    case "maxLength":
      return `${path} in body should be at most ${p.limit} chars long`;
    case "pattern":
      return `${path} in body should match '${p.pattern}'`;
    case "type":
      return `${path} in body must be of type ${p.type}: "${e.data === null ? "null" : Array.isArray(e.data) ? "array" : typeof e.data}"`;
    case "enum":
      return `${path}: Unsupported value: ${JSON.stringify(e.data)}: supported values: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "additionalProperties":
      return `${path}: unknown field "${p.additionalProperty}"`;
    default:
      return `${path}: ${e.message}`;
  }
}

export let validateWasmPlugin: (doc: unknown) => string[];
export let haveCrd = false;

export function loadCrd(): void {
  const crdPath = join(ISTIO, "wasmplugin-crd.yaml");
  if (!existsSync(crdPath)) return;
  const crd = parse(readFileSync(crdPath, "utf8"));
  const version = crd.spec.versions.find((v: { name: string }) => v.name === "v1alpha1");
  const schema = structural(version.schema.openAPIV3Schema);
  (schema.properties as Record<string, Schema>).apiVersion = { type: "string", enum: ["extensions.istio.io/v1alpha1"] };
  (schema.properties as Record<string, Schema>).kind = { type: "string", enum: ["WasmPlugin"] };
  (schema.properties as Record<string, Schema>).metadata = {
    type: "object",
    required: ["name"],
    properties: { name: { type: "string", minLength: 1 }, namespace: { type: "string" } },
    additionalProperties: true,
  };
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false, strictTypes: false });
  for (const kw of [
    "x-kubernetes-validations",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-int-or-string",
  ]) {
    ajv.addKeyword(kw);
  }
  ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("date-time", /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  const validate = ajv.compile(schema);
  validateWasmPlugin = (doc) => {
    const schemaErrors = validate(doc) ? [] : (validate.errors ?? []).map(k8sMessage);
    return [...schemaErrors, ...checkWasmPluginRules(doc).map((v) => `${v.path}: ${v.message}`)];
  };
  haveCrd = true;
}

export function needCrd(t: { skip: (m: string) => void }): boolean {
  if (haveCrd) return true;
  if (process.env.CI === "true") assert.fail(`Istio's CRD is missing at ${ISTIO} (shared/ beside the repository)`);
  t.skip("shared/schemas/istio is not beside the repository");
  return false;
}
