// How a registry exchange failed, as one line: the registry's own error (distribution-spec JSON or
// the first line of text) and network failures named by what to do about them.
import { UserError } from "../errors.js";

/** The registry's explanation of a failed response, ": CODE message", or "". */
export async function errorDetail(res: Response): Promise<string> {
  let text = "";
  try {
    text = (await res.text()).slice(0, 4096);
  } catch {
    return "";
  }
  try {
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = body.errors?.[0];
    if (e && (e.code || e.message)) return `: ${[e.code, e.message].filter(Boolean).join(" ")}`;
  } catch {
    // not the distribution error format
  }
  const line = text.trim().split("\n")[0]?.trim() ?? "";
  return line ? `: ${line.slice(0, 200)}` : "";
}

/** Drops a response body nobody reads (it would hold the connection). */
export async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // already consumed or closed
  }
}

function causeOf(err: unknown): { code?: string; message: string } {
  let e = err as { code?: string; message?: string; cause?: unknown } | undefined;
  // fetch wraps the socket error: TypeError("fetch failed", { cause }).
  while (e?.cause && typeof e.cause === "object") e = e.cause as typeof e;
  return { code: e?.code, message: e?.message ?? String(err) };
}

/** A fetch that threw (no HTTP answer), named by its cause and what to do. */
export function networkError(err: unknown, action: string, host: string, opts: { insecure?: boolean; timeoutMs?: number }): UserError {
  if (err instanceof UserError) return err;
  const { code, message } = causeOf(err);
  const name = (err as Error)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new UserError(
      `registry ${host} did not answer within ${Math.round((opts.timeoutMs ?? 120_000) / 1000)} s during ${action}; nothing was tagged, try again (or raise --timeout)`,
    );
  }
  if (
    !opts.insecure &&
    (/^ERR_SSL_|^EPROTO$/.test(code ?? "") || /wrong version number|packet length too long|http request/i.test(message))
  ) {
    return new UserError(
      `cannot talk HTTPS to registry ${host}: it answered the TLS handshake with something else, most likely plain HTTP; if it is a local or test registry you trust, pass --insecure to use plain HTTP`,
    );
  }
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(code ?? "")) {
    return new UserError(
      `the TLS certificate of registry ${host} is not trusted (${code}); add its CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
    );
  }
  switch (code) {
    case "ECONNREFUSED":
      return new UserError(
        `cannot connect to registry ${host} (connection refused) during ${action}: is it running, and is the host:port right?`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new UserError(`cannot resolve the registry host ${host} (${code}): check the name`);
    default:
      return new UserError(
        `the connection to registry ${host} failed during ${action} (${code ?? message}); nothing was tagged, try again`,
      );
  }
}
