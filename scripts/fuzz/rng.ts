/** The attacker's random source: every choice it makes comes from one seed, so a run can be repeated with --seed. */
import { Rng as BaseRng } from '../../formulas/rng.js'

/** The seeded source of formulas/rng.ts, with what the attacker needs on top: integers below n, bytes, hex, independent forks. */
export class Rng extends BaseRng {
  /** An integer in [0, n). */
  below (n: number): number { return Math.floor(this.next() * n) }
  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    const view = new DataView(out.buffer)
    let i = 0
    for (; i + 4 <= n; i += 4) view.setUint32(i, (this.next() * 4294967296) >>> 0)
    for (; i < n; i++) out[i] = this.below(256)
    return out
  }

  hex (chars: number): string { return Buffer.from(this.bytes(Math.ceil(chars / 2))).toString('hex').slice(0, chars) }
  fork (): Rng { return new Rng(this.below(2 ** 32)) }
}
