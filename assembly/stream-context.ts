// StreamContext: one per TCP connection (Envoy network filter), mirroring the Rust SDK's
// `StreamContext` trait. Helpers follow the SDK's failure convention (docs/sdk.md, "When the host
// says no"): null when there is no data, otherwise the host's Status; never a trap.

import * as abi from "./imports";
import * as hc from "./hostcalls";
import { ChildContext } from "./root-context";
import { Action, BufferType, PeerType, Status, StreamType } from "./types";

/** One per TCP connection (Envoy network filter). */
export class StreamContext extends ChildContext {
  // ---- callbacks ----

  onNewConnection(): Action {
    return Action.Continue;
  }
  /** Data from the client; `dataSize` bytes are buffered. */
  onDownstreamData(dataSize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  /** Data from the server. */
  onUpstreamData(dataSize: u32, endOfStream: bool): Action {
    return Action.Continue;
  }
  onDownstreamClose(peerType: PeerType): void {}
  onUpstreamClose(peerType: PeerType): void {}

  // ---- data (valid in the matching data callback) ----

  getDownstreamData(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.DownstreamData, start, maxSize);
  }
  setDownstreamData(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.DownstreamData, start, size, value);
  }
  getUpstreamData(start: u32, maxSize: u32): ArrayBuffer | null {
    return hc.getBuffer(BufferType.UpstreamData, start, maxSize);
  }
  setUpstreamData(start: u32, size: u32, value: ArrayBuffer): Status {
    return hc.setBuffer(BufferType.UpstreamData, start, size, value);
  }

  resumeDownstream(): Status {
    return <Status>abi.proxy_continue_stream(StreamType.Downstream);
  }
  /** Envoy answers Unimplemented: an upstream pause cannot be resumed from the filter. */
  resumeUpstream(): Status {
    return <Status>abi.proxy_continue_stream(StreamType.Upstream);
  }
  closeDownstream(): Status {
    return <Status>abi.proxy_close_stream(StreamType.Downstream);
  }
  closeUpstream(): Status {
    return <Status>abi.proxy_close_stream(StreamType.Upstream);
  }
}
