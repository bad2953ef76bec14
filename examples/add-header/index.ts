// add-header: adds `x-service-name: my-custom-service` to every upstream response and lets it through.
// It keeps nothing per stream, so one context serves every stream (setSharedHttpContext): the module
// exports only proxy_on_response_headers, and the host makes one call into it per request. A filter
// that keeps per-request state in its fields uses setHttpContext(factory) instead.
import { Action, HttpContext, setSharedHttpContext } from "proxy-wasm-as";

class AddHeaderFilter extends HttpContext {
  onHttpResponseHeaders(numHeaders: u32, endOfStream: bool): Action {
    this.addHttpResponseHeader("x-service-name", "my-custom-service");
    return Action.Continue;
  }
}

setSharedHttpContext(new AddHeaderFilter(0));
