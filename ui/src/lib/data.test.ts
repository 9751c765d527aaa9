import { describe, expect, it } from "vitest";
import { parseSse } from "./data";

describe("parseSse", () => {
  it("splits events, skips comments and keeps an unfinished block for the next chunk", () => {
    const { events, rest } = parseSse('retry: 2000\n\n: keep-alive\n\nevent: update\ndata: {"id":"a"}\n\nevent: upd');
    expect(events).toEqual([{ event: "update", data: '{"id":"a"}' }]);
    expect(rest).toBe("event: upd");
    const next = parseSse(rest + 'ate\ndata: {"id":"b"}\n\n');
    expect(next.events).toEqual([{ event: "update", data: '{"id":"b"}' }]);
    expect(next.rest).toBe("");
  });

  it("joins multi-line data and accepts CRLF", () => {
    const { events } = parseSse("data: one\r\ndata: two\r\n\r\n");
    expect(events).toEqual([{ event: "message", data: "one\ntwo" }]);
  });
});
