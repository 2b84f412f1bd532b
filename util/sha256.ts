import { createHash } from 'node:crypto'

/** An image's (or a model file's) name everywhere: its SHA-256 in lowercase hex. */
export const SHA256_HEX = /^[0-9a-f]{64}$/

export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}
