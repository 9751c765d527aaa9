// The answer of ``POST /projects/{project}/blobs/batch``: a msgpack array of ``[sha256, bytes]``
// pairs. Only that shape is read (array of 2-element arrays of str + bin), so a few lines do
// it and the page loads no general msgpack library; anything else is an error.

export class BatchFormatError extends Error {}

/** The blobs of a batch answer, by sha256; the byte arrays are views into ``buffer``. */
export function readBlobBatch(buffer: ArrayBuffer): Map<string, Uint8Array> {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  let at = 0;
  const need = (n: number) => {
    if (at + n > bytes.length) throw new BatchFormatError("blob batch cut short");
  };
  const u8 = () => {
    need(1);
    return bytes[at++]!;
  };
  const length = (tag: number, fix: [number, number] | null, w8: number, w16: number, w32: number): number => {
    if (fix && tag >= fix[0] && tag <= fix[1]) return tag - fix[0];
    if (tag === w8) return u8();
    if (tag === w16) {
      need(2);
      at += 2;
      return view.getUint16(at - 2);
    }
    if (tag === w32) {
      need(4);
      at += 4;
      return view.getUint32(at - 4);
    }
    throw new BatchFormatError(`unexpected msgpack tag 0x${tag.toString(16)} in a blob batch`);
  };
  const array = () => length(u8(), [0x90, 0x9f], -1, 0xdc, 0xdd);
  const text = () => {
    const n = length(u8(), [0xa0, 0xbf], 0xd9, 0xda, 0xdb);
    need(n);
    at += n;
    return new TextDecoder().decode(bytes.subarray(at - n, at));
  };
  const bin = () => {
    const n = length(u8(), null, 0xc4, 0xc5, 0xc6);
    need(n);
    at += n;
    return bytes.subarray(at - n, at);
  };
  const out = new Map<string, Uint8Array>();
  const count = array();
  for (let i = 0; i < count; i++) {
    if (array() !== 2) throw new BatchFormatError("a blob batch entry is not [sha256, bytes]");
    const sha = text();
    out.set(sha, bin());
  }
  if (at !== bytes.length) throw new BatchFormatError("bytes left after the blob batch");
  return out;
}
