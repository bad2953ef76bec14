// proxy_http_call over real sockets: the cluster name maps to a --cluster URL. What the guest gets
// back follows Envoy's AsyncClient: the upstream's response (headers with :status, whole body,
// trailers); a refused or broken connection before the response headers comes back as Envoy's router
// answer (503 "upstream connect error or disconnect/reset before headers..."), a timeout before the
// headers as 504 "upstream request timeout"; a reset or timeout after the headers arrived is a
// failure (0 headers, proxy_get_status 11 "reset").
import http from "node:http";
import https from "node:https";
import type { HttpCallout } from "../host/callouts.js";
import { MAX_DURATION_MS, type Target } from "./options.js";
import { HOP_BY_HOP, envoyConnectFailure, isValidHeaderName, isValidHeaderValue, textToLatin1 } from "./wire.js";

export interface CalloutAgents {
  http: http.Agent;
  https: https.Agent;
}

export interface CalloutResult {
  kind: "response" | "failure";
  status?: number;
  note?: string;
}

/**
 * Sends `call` to `target` and answers it (respond/fail) when done, then calls `done`. Returns a
 * function that cancels it without answering (used when the proxy shuts down).
 */
export function startHttpCallout(
  call: HttpCallout,
  target: Target,
  agents: CalloutAgents,
  answer: (deliver: () => void, result: CalloutResult) => void,
): () => void {
  let finished = false;
  let timer: NodeJS.Timeout | null = null;
  let headersIn = false;
  const finish = (deliver: () => void, result: CalloutResult, destroy = true) => {
    if (finished) return;
    finished = true;
    if (timer) clearTimeout(timer);
    if (destroy) req.destroy();
    answer(deliver, result);
  };
  const local = (status: number, body: string, note: string) =>
    finish(() => call.routerReply(status, body), { kind: "response", status, note });

  const method = call.header(":method") ?? "GET";
  const path = call.header(":path") ?? "/";
  const authority = call.header(":authority") ?? target.url.host;
  const headers: string[] = [];
  for (const [k, v] of call.headers) {
    if (k.startsWith(":") || k === "host" || HOP_BY_HOP.has(k)) continue;
    const value = textToLatin1(v);
    if (!isValidHeaderName(k) || !isValidHeaderValue(value)) continue;
    headers.push(k, value);
  }
  headers.push("host", textToLatin1(authority));
  const body = call.body;
  if (body.length > 0 && call.header("content-length") === undefined) headers.push("content-length", String(body.length));

  const mod = target.tls ? https : http;
  let req: http.ClientRequest;
  try {
    req = mod.request({
      host: target.hostname,
      port: target.port,
      method,
      path,
      headers,
      setHost: false,
      agent: target.tls ? agents.https : agents.http,
      servername: target.tls ? target.hostname : undefined,
    } as https.RequestOptions);
  } catch (e) {
    // Node refuses the request line (e.g. a path with spaces): Envoy's codec would not send it either.
    queueMicrotask(() =>
      local(503, `upstream connect error or disconnect/reset before headers. reset reason: ${(e as Error).message}`, (e as Error).message),
    );
    return () => {
      finished = true;
    };
  }
  req.on("response", (res) => {
    headersIn = true;
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => {
      const pairs: Array<[Buffer | string, Buffer | string]> = [[":status", String(res.statusCode ?? 0)]];
      addRaw(pairs, res.rawHeaders);
      const trailers: Array<[Buffer | string, Buffer | string]> = [];
      addRaw(trailers, res.rawTrailers);
      const responseBody = Buffer.concat(chunks);
      finish(() => call.respond({ headers: pairs, body: responseBody, trailers }), { kind: "response", status: res.statusCode }, false);
    });
    res.on("aborted", () => finish(() => call.fail(), { kind: "failure", note: "the upstream reset the response" }));
    res.on("error", () => finish(() => call.fail(), { kind: "failure", note: "the upstream reset the response" }));
  });
  req.on("error", (err: NodeJS.ErrnoException) => {
    if (headersIn) finish(() => call.fail(), { kind: "failure", note: err.code ?? err.message });
    else local(503, envoyConnectFailure(err), `${target.display}: ${err.code ?? err.message}`);
  });
  if (call.timeoutMs > 0) {
    // The guest's u32 timeout can exceed what a Node timer holds (2^31-1 ms, else it fires after 1 ms).
    timer = setTimeout(
      () => {
        if (headersIn) finish(() => call.fail(), { kind: "failure", note: `timed out after ${call.timeoutMs}ms` });
        else local(504, "upstream request timeout", `timed out after ${call.timeoutMs}ms`);
      },
      Math.min(call.timeoutMs, MAX_DURATION_MS),
    );
  }
  req.end(body.length > 0 ? body : undefined);
  return () => {
    finished = true;
    if (timer) clearTimeout(timer);
    req.destroy();
  };
}

function addRaw(out: Array<[Buffer | string, Buffer | string]>, raw: string[]): void {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(k)) continue;
    out.push([latin1(k), latin1(raw[i + 1])]);
  }
}

const ASCII = /^[\x00-\x7f]*$/;
/** Node gives header text as latin1; the host takes strings as UTF-8, so non-ASCII goes as bytes. */
export function latin1(s: string): string | Buffer {
  return ASCII.test(s) ? s : Buffer.from(s, "latin1");
}
