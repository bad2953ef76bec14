// Dispatcher routing (dispatcher.ts): the host's proxy_on_* callbacks, called here as the exported
// shims call them, must reach the right context method with the right arguments; callouts must reach
// the context that made them, after proxy_set_effective_context(owner); unknown ids must be harmless.
import * as d from "../../assembly/dispatcher";
import { setRootContext, setHttpContext, getContext } from "../../assembly/registry";
import { contexts } from "../../assembly/contexts";
import { RootContext } from "../../assembly/root-context";
import { HttpContext } from "../../assembly/http-context";
import { Header, HeaderBytes } from "../../assembly/headers";
import { Action } from "../../assembly/types";
import * as mock from "./mock";

// Every context callback appends one line here.
let calls: string[] = [];
function called(line: string): void {
  calls.push(line);
}
/** The calls since the last take, then forgets them. */
function takeCalls(): string[] {
  const c = calls;
  calls = [];
  return c;
}
function b(v: bool): string {
  return v ? "true" : "false";
}
/** The context id the host was last told to make current (0 when never). */
function effective(): u32 {
  const n = mock.count(mock.EFFECTIVE_CONTEXT);
  return n == 0 ? 0 : mock.value(mock.EFFECTIVE_CONTEXT, n - 1);
}

class TestRoot extends RootContext {
  onVmStart(size: u32): bool {
    called("root" + this.contextId.toString() + ".onVmStart(" + size.toString() + ")");
    return true;
  }
  onConfigure(size: u32): bool {
    called("root" + this.contextId.toString() + ".onConfigure(" + size.toString() + ")");
    return size != 99;
  }
  onTick(): void {
    called("root" + this.contextId.toString() + ".onTick");
  }
  onQueueReady(queueId: u32): void {
    called("root" + this.contextId.toString() + ".onQueueReady(" + queueId.toString() + ")");
  }
  createHttpContext(contextId: u32): HttpContext | null {
    // The root's own choice wins over setHttpContext's factory.
    return contextId == 500 ? new SpecialHttp(contextId) : null;
  }
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    called(
      "root" +
        this.contextId.toString() +
        ".onHttpCallResponse(" +
        token.toString() +
        "," +
        numHeaders.toString() +
        "," +
        bodySize.toString() +
        "," +
        numTrailers.toString() +
        ")",
    );
  }
  onGrpcCallResponse(token: u32, statusCode: u32, responseSize: u32): void {
    called(
      "root" +
        this.contextId.toString() +
        ".onGrpcCallResponse(" +
        token.toString() +
        "," +
        statusCode.toString() +
        "," +
        responseSize.toString() +
        ")",
    );
  }
}

