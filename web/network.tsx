/**
 * The Network page: this node (id, network, version, load, addresses), its peers, and in a
 * private network its members and the admin's revocations.
 */
import { useEffect, useState } from 'preact/hooks'
import { get, type Member, type Membership, type Peer, type Revocation, type Status } from './api.js'
import { Peerid } from './ui.js'

function membershipText (m: Membership | undefined): string {
  if (m == null) return '-'
  if (m.state === 'member') return `member until ${m.expiresAt.slice(0, 10)}`
  if (m.state === 'refused') return `refused (${m.reason})`
  return m.state
}

/** A peer's load as it last gossiped it. */
function loadText (load: Peer['load']): string {
  if (load == null) return 'not heard yet'
  return `${load.running}/${load.capacity} busy, ${load.queued} queued` + (load.heardS >= 5 ? ` (${load.heardS} s ago)` : '')
}

export function NetworkPage ({ status }: { status: Status | null }) {
  const [peers, setPeers] = useState<Peer[]>([])
  const [members, setMembers] = useState<Member[]>([])
  const [revocations, setRevocations] = useState<Revocation[]>([])
  useEffect(() => {
    // Refreshed with each status the event stream brings.
    void get<Peer[]>('/v1/peers').then(setPeers, () => {})
    void get<Member[]>('/v1/members').then(setMembers, () => {})
    void get<Revocation[]>('/v1/revocations').then(setRevocations, () => {})
  }, [status])
  if (status == null) return <p class='busy'>waiting for the node's status…</p>
  const t = status.tasks
  return (
    <section aria-labelledby='network-title'>
      <h2 id='network-title'>Network</h2>
      <h3>This node</h3>
      <dl class='status'>
        <dt>peer id</dt><dd><code>{status.peerId}</code></dd>
        <dt>network</dt><dd>{status.network.private ? `${status.network.name ?? ''} (private; ${membershipText(status.network.membership)})` : 'open (no network key)'}</dd>
        {status.network.admin != null && <><dt>admin key</dt><dd><code>{status.network.admin}</code></dd></>}
        <dt>version</dt><dd>{status.version}{status.model != null ? `, model ${status.model}` : ''}</dd>
        <dt>uptime</dt><dd>{Math.round(status.uptimeS)} s</dd>
        {t != null && <><dt>load</dt><dd data-testid='load'>{t.running}/{t.capacity} workers busy; {t.queued} queued, {t.leased} leased, {t.done} done, {t.failedTasks} failed; {t.processed} read here ({t.stolen} for other nodes)</dd></>}
        <dt>addresses</dt><dd><ul class='plain'>{status.addresses.map(a => <li key={a}><code>{a}</code></li>)}</ul></dd>
      </dl>
      <h3>Peers ({peers.length})</h3>
      <table>
        <thead><tr><th scope='col'>peer</th><th scope='col'>latency</th><th scope='col'>direction</th><th scope='col'>membership</th><th scope='col'>load (workers)</th><th scope='col'>version, model</th></tr></thead>
        <tbody>
          {peers.map(p => (
            <tr key={p.id} data-testid='peer'>
              <td><Peerid id={p.id} />{p.equivocated === true && <span class='tag bad'>equivocated</span>}</td>
              <td>{p.latencyMs != null ? `${p.latencyMs} ms` : '-'}</td>
              <td>{p.direction}</td>
              <td>{membershipText(p.membership)}</td>
              <td data-testid='peer-load'>{loadText(p.load)}</td>
              <td data-testid='peer-model'>{p.version != null ? `${p.version}${p.model != null ? `, ${p.model}` : ''}` : (p.agent ?? '-')}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {status.network.private && (
        <>
          <h3>Members ({members.length})</h3>
          <table>
            <thead><tr><th scope='col'>peer</th><th scope='col'>certificate</th><th scope='col'>connected</th></tr></thead>
            <tbody>{members.map(m => <tr key={m.peer}><td><Peerid id={m.peer} />{m.equivocated && <span class='tag bad'>equivocated</span>}</td><td>{m.valid ? `valid until ${m.expiresAt.slice(0, 10)}` : m.revokedAt != null ? `revoked ${m.revokedAt.slice(0, 10)}` : 'not valid'}</td><td>{m.connected ? 'yes' : 'no'}</td></tr>)}</tbody>
          </table>
          <h3>Revocations ({revocations.length})</h3>
          <ul class='plain'>{revocations.map(r => <li key={r.peer}><Peerid id={r.peer} /> revoked {new Date(r.revokedAt).toLocaleString()}</li>)}</ul>
        </>
      )}
    </section>
  )
}
