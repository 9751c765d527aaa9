import { describe, expect, it } from "vitest";
import { BatchFormatError, readBlobBatch } from "./blobBatch";

// Fixtures are what msgspec.msgpack.encode (the server's encoder) writes for these values.
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.buffer;
};

describe("readBlobBatch", () => {
  it("reads [sha, bytes] pairs with short strings and a str8 key", () => {
    // [("ab", b"\x01\x02"), ("c" * 40, bytes(range(5)))]
    const got = readBlobBatch(
      hex(
        "9292a26162c402010292d928" + "63".repeat(40) + "c4050001020304",
      ).buffer,
    );
    expect([...got.keys()]).toEqual(["ab", "c".repeat(40)]);
    expect([...got.get("ab")!]).toEqual([1, 2]);
    expect([...got.get("c".repeat(40))!]).toEqual([0, 1, 2, 3, 4]);
  });

  it("reads bin16 and bin32 payloads and array16 lists", () => {
    const b16 = readBlobBatch(concat(hex("9192a178c5012c"), new Uint8Array(300).fill(7)));
    expect(b16.get("x")!.length).toBe(300);
    expect(b16.get("x")![299]).toBe(7);
    const b32 = readBlobBatch(concat(hex("9192a179c600011170"), new Uint8Array(70000).fill(9)));
    expect(b32.get("y")!.length).toBe(70000);
    // 20 entries: msgspec starts such a list with dc 00 14 (array16)
    const entries: Uint8Array[] = [hex("dc0014")];
    for (let i = 0; i < 20; i++) {
      const key = new TextEncoder().encode(`z${i}`);
      entries.push(Uint8Array.of(0x92, 0xa0 + key.length), key, hex("c400"));
    }
    const list = readBlobBatch(concat(...entries));
    expect(list.size).toBe(20);
    expect(list.get("z19")!.length).toBe(0);
  });

  it("refuses anything else", () => {
    expect(() => readBlobBatch(hex("9192a26162c40501").buffer)).toThrow(BatchFormatError); // cut short
    expect(() => readBlobBatch(hex("9193a26162c40001").buffer)).toThrow(BatchFormatError); // 3-tuple
    expect(() => readBlobBatch(hex("9192a26162a0").buffer)).toThrow(BatchFormatError); // str, not bin
    expect(() => readBlobBatch(hex("90ff").buffer)).toThrow(BatchFormatError); // trailing byte
  });
});
