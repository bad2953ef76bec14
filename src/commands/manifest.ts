// `proxy-wasm-as manifest [filter.wasm] --image REF | --url URL`: write what deploys the filter:
// an Istio WasmPlugin (default), an EnvoyFilter pair, a standalone envoy.yaml, or an Envoy Gateway
// EnvoyExtensionPolicy.
import { Option, type Command } from "commander";
import { writeFile } from "node:fs/promises";
import { buildManifests, type ManifestFlags } from "../manifest/build.js";
import { MANIFEST_KINDS } from "../manifest/generate.js";
import { addBuildOptions, addRegistryOptions } from "../oci/cli-options.js";
import { UserError } from "../errors.js";

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

export function register(program: Command): void {
  const cmd = program
    .command("manifest")
    .description("write the Kubernetes or Envoy configuration that deploys a filter (Istio WasmPlugin by default)")
    .argument("[filter.wasm]", "the module: gives the sha256 (and the resource name) unless --sha256/--resolve/@sha256 say it")
    .addOption(new Option("--kind <kind>", "what to write").choices(MANIFEST_KINDS as string[]).default("wasmplugin"))
    .option("--image <reference>", "OCI image the proxies pull: REGISTRY/REPOSITORY:TAG or …@sha256:DIGEST")
    .option("--url <url>", "http(s):// (or, for WasmPlugin, file://) URL the proxies load the module from")
    .option("--sha256 <digest>", "checksum to write (image manifest digest for --image, module sha256 for --url)")
    .option("--resolve", "read the image digest from the registry (and check Istio can unpack the image)")
    .option("--config <json|@file>", "plugin configuration (JSON), delivered to proxy_on_configure")
    .option("--name <name>", "resource name (default: from the file or image name)")
    .option("-n, --namespace <namespace>", "Kubernetes namespace")
    .option("--selector <label=value>", "workload label to match (repeatable)", collect)
    .option(
      "--target-ref <kind/name>",
      "Gateway, GatewayClass, Service or ServiceEntry (WasmPlugin); Gateway, HTTPRoute or GRPCRoute (Envoy Gateway); repeatable",
      collect,
    )
    .option("--phase <phase>", "AUTHN, AUTHZ or STATS (default: just before the router)")
    .option("--priority <n>", "order within the phase; higher runs first")
    .option("--fail-strategy <strategy>", "FAIL_CLOSE (default), FAIL_OPEN or FAIL_RELOAD")
    .option("--pull-policy <policy>", "IfNotPresent or Always")
    .option("--pull-secret <secret>", "Secret with registry credentials, in the resource's namespace")
    .option("--plugin-name <root-id>", "Envoy root_id (WasmPlugin pluginName, Envoy Gateway rootID)")
    .option("--type <type>", "HTTP or NETWORK (default: read from the module's callbacks; needed when it has both kinds)")
    .option("--env <name=value>", "environment variable of the filter's VM, read with WASI environ_get (repeatable)", collect)
    .option("--host-env <name>", "pass the proxy's own environment variable to the VM (repeatable)", collect)
    .option("--match-mode <mode>", "CLIENT (outbound, gateways), SERVER (inbound) or CLIENT_AND_SERVER (default)")
    .option("--match-port <port>", "apply only to traffic on this port (repeatable)", collect)
    .option("--upstream <host:port>", "envoy.yaml: where Envoy forwards requests (or, for a network filter, connections)")
    .option("--listen <[host:]port>", "envoy.yaml: listener address (default 0.0.0.0:10000)")
    .option("--admin-port <port>", "envoy.yaml: admin port on 127.0.0.1 (default 9901)")
    .option("--module-path <path>", "envoy.yaml: module path as Envoy sees it (default: the file's absolute path)")
    .option("-o, --output <file>", "write to this file instead of standard output");
  addBuildOptions(cmd);
  addRegistryOptions(cmd)
    .addHelpText(
      "after",
      "\nsha256: for --image it is the image manifest digest, which Istio compares; it is computed the way\n" +
        "`push` builds the image from the same .wasm and --variant/--created/--annotation flags (same\n" +
        "proxy-wasm-as and Node version), or read from the registry with --resolve.\n" +
        "Examples:\n" +
        "  proxy-wasm-as manifest filter.wasm --image ghcr.io/acme/filter:v1 --selector app=reviews\n" +
        "  proxy-wasm-as manifest --image ghcr.io/acme/filter:v1 --resolve --kind envoy-gateway --target-ref HTTPRoute/backend\n" +
        "  proxy-wasm-as manifest filter.wasm --kind envoy --upstream 127.0.0.1:8080 -o envoy.yaml",
    )
    .action(async (file: string | undefined, flags: ManifestFlags & { output?: string }) => {
      const result = await buildManifests(file, flags, (l) => process.stderr.write(`${l}\n`));
      if (flags.output) {
        try {
          await writeFile(flags.output, result.yaml);
        } catch (err) {
          throw new UserError(`cannot write ${flags.output}: ${(err as Error).message}`);
        }
        process.stderr.write(`wrote ${flags.output}\n`);
      } else {
        process.stdout.write(result.yaml);
      }
    });
}
