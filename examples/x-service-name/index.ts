// x-service-name: answers every request itself with 200, header `x-service-name: my-custom-service`
// and body "Hello from Wasm!\n", after logging the request's host and path at info level.
import { Action, Header, HttpContext, logInfo, setHttpContext } from "proxy-wasm-as";

class ServiceNameFilter extends HttpContext {
  onHttpRequestHeaders(numHeaders: u32, endOfStream: bool): Action {
    const host = this.getHttpRequestHost();
    const path = this.getHttpRequestPath();
    logInfo("Received request for: " + host + " " + path);
    this.sendHttpResponse(200, [new Header("x-service-name", "my-custom-service")], "Hello from Wasm!\n");
    return Action.Pause;
  }
}

setHttpContext((contextId: u32, rootContextId: u32): HttpContext => new ServiceNameFilter(contextId));
