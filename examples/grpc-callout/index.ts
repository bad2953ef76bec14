// grpc-callout: asks a gRPC authorization service about every request before letting it through.
// On request headers it pauses the request and makes a unary call, e.g. authz.v1.Authorizer/Check,
// with a small protobuf message built by hand (no generated code):
//   message CheckRequest  { string token = 1; string method = 2; string path = 3; string authority = 4; }
//   message CheckResponse { string subject = 1; }
// - OK: the request goes on, with `x-auth-subject: <subject>` when the service named one (a value
//   the client sent under that name is always removed).
// - PERMISSION_DENIED or UNAUTHENTICATED: a local 403 whose body carries the gRPC status message.
// - Any other status (UNAVAILABLE, DEADLINE_EXCEEDED...), a call the host refused, or a response
//   that is not a CheckResponse: a local 503, or with "fail_open" the request goes on untouched.
// The request's x-request-id travels as gRPC metadata. A client that leaves while the call is in
// flight gets the call cancelled.
// Configuration (JSON): {"cluster": "authz", "service": "authz.v1.Authorizer", "method": "Check",
//   "timeout_ms": 500, "token_header": "authorization", "fail_open": false}  (cluster is required)
import {
  Action,
  GrpcStatusCode,
  HeaderBytes,
  HttpContext,
  JsonKind,
  JsonValue,
  ProtoReader,
  ProtoWriter,
  RootContext,
  Counter,
  encodeUtf8,
  jsonError,
  lastStatus,
  logDebug,
  logError,
  logWarn,
  parseJson,
  setRootContext,
} from "proxy-wasm-as";

const allowed = new Counter("grpc_callout.allowed");
const denied = new Counter("grpc_callout.denied");
const failed = new Counter("grpc_callout.failed");

class AuthzRoot extends RootContext {
  cluster: string = "";
  service: string = "authz.v1.Authorizer";
  method: string = "Check";
  timeoutMs: u32 = 500;
  tokenHeader: string = "authorization";
  failOpen: bool = false;

  onConfigure(pluginConfigurationSize: u32): bool {
    const config = parseJson(this.getPluginConfigurationString());
    if (config === null) {
      logError("grpc-callout: the configuration is not valid JSON: " + jsonError());
      return false;
    }
    if (config.kind != JsonKind.Object) {
      logError("grpc-callout: the configuration must be a JSON object, not " + config.typeName());
      return false;
    }
    const cluster = stringField(config, "cluster", "");
    const service = stringField(config, "service", this.service);
    const method = stringField(config, "method", this.method);
    const tokenHeader = stringField(config, "token_header", this.tokenHeader);
    if (cluster === null || service === null || method === null || tokenHeader === null) return false;
    if (cluster.length == 0) {
      logError("grpc-callout: 'cluster' is required: the Envoy cluster of the gRPC service");
      return false;
    }
    const timeout = config.get("timeout_ms");
    const timeoutMs = timeout === null ? 500 : timeout.asInteger(-1);
    if (timeoutMs < 1 || timeoutMs > 60000) {
      logError("grpc-callout: 'timeout_ms' must be a whole number of milliseconds from 1 to 60000");
      return false;
    }
    const failOpen = config.get("fail_open");
    if (failOpen !== null && failOpen.kind != JsonKind.Bool) {
      logError("grpc-callout: 'fail_open' must be true or false, not " + failOpen.typeName());
      return false;
    }
    this.cluster = cluster;
    this.service = service;
    this.method = method;
    this.tokenHeader = tokenHeader;
    this.timeoutMs = <u32>timeoutMs;
    this.failOpen = failOpen !== null && failOpen.asBool();
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new AuthzFilter(contextId, this);
  }
}

class AuthzFilter extends HttpContext {
  token: u32 = 0;

  constructor(
    contextId: u32,
    private root: AuthzRoot,
  ) {
    super(contextId);
  }

  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    // Only the service may name the subject.
    this.removeHttpRequestHeader("x-auth-subject");
    const token = this.getHttpRequestHeader(this.root.tokenHeader);
    const message = new ProtoWriter()
      .string(1, token !== null ? token : "")
      .string(2, this.getHttpRequestMethod())
      .string(3, this.getHttpRequestPath())
      .string(4, this.getHttpRequestHost())
      .finish();
    const metadata: HeaderBytes[] = [];
    const requestId = this.getHttpRequestHeaderBytes("x-request-id");
    if (requestId !== null) metadata.push(new HeaderBytes(encodeUtf8("x-request-id"), requestId));
    const root = this.root;
    this.token = this.dispatchGrpcCall(root.cluster, root.service, root.method, metadata, message, root.timeoutMs);
    if (this.token == 0) {
      // The host refused the call (e.g. unknown cluster): nothing will call us back.
      return this.unavailable("the call could not be made (status " + (<i32>lastStatus()).toString() + ")")
        ? Action.Continue
        : Action.Pause;
    }
    return Action.Pause;
  }

  onGrpcCallResponse(token: u32, statusCode: u32, responseSize: u32): void {
    if (token != this.token) return;
    this.token = 0;
    if (statusCode == GrpcStatusCode.Ok) {
      const body = responseSize == 0 ? new ArrayBuffer(0) : this.getGrpcCallResponseBody(0, responseSize);
      let subject = "";
      let valid = body !== null;
      if (body !== null) {
        const r = new ProtoReader(body);
        while (r.next()) {
          if (r.field == 1) subject = r.string();
        }
        valid = !r.malformed;
      }
      if (!valid) {
        if (this.unavailable("the response is not a CheckResponse")) this.resumeHttpRequest();
        return;
      }
      allowed.increment();
      if (subject.length > 0) this.setHttpRequestHeader("x-auth-subject", subject);
      this.resumeHttpRequest();
      return;
    }
    // The call ended with an error: its message is in proxy_get_status.
    const status = this.getGrpcStatus();
    const message = status !== null && status.message.length > 0 ? status.message : "gRPC status " + statusCode.toString();
    if (statusCode == GrpcStatusCode.PermissionDenied || statusCode == GrpcStatusCode.Unauthenticated) {
      denied.increment();
      logDebug("grpc-callout: denied (" + statusCode.toString() + "): " + message);
      this.sendHttpResponse(403, [], "access denied: " + message + "\n");
      return;
    }
    if (this.unavailable("status " + statusCode.toString() + ": " + message)) this.resumeHttpRequest();
  }

  /**
   * The service could not decide. Fail open: returns true (the caller lets the request go on).
   * Fail closed: answers 503 and returns false.
   */
  unavailable(why: string): bool {
    failed.increment();
    logWarn("grpc-callout: authorization failed: " + why + (this.root.failOpen ? "; letting the request through" : ""));
    if (this.root.failOpen) return true;
    this.sendHttpResponse(503, [], "authorization service unavailable: " + why + "\n");
    return false;
  }

  // The stream ends (client gone, or done): a call still in flight is no longer needed.
  onDone(): bool {
    if (this.token != 0) {
      this.cancelGrpcCall(this.token);
      this.token = 0;
    }
    return true;
  }
}

/** Optional string member `key`: its value, `fallback` when absent or null, null (logged) for another type. */
function stringField(config: JsonValue, key: string, fallback: string): string | null {
  const v = config.get(key);
  if (v === null || v.kind == JsonKind.Null) return fallback;
  const s = v.asString();
  if (s === null) logError("grpc-callout: '" + key + "' must be a string, not " + v.typeName());
  return s;
}

setRootContext((contextId: u32): RootContext => new AuthzRoot(contextId));
