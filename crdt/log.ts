import { Level } from 'level'
import type { Envelope } from './envelope.js'

/**
 * The envelope log in LevelDB: every accepted envelope, own and remote, under
 * `env!<author>!<incarnation>!<first>!<seq>` (numbers as fixed-width hex, so
 * keys sort by log position), and this node's own log position under
 * `own`. An envelope is in LevelDB's write-ahead log when `append` resolves:
 * a killed process loses nothing that was acknowledged.
 */

export interface OwnState {
  /** hex */
  incarnation: string
  nextSeq: number
}

export interface StoredEnvelope {
  logId: string
  first: number
  seq: number
  bytes: Uint8Array
}

const hex = (n: number): string => n.toString(16).padStart(14, '0')

export function logIdOf (e: Pick<Envelope, 'author' | 'incarnation'>): string {
  return `${e.author}!${Buffer.from(e.incarnation).toString('hex')}`
}

export class EnvelopeLog {
  private constructor (private readonly db: Level<string, Uint8Array>) {}

  static async open (path: string): Promise<EnvelopeLog> {
    const db = new Level<string, Uint8Array>(path, { keyEncoding: 'utf8', valueEncoding: 'view' })
    await db.open()
    return new EnvelopeLog(db)
  }

  private key (logId: string, first: number, seq: number): string {
    return `env!${logId}!${hex(first)}!${hex(seq)}`
  }

  /** Store an envelope (and, for an own one, the next own position) in one atomic write. */
  async append (e: Envelope, bytes: Uint8Array, own?: OwnState): Promise<void> {
    const ops: Array<{ type: 'put', key: string, value: Uint8Array }> = [{ type: 'put', key: this.key(logIdOf(e), e.first, e.seq), value: bytes }]
    if (own != null) ops.push({ type: 'put', key: 'own', value: new TextEncoder().encode(JSON.stringify(own)) })
    await this.db.batch(ops)
  }

  /** Replace stored envelopes of a log with one that covers them all, atomically. */
  async replace (covered: ReadonlyArray<{ first: number, seq: number }>, merged: Envelope, bytes: Uint8Array): Promise<void> {
    const logId = logIdOf(merged)
    await this.db.batch([
      ...covered.map(c => ({ type: 'del' as const, key: this.key(logId, c.first, c.seq) })),
      { type: 'put' as const, key: this.key(logId, merged.first, merged.seq), value: bytes }
    ])
  }

  async ownState (): Promise<OwnState | undefined> {
    const v = await this.db.get('own')
    return v == null ? undefined : JSON.parse(new TextDecoder().decode(v)) as OwnState
  }

  /** Every stored envelope, in key order (each log by position). */
  async * all (): AsyncGenerator<StoredEnvelope> {
    for await (const [key, bytes] of this.db.iterator({ gt: 'env!', lt: 'env"' })) {
      const parts = key.split('!')
      yield { logId: `${parts[1]}!${parts[2]}`, first: parseInt(parts[3]!, 16), seq: parseInt(parts[4]!, 16), bytes }
    }
  }

  async close (): Promise<void> {
    await this.db.close()
  }
}