class TestHttp extends HttpContext {
  constructor(
    contextId: u32,
    public factoryRootId: u32,
  ) {
    super(contextId);
  }
  private name(): string {
    return "http" + this.contextId.toString();
  }
  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    called(this.name() + ".onRequestHeaders(" + numHeaders.toString() + "," + b(endOfStream) + ")");
    return Action.Pause;
  }
  onHttpRequestBody(bodySize: u32, endOfStream: bool): Action {
    called(this.name() + ".onRequestBody(" + bodySize.toString() + "," + b(endOfStream) + ")");
    return Action.Pause;
  }
  onHttpRequestTrailers(numTrailers: u32): Action {
    called(this.name() + ".onRequestTrailers(" + numTrailers.toString() + ")");
    return Action.Pause;
  }
  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    called(this.name() + ".onResponseHeaders(" + numHeaders.toString() + "," + b(endOfStream) + ")");
    return Action.Pause;
  }
  onHttpResponseBody(bodySize: u32, endOfStream: bool): Action {
    called(this.name() + ".onResponseBody(" + bodySize.toString() + "," + b(endOfStream) + ")");
    return Action.Pause;
  }
  onHttpResponseTrailers(numTrailers: u32): Action {
    called(this.name() + ".onResponseTrailers(" + numTrailers.toString() + ")");
    return Action.Pause;
  }
  onDone(): bool {
    called(this.name() + ".onDone");
    return false;
  }
  onLog(): void {
    called(this.name() + ".onLog");
  }
  onDelete(): void {
    called(this.name() + ".onDelete");
  }
  // Callout callbacks also note which context the host was told to make current at that moment.
  onHttpCallResponse(token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
    called(
      this.name() +
        ".onHttpCallResponse(" +
        token.toString() +
        "," +
        numHeaders.toString() +
        "," +
        bodySize.toString() +
        "," +
        numTrailers.toString() +
        ") effective=" +
        effective().toString(),
    );
  }
  onGrpcCallResponse(token: u32, statusCode: u32, responseSize: u32): void {
    called(
      this.name() +
        ".onGrpcCallResponse(" +
        token.toString() +
        "," +
        statusCode.toString() +
        "," +
        responseSize.toString() +
        ") effective=" +
        effective().toString(),
    );
  }
  onGrpcStreamInitialMetadata(token: u32, numElements: u32): void {
    called(
      this.name() +
        ".onGrpcStreamInitialMetadata(" +
        token.toString() +
        "," +
        numElements.toString() +
        ") effective=" +
        effective().toString(),
    );
  }
  onGrpcStreamMessage(token: u32, messageSize: u32): void {
    called(
      this.name() + ".onGrpcStreamMessage(" + token.toString() + "," + messageSize.toString() + ") effective=" + effective().toString(),
    );
  }
  onGrpcStreamTrailingMetadata(token: u32, numElements: u32): void {
    called(
      this.name() +
        ".onGrpcStreamTrailingMetadata(" +
        token.toString() +
        "," +
        numElements.toString() +
        ") effective=" +
        effective().toString(),
    );
  }
  onGrpcStreamClose(token: u32, statusCode: u32): void {
    called(this.name() + ".onGrpcStreamClose(" + token.toString() + "," + statusCode.toString() + ") effective=" + effective().toString());
  }
}

class SpecialHttp extends HttpContext {
  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    called("special" + this.contextId.toString() + ".onRequestHeaders(" + numHeaders.toString() + ")");
    return Action.Continue;
  }
}

setRootContext((contextId: u32): RootContext => new TestRoot(contextId));
setHttpContext((contextId: u32, rootContextId: u32): HttpContext => new TestHttp(contextId, rootContextId));

const ROOT: u32 = 1;

/** Every test starts with mock and call log cleared and root context 1 alive (each test can run alone). */
function setUp(): void {
  mock.reset();
  if (getContext(ROOT) === null) d.onContextCreate(ROOT, 0);
  takeCalls();
}

/** A new HTTP stream of the root, as Envoy creates one. */
function stream(id: u32): TestHttp {
  d.onContextCreate(id, ROOT);
  const c = getContext(id);
  assert(c !== null && c instanceof TestHttp, "stream not created");
  return changetype<TestHttp>(c);
}

function requestHeaders(): Header[] {
  return [new Header(":method", "GET"), new Header(":path", "/"), new Header(":authority", "svc")];
}

