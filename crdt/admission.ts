/**
 * Who may write into the store: is the author of a (validly signed) remote
 * envelope admitted? The caller's `admits` says so for connected members; with
 * `certifiedUntil`, a membership certificate in the author's member entry, or
 * in the envelope itself, admits it too. Verified certificates are remembered,
 * so a member's envelopes do not each cost a signature check.
 */
import * as Y from 'yjs'
import { decodeValue } from './values.js'
import type { Envelope } from './envelope.js'
import { MemberEntry } from './schemas.js'

/** Verified certificates remembered, so a member's envelopes do not each cost a signature check. */
const MAX_CERTIFICATE_MEMO = 4096

/** The admission options (ReplicaOptions, where they are described), read at each check. */
export interface AdmissionOptions {
  admits?: (author: string) => boolean
  certifiedUntil?: (author: string, certificate: string) => Promise<number | undefined>
}

export class Admission {
  private readonly certificates = new Map<string, number>()

  /**
   * @param self this node's author, always admitted
   * @param memberEntry the value under `author` in the members map (unchecked)
   */
  constructor (
    private readonly self: string,
    private readonly opts: AdmissionOptions,
    private readonly memberEntry: (author: string) => unknown
  ) {}

  /** Is the author of this (validly signed) envelope allowed to write? */
  async admitted (e: Envelope): Promise<boolean> {
    const { admits, certifiedUntil } = this.opts
    if (e.author === this.self || (admits == null && certifiedUntil == null) || admits?.(e.author) === true) return true
    if (certifiedUntil == null) return false
    // A member entry is written by its author alone and the certificate names the author,
    // so a valid certificate there, or in this very envelope, proves membership whatever else the envelope writes.
    const entry = MemberEntry.safeParse(this.memberEntry(e.author))
    if (entry.success && await this.certified(e.author, entry.data.certificate, certifiedUntil)) return true
    for (const certificate of certificatesIn(e.update)) {
      if (await this.certified(e.author, certificate, certifiedUntil)) return true
    }
    return false
  }

  /** Forget what certifiedUntil said of an author's certificates (its membership changed: it was revoked, say). */
  forget (author: string): void {
    for (const memo of [...this.certificates.keys()]) if (memo.startsWith(`${author}\n`)) this.certificates.delete(memo)
  }

  private async certified (author: string, certificate: string, certifiedUntil: NonNullable<AdmissionOptions['certifiedUntil']>): Promise<boolean> {
    const memo = `${author}\n${certificate}`
    let until = this.certificates.get(memo)
    if (until == null) {
      until = await certifiedUntil(author, certificate) ?? 0
      if (this.certificates.size >= MAX_CERTIFICATE_MEMO) this.certificates.clear()
      this.certificates.set(memo, until)
    }
    return Date.now() < until
  }
}

/** Certificate texts of the member entries an update carries (any map: the certificate names its peer itself). */
export function certificatesIn (update: Uint8Array): string[] {
  const out: string[] = []
  try {
    for (const s of Y.decodeUpdate(update).structs) {
      if (!(s instanceof Y.Item) || !(s.content instanceof Y.ContentAny)) continue
      for (const raw of s.content.arr) {
        const v = decodeValue(raw)
        if (!('value' in v)) continue
        const m = MemberEntry.safeParse(v.value)
        if (m.success) out.push(m.data.certificate)
        if (out.length >= 4) return out
      }
    }
  } catch {
    // undecodable: the authorship check says so
  }
  return out
}
