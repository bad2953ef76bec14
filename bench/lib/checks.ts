// Each build of a seed filter (ours, the peer's, the WAT floor) must behave like the seed filter in
// the host before its numbers mean anything. These checks run one request and throw on a difference.
import { LogLevel } from "../../src/host/index.js";
import { REQUEST_HEADERS, RESPONSE_HEADERS, type Running } from "./harness.js";
import type { SeedName } from "./filters.js";

const SERVICE = "my-custom-service";
const BODY = "Hello from Wasm!\n";

/** Throws unless the module behaves like the seed filter `name`. */
export function checkSeedBehaviour(name: SeedName, r: Running): void {
  const fail = (what: string) => {
    throw new Error(`${r.label} does not behave like the ${name} filter: ${what}`);
  };
  r.host.clearLogs();
  const s = r.host.httpStream();
  s.requestHeaders(REQUEST_HEADERS, true);
  if (name === "x-service-name") {
    const local = s.sentHttpResponse;
    if (!local) fail("no local response to the request");
    else {
      if (local.status !== 200) fail(`local response status ${local.status}, expected 200`);
      const values = local.headers.filter(([k]) => k === "x-service-name").map(([, v]) => v);
      if (values.length !== 1 || values[0] !== SERVICE)
        fail(`local response x-service-name ${JSON.stringify(values)}, expected ["${SERVICE}"]`);
      if (local.body.toString() !== BODY)
        fail(`local response body ${JSON.stringify(local.body.toString())}, expected ${JSON.stringify(BODY)}`);
    }
    const info = r.host.logMessages(LogLevel.Info);
    // The peer SDK logs through WASI stdout with a "[INFO]: " prefix; the text itself must match.
    if (!info.some((m) => m.endsWith("Received request for: example.com /hello?x=1"))) {
      fail(`no info log "Received request for: example.com /hello?x=1" (got ${JSON.stringify(info)})`);
    }
  } else {
    if (s.sentHttpResponse) fail(`unexpected local response ${s.sentHttpResponse.status}`);
    s.responseHeaders(RESPONSE_HEADERS, true);
    const values = s.response.headerValues("x-service-name");
    if (values.length !== 1 || values[0] !== SERVICE) fail(`response x-service-name ${JSON.stringify(values)}, expected ["${SERVICE}"]`);
    if (s.response.header("content-type") !== "text/plain") fail("the upstream's content-type was lost");
  }
  s.complete();
  if (r.host.failures.length > 0) fail(`${r.host.failures[0].callback}: ${r.host.failures[0].message}`);
  r.host.clearLogs();
}