describe("dispatcher: contexts", () => {
  beforeEach(setUp);

  test("parent 0 creates a root context from the root factory", () => {
    d.onContextCreate(7, 0);
    const root = getContext(7);
    expect(root !== null && root instanceof TestRoot).toBe(true);
    expect(d.onVmStart(7, 12)).toBe(true);
    expect(d.onConfigure(7, 34)).toBe(true);
    expect(d.onConfigure(7, 99)).toBe(false); // the root's answer is passed on
    d.onTick(7);
    d.onQueueReady(7, 3);
    expect(d.onConfigure(ROOT, 1)).toBe(true);
    expect(takeCalls()).toStrictEqual([
      "root7.onVmStart(12)",
      "root7.onConfigure(34)",
      "root7.onConfigure(99)",
      "root7.onTick",
      "root7.onQueueReady(3)",
      "root1.onConfigure(1)",
    ]);
  });

  test("a child of the root is an HTTP context from the factory, given (id, root id)", () => {
    const s = stream(2);
    expect(s.factoryRootId).toBe(ROOT);
    expect(s.getRootContext() === getContext(ROOT)).toBe(true);
  });

  test("the root's createHttpContext wins over the factory", () => {
    d.onContextCreate(500, ROOT);
    const c = getContext(500);
    expect(c !== null && c instanceof SpecialHttp).toBe(true);
    expect(changetype<HttpContext>(c).getRootContext() === getContext(ROOT)).toBe(true);
    expect(d.onHttpRequestHeaders(500, 4, 0)).toBe(Action.Continue);
    expect(takeCalls()).toStrictEqual(["special500.onRequestHeaders(4)"]);
  });

  test("HTTP callbacks reach the stream's context with their arguments and return its Action", () => {
    stream(3);
    expect(d.onHttpRequestHeaders(3, 5, 1)).toBe(Action.Pause);
    expect(d.onHttpRequestHeaders(3, 6, 0)).toBe(Action.Pause);
    expect(d.onHttpRequestBody(3, 100, 0)).toBe(Action.Pause);
    expect(d.onHttpRequestTrailers(3, 2)).toBe(Action.Pause);
    expect(d.onHttpResponseHeaders(3, 7, 0)).toBe(Action.Pause);
    expect(d.onHttpResponseBody(3, 0, 1)).toBe(Action.Pause);
    expect(d.onHttpResponseTrailers(3, 1)).toBe(Action.Pause);
    expect(d.onDone(3)).toBe(false);
    d.onLog(3);
    expect(takeCalls()).toStrictEqual([
      "http3.onRequestHeaders(5,true)",
      "http3.onRequestHeaders(6,false)",
      "http3.onRequestBody(100,false)",
      "http3.onRequestTrailers(2)",
      "http3.onResponseHeaders(7,false)",
      "http3.onResponseBody(0,true)",
      "http3.onResponseTrailers(1)",
      "http3.onDone",
      "http3.onLog",
    ]);
  });

  test("two streams are kept apart", () => {
    stream(10);
    stream(11);
    d.onHttpRequestHeaders(11, 1, 0);
    d.onHttpRequestHeaders(10, 2, 0);
    expect(takeCalls()).toStrictEqual(["http11.onRequestHeaders(1,false)", "http10.onRequestHeaders(2,false)"]);
  });

  test("onDelete runs the context's onDelete once and forgets it", () => {
    stream(4);
    const before = contexts.size;
    d.onDelete(4);
    expect(getContext(4)).toBeNull();
    expect(contexts.size).toBe(before - 1);
    expect(d.onHttpRequestHeaders(4, 1, 0)).toBe(Action.Continue);
    d.onDelete(4);
    expect(takeCalls()).toStrictEqual(["http4.onDelete"]);
  });

  test("unknown context ids return Continue (or the ABI's neutral answer), call nothing and do not trap", () => {
    expect(d.onHttpRequestHeaders(999, 1, 0)).toBe(Action.Continue);
    expect(d.onHttpRequestBody(999, 1, 1)).toBe(Action.Continue);
    expect(d.onHttpRequestTrailers(999, 1)).toBe(Action.Continue);
    expect(d.onHttpResponseHeaders(999, 1, 0)).toBe(Action.Continue);
    expect(d.onHttpResponseBody(999, 1, 1)).toBe(Action.Continue);
    expect(d.onHttpResponseTrailers(999, 1)).toBe(Action.Continue);
    expect(d.onNewConnection(999)).toBe(Action.Continue);
    expect(d.onDownstreamData(999, 1, 0)).toBe(Action.Continue);
    expect(d.onUpstreamData(999, 1, 0)).toBe(Action.Continue);
    d.onDownstreamClose(999, 1);
    d.onUpstreamClose(999, 2);
    expect(d.onVmStart(999, 0)).toBe(false);
    expect(d.onConfigure(999, 0)).toBe(false);
    d.onTick(999);
    d.onQueueReady(999, 1);
    d.onForeignFunction(999, 1, 0);
    expect(d.onDone(999)).toBe(true);
    d.onLog(999);
    d.onDelete(999);
    d.onContextCreate(1000, 999); // parent unknown: nothing is created
    expect(getContext(1000)).toBeNull();
    expect(takeCalls()).toStrictEqual(<string[]>[]);
  });

  test("callbacks of the wrong kind are ignored: HTTP on a root id, TCP on an HTTP id", () => {
    stream(12);
    expect(d.onHttpRequestHeaders(ROOT, 1, 0)).toBe(Action.Continue);
    expect(d.onNewConnection(12)).toBe(Action.Continue);
    expect(d.onDownstreamData(12, 5, 0)).toBe(Action.Continue);
    expect(d.onConfigure(12, 0)).toBe(false); // not a root
    d.onContextCreate(1001, 12); // parent is not a root: nothing is created
    expect(getContext(1001)).toBeNull();
    expect(takeCalls()).toStrictEqual(<string[]>[]);
  });
});

