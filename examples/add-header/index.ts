// add-header: adds `x-service-name: my-custom-service` to every upstream response and lets it through.
import { Action, HttpContext, setHttpContext } from "proxy-wasm-as";

class AddHeaderFilter extends HttpContext {
  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    this.addHttpResponseHeader("x-service-name", "my-custom-service");
    return Action.Continue;
  }
}

setHttpContext((contextId: u32, rootContextId: u32): HttpContext => new AddHeaderFilter(contextId));
