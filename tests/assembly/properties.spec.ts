// Property paths: the host receives the segments as UTF-8 joined by NUL, with no trailing NUL
// (proxy-wasm-rust-sdk serialize_property_path; Envoy splits the path on NUL). The bytes checked here
// are what the mock host received in proxy_get_property / proxy_set_property.
import { getProperty, setProperty } from "../../assembly/hostcalls";
import { lastStatus } from "../../assembly/status";
import { getPropertyString, getPropertyInt, getPropertyBool, getPropertyMap, properties } from "../../assembly/properties";
import { Header } from "../../assembly/headers";
import { Status } from "../../assembly/types";
import * as mock from "./mock";
import { bytes, utf8, concat, arrayBytes, bufferBytes } from "./mock";

/** The path bytes of the last proxy_get_property call. */
function sentPath(): u8[] {
  return mock.lastRecorded(mock.GET_PROPERTY);
}

describe("property path encoding", () => {
  beforeEach(() => {
    mock.reset();
  });

  test("segments are joined by NUL, without a trailing NUL", () => {
    getProperty(["request", "path"]);
    expect(sentPath()).toStrictEqual(arrayBytes(concat([utf8("request"), bytes([0]), utf8("path")])));
  });

  test("a single segment is sent as is", () => {
    getProperty(["plugin_root_id"]);
    expect(sentPath()).toStrictEqual(arrayBytes(utf8("plugin_root_id")));
  });

  test("three segments", () => {
    getProperty(["metadata", "filter_metadata", "envoy.lb"]);
    expect(sentPath()).toStrictEqual(
      arrayBytes(concat([utf8("metadata"), bytes([0]), utf8("filter_metadata"), bytes([0]), utf8("envoy.lb")])),
    );
  });

  test("empty segments keep their place", () => {
    getProperty(["a", "", "b"]);
    expect(sentPath()).toStrictEqual(<u8[]>[0x61, 0, 0, 0x62]);
    getProperty(["a", ""]);
    expect(sentPath()).toStrictEqual(<u8[]>[0x61, 0]);
    getProperty(["", "b"]);
    expect(sentPath()).toStrictEqual(<u8[]>[0, 0x62]);
    getProperty(["", ""]);
    expect(sentPath()).toStrictEqual(<u8[]>[0]);
    getProperty([""]);
    expect(sentPath()).toStrictEqual(<u8[]>[]);
    getProperty([]);
    expect(sentPath()).toStrictEqual(<u8[]>[]);
    expect(mock.count(mock.GET_PROPERTY)).toBe(6);
  });

  test("non-ASCII segments are UTF-8; lone surrogates become EF BF BD", () => {
    getProperty(["m\u00E9tadata", "\u043A\u043B\u044E\u0447", "\uD83D\uDE00"]);
    expect(sentPath()).toStrictEqual(<u8[]>[
      0x6d, 0xc3, 0xa9, 0x74, 0x61, 0x64, 0x61, 0x74, 0x61, 0, 0xd0, 0xba, 0xd0, 0xbb, 0xd1, 0x8e, 0xd1, 0x87, 0, 0xf0, 0x9f, 0x98, 0x80,
    ]);
    getProperty(["x\uDC00"]);
    expect(sentPath()).toStrictEqual(<u8[]>[0x78, 0xef, 0xbf, 0xbd]);
  });

  test("a long path (more than the scratch area's first size) is sent whole", () => {
    const long = "segment-".repeat(40); // 320 bytes
    getProperty([long, long]);
    expect(sentPath()).toStrictEqual(arrayBytes(concat([utf8(long), bytes([0]), utf8(long)])));
  });

  test("setProperty encodes the path the same way and sends the value bytes exactly", () => {
    expect(setProperty(["filter_state", "k\u00E9y"], bytes([0xff, 0, 0x80]).buffer)).toBe(Status.Ok);
    expect(mock.lastRecorded(mock.SET_PROPERTY)).toStrictEqual(arrayBytes(concat([utf8("filter_state"), bytes([0]), utf8("k\u00E9y")])));
    expect(mock.lastRecorded(mock.SET_PROPERTY_VALUE)).toStrictEqual(<u8[]>[0xff, 0, 0x80]);
  });
});

describe("property values", () => {
  beforeEach(() => {
    mock.reset();
  });

  test("a missing property is null with lastStatus() NotFound", () => {
    expect(getProperty(["nope"])).toBeNull();
    expect(lastStatus()).toBe(Status.NotFound);
    expect(getPropertyString(["nope"])).toBeNull();
  });

  test("a present but empty property is an empty buffer, not null", () => {
    mock.setProperty(utf8("empty"), bytes([]));
    const b = getProperty(["empty"]);
    expect(b).not.toBeNull();
    expect(b!.byteLength).toBe(0);
    expect(getPropertyString(["empty"])).toBe("");
  });

  test("the value is looked up by the exact path bytes", () => {
    mock.setProperty(concat([utf8("source"), bytes([0]), utf8("address")]), utf8("10.0.0.1:5000"));
    expect(properties.sourceAddress()).toBe("10.0.0.1:5000");
    expect(bufferBytes(getProperty(["source", "address"]))).toStrictEqual(arrayBytes(utf8("10.0.0.1:5000")));
    expect(getProperty(["source\u0000address"])).not.toBeNull(); // the same bytes, given as one segment
    expect(getProperty(["source", "address", ""])).toBeNull();
  });

  test("integers are 8 bytes little-endian; anything else gives the fallback", () => {
    mock.setProperty(concat([utf8("response"), bytes([0]), utf8("code")]), bytes([0xf7, 0x01, 0, 0, 0, 0, 0, 0]));
    expect(properties.responseCode()).toBe(503);
    mock.setProperty(utf8("neg"), bytes([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    expect(getPropertyInt(["neg"], 7)).toBe(-1);
    mock.setProperty(utf8("short"), bytes([1, 0, 0, 0]));
    expect(getPropertyInt(["short"], 7)).toBe(7);
    expect(getPropertyInt(["missing"], 7)).toBe(7);
  });

  test("booleans are 1 byte", () => {
    mock.setProperty(concat([utf8("connection"), bytes([0]), utf8("mtls")]), bytes([1]));
    expect(properties.connectionMtls()).toBe(true);
    mock.setProperty(utf8("f"), bytes([0]));
    expect(getPropertyBool(["f"], true)).toBe(false);
    mock.setProperty(utf8("two"), bytes([1, 1]));
    expect(getPropertyBool(["two"], true)).toBe(true);
    expect(getPropertyBool(["two"], false)).toBe(false);
  });

  test("maps use the header-map serialization", () => {
    const map = concat([bytes([1, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]), utf8("host"), bytes([0]), utf8("a"), bytes([0])]);
    mock.setProperty(concat([utf8("request"), bytes([0]), utf8("headers")]), map);
    expect(getPropertyMap(["request", "headers"])).toStrictEqual([new Header("host", "a")]);
    expect(getPropertyMap(["request", "trailers"])).toBeNull();
  });
});