describe("dispatcher: HTTP callouts", () => {
  beforeEach(setUp);

  test("the response reaches the HTTP context that called, after proxy_set_effective_context(its id)", () => {
    const s = stream(20);
    mock.setNextToken(42);
    expect(s.dispatchHttpCall("auth-cluster", requestHeaders(), null, [], 1000)).toBe(42);
    expect(mock.recordedText(mock.HTTP_CALL, 0)).toBe("auth-cluster");
    d.onHttpCallResponse(ROOT, 42, 3, 10, 1);
    expect(takeCalls()).toStrictEqual(["http20.onHttpCallResponse(42,3,10,1) effective=20"]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(1);
    expect(mock.value(mock.EFFECTIVE_CONTEXT, 0)).toBe(20);
  });

  test("a token is delivered once: a repeat is treated as untracked and goes to the root", () => {
    const s = stream(21);
    mock.setNextToken(43);
    s.dispatchHttpCall("c", requestHeaders(), null, [], 1000);
    d.onHttpCallResponse(ROOT, 43, 1, 0, 0);
    d.onHttpCallResponse(ROOT, 43, 1, 0, 0);
    expect(takeCalls()).toStrictEqual(["http21.onHttpCallResponse(43,1,0,0) effective=21", "root1.onHttpCallResponse(43,1,0,0)"]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(1);
  });

  test("a call made by the root: the root gets the response, no effective-context switch", () => {
    const root = changetype<RootContext>(getContext(ROOT));
    mock.setNextToken(50);
    expect(root.dispatchHttpCall("c", requestHeaders(), null, [], 1000)).toBe(50);
    d.onHttpCallResponse(ROOT, 50, 2, 3, 0);
    expect(takeCalls()).toStrictEqual(["root1.onHttpCallResponse(50,2,3,0)"]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(0);
  });

  test("a token the SDK did not track (raw hostcall) goes to the root", () => {
    d.onHttpCallResponse(ROOT, 777, 0, 0, 0);
    expect(takeCalls()).toStrictEqual(["root1.onHttpCallResponse(777,0,0,0)"]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(0);
  });

  test("the caller was deleted before the response: nothing runs, nothing traps", () => {
    const s = stream(22);
    mock.setNextToken(60);
    s.dispatchHttpCall("c", requestHeaders(), null, [], 1000);
    d.onDelete(22);
    takeCalls();
    d.onHttpCallResponse(ROOT, 60, 1, 0, 0);
    expect(takeCalls()).toStrictEqual(<string[]>[]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(0);
  });

  test("an unknown root id with an unknown token does nothing", () => {
    d.onHttpCallResponse(888, 12345, 1, 1, 1);
    d.onGrpcReceive(888, 12345, 1);
    d.onGrpcClose(888, 12345, 0);
    expect(takeCalls()).toStrictEqual(<string[]>[]);
  });
});

describe("dispatcher: gRPC callouts", () => {
  beforeEach(setUp);

  test("unary call: metadata and the response reach the caller; the token ends with the response", () => {
    const s = stream(30);
    mock.setNextToken(70);
    const t = s.dispatchGrpcCall("grpc-cluster", "pkg.Svc", "Get", <HeaderBytes[]>[], null, 1000);
    expect(t).toBe(70);
    expect(mock.recordedText(mock.GRPC_CALL, 0)).toBe("grpc-cluster");
    d.onGrpcStreamInitialMetadata(ROOT, t, 2);
    d.onGrpcReceive(ROOT, t, 9);
    // After the response the call is over: a later message is not the caller's any more.
    d.onGrpcReceive(ROOT, t, 1);
    expect(takeCalls()).toStrictEqual([
      "http30.onGrpcStreamInitialMetadata(70,2) effective=30",
      "http30.onGrpcCallResponse(70,0,9) effective=30",
      "root1.onGrpcCallResponse(70,0,1)",
    ]);
  });

  test("unary call that fails: close with a status reaches onGrpcCallResponse(token, status, 0)", () => {
    const s = stream(31);
    mock.setNextToken(71);
    const t = s.dispatchGrpcCall("grpc-cluster", "pkg.Svc", "Get", <HeaderBytes[]>[], null, 1000);
    d.onGrpcStreamTrailingMetadata(ROOT, t, 1);
    d.onGrpcClose(ROOT, t, 14);
    expect(takeCalls()).toStrictEqual([
      "http31.onGrpcStreamTrailingMetadata(71,1) effective=31",
      "http31.onGrpcCallResponse(71,14,0) effective=31",
    ]);
  });

  test("stream: every message goes to onGrpcStreamMessage until close, then onGrpcStreamClose", () => {
    const s = stream(32);
    mock.setNextToken(80);
    const t = s.openGrpcStream("grpc-cluster", "pkg.Svc", "Watch", <HeaderBytes[]>[]);
    expect(t).toBe(80);
    expect(mock.count(mock.GRPC_STREAM)).toBe(1);
    d.onGrpcStreamInitialMetadata(ROOT, t, 1);
    d.onGrpcReceive(ROOT, t, 5);
    d.onGrpcReceive(ROOT, t, 6);
    d.onGrpcStreamTrailingMetadata(ROOT, t, 2);
    d.onGrpcClose(ROOT, t, 0);
    // Closed: the token is forgotten.
    d.onGrpcReceive(ROOT, t, 1);
    expect(takeCalls()).toStrictEqual([
      "http32.onGrpcStreamInitialMetadata(80,1) effective=32",
      "http32.onGrpcStreamMessage(80,5) effective=32",
      "http32.onGrpcStreamMessage(80,6) effective=32",
      "http32.onGrpcStreamTrailingMetadata(80,2) effective=32",
      "http32.onGrpcStreamClose(80,0) effective=32",
      "root1.onGrpcCallResponse(80,0,1)",
    ]);
    expect(mock.count(mock.EFFECTIVE_CONTEXT)).toBe(5);
  });

  test("unary and stream tokens of different streams are routed independently", () => {
    const a = stream(33);
    const c = stream(34);
    mock.setNextToken(90);
    const unary = a.dispatchGrpcCall("g", "S", "M", <HeaderBytes[]>[], null, 1000); // 90
    const st = c.openGrpcStream("g", "S", "W", <HeaderBytes[]>[]); // 91
    d.onGrpcReceive(ROOT, st, 3);
    d.onGrpcReceive(ROOT, unary, 4);
    d.onGrpcClose(ROOT, st, 2);
    expect(takeCalls()).toStrictEqual([
      "http34.onGrpcStreamMessage(91,3) effective=34",
      "http33.onGrpcCallResponse(90,0,4) effective=33",
      "http34.onGrpcStreamClose(91,2) effective=34",
    ]);
  });
});
