/**
 * JSON messages on the wire: UTF-8 that must be valid (a bad byte is an error,
 * not a replacement character), parsed into `unknown` for a schema to check.
 */
export function encodeJson (value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value))
}

export function decodeJson (bytes: Uint8Array): unknown {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
}
