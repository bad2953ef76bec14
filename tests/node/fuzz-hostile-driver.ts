// What fuzz-hostile.test.ts drives the host through: random but valid sequences of operations on
// HTTP streams, TCP connections, ticks, foreign functions, callout answers and reconfiguration.
import fc from "fast-check";
import type { Host, HttpStream, TcpConnection } from "../../src/host/index.js";

type Op =
  | { kind: "http"; eos: boolean }
  | { kind: "reqBody" | "respBody"; eos: boolean }
  | { kind: "reqTrailers" | "respTrailers" | "respHeaders" | "complete" }
  | { kind: "tcp" }
  | { kind: "down" | "up"; eos: boolean }
  | { kind: "closeDown" | "closeUp" }
  | { kind: "tick" | "foreign" | "httpRespond" | "httpFail" | "grpcRespond" | "grpcClose" | "validate" | "reconfigure" };

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("http" as const), eos: fc.boolean() }),
  fc.record({ kind: fc.constantFrom("reqBody" as const, "respBody" as const), eos: fc.boolean() }),
  fc.record({ kind: fc.constantFrom("reqTrailers" as const, "respTrailers" as const, "respHeaders" as const, "complete" as const) }),
  fc.record({ kind: fc.constant("tcp" as const) }),
  fc.record({ kind: fc.constantFrom("down" as const, "up" as const), eos: fc.boolean() }),
  fc.record({ kind: fc.constantFrom("closeDown" as const, "closeUp" as const) }),
  fc.record({
    kind: fc.constantFrom(
      "tick" as const,
      "foreign" as const,
      "httpRespond" as const,
      "httpFail" as const,
      "grpcRespond" as const,
      "grpcClose" as const,
      "validate" as const,
      "reconfigure" as const,
    ),
  }),
);

/** Where one HTTP stream is, so every op is a valid next step (the harness rejects misuse by a test). */
interface HttpState {
  s: HttpStream;
  reqEnd: boolean;
  respHeaders: boolean;
  respEnd: boolean;
}

export class Driver {
  http: HttpState[] = [];
  tcp: TcpConnection[] = [];
  constructor(readonly host: Host) {}

  private lastHttp(): HttpState {
    let h = this.http.at(-1);
    if (!h) {
      h = { s: this.host.httpStream(), reqEnd: false, respHeaders: false, respEnd: false };
      h.s.requestHeaders(
        [
          [":path", "/"],
          [":method", "POST"],
          ["x-a", "1"],
        ],
        false,
      );
      this.http.push(h);
    }
    return h;
  }

  private endRequest(h: HttpState): void {
    if (!h.reqEnd) h.s.requestBody("end", true), (h.reqEnd = true);
  }

  private lastTcp(): TcpConnection {
    let c = this.tcp.at(-1);
    if (!c) this.tcp.push((c = this.host.tcpConnection()));
    return c;
  }

  run(op: Op): void {
    const host = this.host;
    switch (op.kind) {
      case "http": {
        const s = host.httpStream();
        s.requestHeaders(
          [
            [":path", "/x"],
            [":method", "GET"],
            [":authority", "fuzz"],
            ["x-b", "\xff\x00"],
          ],
          op.eos,
        );
        this.http.push({ s, reqEnd: op.eos, respHeaders: false, respEnd: false });
        return;
      }
      case "reqBody": {
        const h = this.lastHttp();
        if (h.reqEnd) return;
        h.s.requestBody("body", op.eos);
        h.reqEnd = op.eos;
        return;
      }
      case "reqTrailers": {
        const h = this.lastHttp();
        if (h.reqEnd) return;
        h.s.requestTrailers([["t", "1"]]);
        h.reqEnd = true;
        return;
      }
      case "respHeaders": {
        const h = this.lastHttp();
        if (h.respHeaders) return;
        this.endRequest(h);
        h.s.responseHeaders(
          [
            [":status", "200"],
            ["x-r", "1"],
          ],
          false,
        );
        h.respHeaders = true;
        return;
      }
      case "respBody":
      case "respTrailers": {
        const h = this.lastHttp();
        if (!h.respHeaders) this.run({ kind: "respHeaders" });
        if (h.respEnd) return;
        if (op.kind === "respBody") h.s.responseBody("resp", op.eos), (h.respEnd = op.eos);
        else h.s.responseTrailers([["rt", "1"]]), (h.respEnd = true);
        return;
      }
      case "complete": {
        const h = this.http.pop();
        if (h) h.s.complete();
        return;
      }
      case "tcp":
        this.tcp.push(host.tcpConnection());
        return;
      case "down":
      case "up": {
        const c = this.lastTcp();
        if (op.kind === "down" ? c.downstream.closed : c.upstream.closed) return;
        if (op.kind === "down") c.downstreamData("tcp-down", op.eos);
        else c.upstreamData("tcp-up", op.eos);
        return;
      }
      case "closeDown":
      case "closeUp": {
        const c = this.lastTcp();
        if (op.kind === "closeDown") {
          if (!c.downstream.closed) c.closeDownstream();
        } else if (!c.upstream.closed) c.closeUpstream();
        if (c.downstream.closed) this.tcp.pop();
        return;
      }
      case "tick":
        host.tick();
        return;
      case "foreign":
        host.callForeignFunction(3, "args");
        return;
      case "httpRespond":
      case "httpFail": {
        const call = host.httpCalls[0];
        if (!call) return;
        if (op.kind === "httpRespond") call.respond({ headers: [[":status", "200"]], body: "ok", trailers: [["t", "1"]] });
        else call.fail();
        return;
      }
      case "grpcRespond":
      case "grpcClose": {
        const call = host.grpcCalls[0];
        if (!call) return;
        if (op.kind === "grpcClose") call.close(14, "unavailable");
        else if (call.kind === "call") call.respond("message");
        else call.receiveInitialMetadata([["m", "1"]]), call.receive("message"), call.receiveTrailingMetadata([["t", "1"]]);
        return;
      }
      case "validate":
        host.validateConfiguration("{}");
        return;
      case "reconfigure":
        host.reconfigure("{}");
        return;
    }
  }

  finish(): void {
    for (const h of this.http.splice(0)) h.s.complete();
    for (const c of this.tcp.splice(0)) c.complete();
  }
}
