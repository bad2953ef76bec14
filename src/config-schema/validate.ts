// Checking a plugin configuration against the JSON Schema its filter declares (draft-07 by
// default; draft 2019-09 and 2020-12 when the schema's $schema says so), with ajv. Problems are
// named by field path (`request.add.x-a`, `limits[2]`), the way a user finds them in the YAML.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { UserError } from "../errors.js";
import { embeddedConfigSchema } from "./section.js";

type Schema = Record<string, unknown> | boolean;

function ajvFor(schema: Schema): Ajv {
  const draft = typeof schema === "object" ? String(schema.$schema ?? "") : "";
  const options = { allErrors: true, strict: false };
  if (draft.includes("2020-12")) return new Ajv2020(options);
  if (draft.includes("2019-09")) return new Ajv2019(options);
  return new Ajv(options);
}

/** Compiles a schema; a schema that is not valid JSON Schema is a UserError naming `where`. */
export function compileConfigSchema(schema: Schema, where: string): ValidateFunction {
  const ajv = ajvFor(schema);
  try {
    if (!ajv.validateSchema(schema as object)) {
      const e = ajv.errors?.[0];
      throw new UserError(
        `${where} is not a valid JSON Schema: ${e ? `${fieldPath(e.instancePath) || "(top level)"} ${e.message}` : "rejected"}`,
      );
    }
    return ajv.compile(schema as object);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${where} is not a valid JSON Schema: ${(err as Error).message.split("\n")[0]}`);
  }
}

/** "/request/add/x-a" → "request.add.x-a"; "/limits/2" → "limits[2]". */
function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_$][\w$-]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`))
    .join("")
    .replace(/^\./, "");
}

/** One problem as "field: what is wrong". */
export function describeProblem(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  let path = fieldPath(e.instancePath);
  let message = e.message ?? "is invalid";
  if (e.keyword === "required") path = path ? `${path}.${p.missingProperty}` : String(p.missingProperty);
  if (e.keyword === "required") message = "is required";
  if (e.keyword === "additionalProperties") {
    path = path ? `${path}.${p.additionalProperty}` : String(p.additionalProperty);
    message = "is not a known field";
  }
  if (e.propertyName !== undefined) {
    // A key that breaks `propertyNames`: name the key itself.
    path = path ? `${path}.${e.propertyName}` : e.propertyName;
    message = `is not an allowed name (the name ${message})`;
  }
  if (e.keyword === "enum") message = `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  return `${path || "(the configuration)"}: ${message}`;
}

/** Every problem of `value` against the compiled schema, one line each (empty when it passes). */
export function configProblems(validate: ValidateFunction, value: unknown): string[] {
  if (validate(value)) return [];
  // ajv reports a bad key twice: once for the key (with propertyName), once for the object.
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== "propertyNames");
  return [...new Set(errors.map(describeProblem))];
}

/**
 * Checks a configuration (JSON text or bytes) against the schema embedded in `wasm`, if any.
 * Nothing to check when the module has no schema or the configuration is empty (the filter then
 * gets no configuration, as in Envoy). Throws one UserError line naming the first field.
 */
export function checkConfigAgainstModule(wasm: Uint8Array, config: string | Uint8Array, flag: string, moduleName = "the filter"): void {
  const schema = embeddedConfigSchema(wasm);
  if (schema === null) return;
  const text = typeof config === "string" ? config : Buffer.from(config).toString("utf8");
  if (text.trim() === "") return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UserError(
      `${flag} is not JSON (${(err as Error).message.split("\n")[0]}), but ${moduleName} declares a JSON Schema for its configuration`,
    );
  }
  const problems = configProblems(compileConfigSchema(schema, `the configuration schema in ${moduleName}`), value);
  if (problems.length > 0) {
    const more =
      problems.length > 1
        ? ` (and ${problems.length - 1} more: ${problems.slice(1, 4).join("; ")}${problems.length > 4 ? "; …" : ""})`
        : "";
    throw new UserError(
      `${flag} does not match the configuration schema of ${moduleName}: ${problems[0]}${more}; \`proxy-wasm-as config-schema\` prints the schema`,
    );
  }
}
