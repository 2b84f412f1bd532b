/**
 * Bytes as the node reads them: length-prefixed frames (as it-length-prefixed writes them), JSON in
 * them, and protobuf by hand (identify messages).
 */

const enc = new TextEncoder()
export const utf8 = (s: string): Uint8Array => enc.encode(s)

export function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) { out.set(p, o); o += p.length }
  return out
}

/** An unsigned varint (up to 2^53). */
export function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** One length-prefixed frame, as it-length-prefixed writes it. */
export function lp (payload: Uint8Array): Uint8Array { return concat([varint(payload.length), payload]) }

export function lpJson (text: string): Uint8Array { return lp(utf8(text)) }

/** Read length-prefixed frames from bytes; stops at the first incomplete one. */
export function frames (bytes: Uint8Array, max = 64): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = 0
  while (at < bytes.length && out.length < max) {
    let n = 0
    let mul = 1
    let i = at
    for (; i < bytes.length && i - at < 8; i++) {
      n += (bytes[i]! & 0x7f) * mul
      mul *= 128
      if ((bytes[i]! & 0x80) === 0) break
    }
    if (i >= bytes.length || (bytes[i]! & 0x80) !== 0) break
    const start = i + 1
    if (start + n > bytes.length) break
    out.push(bytes.subarray(start, start + n))
    at = start + n
  }
  return out
}

export function json (bytes: Uint8Array | undefined): any {
  if (bytes == null) return undefined
  try { return JSON.parse(new TextDecoder().decode(bytes)) } catch { return undefined }
}

/** Protobuf by hand (identify messages): field numbers and wire types 0 and 2. */
export const pb = {
  bytes: (field: number, b: Uint8Array): Uint8Array => concat([varint(field * 8 + 2), varint(b.length), b]),
  string: (field: number, s: string): Uint8Array => pb.bytes(field, utf8(s)),
  uint: (field: number, n: number): Uint8Array => concat([varint(field * 8), varint(n)])
}
