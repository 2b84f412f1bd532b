/** The attacker's counts: per target (protocol, topic, kind of answer, raw TCP), what the node did with each input. */
import type { TargetKind, TargetStats } from './messages.js'

export type Outcome = 'answered' | 'refused' | 'stalled' | 'errors'

export class Stats {
  readonly all = new Map<string, TargetStats>()
  constructor (private readonly maxSamples = 5) {}
  of (target: string, kind: TargetKind): TargetStats {
    let s = this.all.get(target)
    if (s == null) this.all.set(target, s = { target, kind, sent: 0, answered: 0, refused: 0, stalled: 0, errors: 0, classes: {}, samples: [] })
    return s
  }

  count (target: string, kind: TargetKind, cls: string, outcome: Outcome, sample?: string): void {
    const s = this.of(target, kind)
    s.sent++
    s.classes[cls] = (s.classes[cls] ?? 0) + 1
    s[outcome]++
    if ((outcome === 'errors' || kind === 'answer') && sample != null && s.samples.length < this.maxSamples) s.samples.push(`${cls}: ${sample}`.slice(0, 300))
  }

  list (): TargetStats[] { return [...this.all.values()].map(s => ({ ...s, classes: { ...s.classes }, samples: [...s.samples] })) }
}
