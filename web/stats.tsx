/**
 * The Reviews page: what people's reviews say of each model version (GET /v1/stats): reviews,
 * verdicts, the accuracy of reviewed answers, the calibration error, and a reliability plot
 * (for each confidence bin, the share of answers that were right, against the diagonal a
 * perfectly calibrated model would follow).
 */
import { useEffect, useState } from 'preact/hooks'
import { get, type ModelStats, type Status } from './api.js'

const pct = (x: number): string => `${(100 * x).toFixed(1)} %`

function Reliability ({ stats }: { stats: ModelStats }) {
  // 0..1 on both axes, drawn in a 200 x 200 box with margins for the labels.
  const x = (v: number): number => 30 + v * 200
  const y = (v: number): number => 210 - v * 200
  return (
    <svg class='plot' viewBox='0 0 240 240' role='img' aria-label={`reliability plot of ${stats.model}: share right per confidence bin`}>
      <line class='axis' x1={x(0)} y1={y(0)} x2={x(1)} y2={y(0)} />
      <line class='axis' x1={x(0)} y1={y(0)} x2={x(0)} y2={y(1)} />
      <line class='diagonal' x1={x(0)} y1={y(0)} x2={x(1)} y2={y(1)} />
      {stats.bins.map(b => b.accuracy == null || b.confidence == null
        ? null
        : (
            <g key={b.from}>
              <rect class='bar' x={x(b.from) + 1} width={(b.to - b.from) * 200 - 2} y={y(b.accuracy)} height={b.accuracy * 200}>
                <title>{`confidence ${b.from.toFixed(1)}-${b.to.toFixed(1)}: ${b.reviews} reviews, ${pct(b.accuracy)} right (mean confidence ${pct(b.confidence)})`}</title>
              </rect>
              <rect class='gap' x={x(b.from) + 1} width={(b.to - b.from) * 200 - 2} y={y(Math.max(b.accuracy, b.confidence))} height={Math.abs(b.accuracy - b.confidence) * 200} />
            </g>
          ))}
      {[0, 0.5, 1].map(v => <text key={`x${v}`} x={x(v)} y={226} text-anchor='middle'>{v}</text>)}
      {[0, 0.5, 1].map(v => <text key={`y${v}`} x={24} y={y(v) + 3} text-anchor='end'>{v}</text>)}
      <text x={x(0.5)} y={238} text-anchor='middle'>confidence</text>
    </svg>
  )
}

export function StatsPage ({ status }: { status: Status | null }) {
  const [stats, setStats] = useState<ModelStats[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    // Refreshed with each status the event stream brings.
    get<ModelStats[]>('/v1/stats').then(setStats, (e: Error) => setError(e.message))
  }, [status])
  return (
    <section aria-labelledby='stats-title'>
      <h2 id='stats-title'>Reviews</h2>
      <p class='meta'>What people's confirmations and corrections, from every node of the network, say of each model. Review a result on the Tasks page, or with <code>texmesh confirm</code> and <code>texmesh correct</code>.</p>
      {error != null && <p class='error' role='alert'>{error}</p>}
      {stats != null && stats.length === 0 && <p data-testid='no-reviews'>No reviews yet.</p>}
      {stats?.map(s => (
        <article key={s.model} class='model-stats' data-testid='model-stats'>
          <h3>model {s.model}</h3>
          <dl class='status'>
            <dt>reviews</dt><dd>{s.reviews}</dd>
            <dt>accuracy</dt><dd data-testid='accuracy'>{pct(s.accuracy)} of reviewed answers were right (mean confidence {pct(s.confidence)})</dd>
            <dt>calibration error</dt><dd data-testid='calibration-error'>{pct(s.calibrationError)}</dd>
            <dt>network curve</dt>
            <dd>{s.calibration == null
              ? 'not yet: the shipped curve stands until there are enough reviews'
              : `fitted on ${s.calibration.reviews} reviews; answers are right 95 % of the time from confidence ${s.calibration.threshold?.toFixed(3) ?? '(none)'}`}
            </dd>
          </dl>
          <div class='pair'>
            <table>
              <thead><tr><th scope='col'>verdict</th><th scope='col'>reviews</th></tr></thead>
              <tbody>{Object.entries(s.verdicts).map(([v, n]) => <tr key={v}><td>{v}</td><td>{n}</td></tr>)}</tbody>
            </table>
            <Reliability stats={s} />
          </div>
        </article>
      ))}
    </section>
  )
}
