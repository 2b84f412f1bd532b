/**
 * The Tasks page: submit images to the network (critical or not), the node's tasks live, and a
 * task's details with its quorum certificate, which the node can verify.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { post, type Task, type VerifyCheck } from './api.js'
import { Confidence, Peerid, ResultView } from './ui.js'
import { ReviewPanel } from './review.js'

function quorumText (t: Task): string {
  const q = t.quorum
  if (q == null) return t.critical ? (t.state === 'done' ? 'certified' : t.state) : '-'
  switch (q.state) {
    case 'waiting': return `waiting: ${q.reason}`
    case 'voting': return `round ${q.round}: ${q.votes}/${q.needed} votes`
    case 'certified': return `certified by ${q.voters.length}`
    case 'no-consensus': return 'no consensus'
  }
}

function Certificate ({ task }: { task: Task }) {
  const cert = task.result?.certificate
  const [check, setCheck] = useState<VerifyCheck | null>(null)
  const [error, setError] = useState<string | null>(null)
  if (cert == null) return null
  const verify = (): void => {
    setCheck(null)
    setError(null)
    post<VerifyCheck>(`/v1/tasks/${encodeURIComponent(task.id)}/verify`).then(setCheck, (e: Error) => setError(e.message))
  }
  return (
    <section class='certificate' aria-label='quorum certificate'>
      <h4>Quorum certificate</h4>
      <p>{cert.votes.length} signed votes, {2 * cert.f + 1} needed (f = {cert.f}); network {cert.network ?? 'open'}; image {cert.image.slice(0, 16)}…</p>
      <table>
        <thead><tr><th scope='col'>voter</th><th scope='col'>time</th><th scope='col'>confidence</th></tr></thead>
        <tbody>
          {cert.votes.map(v => <tr key={v.voter}><td><Peerid id={v.voter} /></td><td>{new Date(v.time).toLocaleTimeString()}</td><td>{v.confidence.toFixed(2)}</td></tr>)}
        </tbody>
      </table>
      <button type='button' onClick={verify}>Verify certificate</button>
      {check != null && (check.ok
        ? <p class='ok' role='status' data-testid='verified'>The certificate holds: {check.voters.length} signed votes agree{check.checked != null && check.checked.length > 0 ? `; matches ${check.checked.join(', ')}` : ''}.</p>
        : <p class='error' role='status' data-testid='verified'>The certificate does not hold ({check.reason}): {check.detail}</p>)}
      {error != null && <p class='error' role='alert'>{error}</p>}
    </section>
  )
}

function TaskDetails ({ task, onClose }: { task: Task, onClose: () => void }) {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => { heading.current?.focus() }, [task.id])
  return (
    <section class='details' aria-labelledby='task-title'>
      <h3 id='task-title' tabIndex={-1} ref={heading}>{task.file} <small>{task.id}</small></h3>
      <button type='button' class='close' onClick={onClose}>Close</button>
      <dl>
        <dt>state</dt><dd data-testid='task-state'>{task.state}</dd>
        <dt>critical</dt><dd>{task.critical ? 'yes' : 'no'}</dd>
        <dt>workers</dt><dd>{task.workers.length > 0 ? task.workers.map(w => <Peerid key={w} id={w} />) : '-'}</dd>
        <dt>leases</dt><dd>{task.grants} granted, {task.regrants} granted again</dd>
        {task.critical && <><dt>quorum</dt><dd>{quorumText(task)}</dd></>}
        <dt>submitted</dt><dd>{new Date(task.submittedAt).toLocaleString()}</dd>
        {task.doneAt != null && <><dt>done</dt><dd>{new Date(task.doneAt).toLocaleString()}{task.cached ? ' (already known)' : ''}</dd></>}
        {task.result?.by != null && <><dt>read by</dt><dd><Peerid id={task.result.by} /></dd></>}
      </dl>
      {task.failures.length > 0 && (
        <><h4>Failures</h4><ul>{task.failures.map((f, i) => <li key={i}><Peerid id={f.peer} />: {f.reason}</li>)}</ul></>
      )}
      {task.result != null && <ResultView result={task.result} />}
      <ReviewPanel task={task} />
      <Certificate task={task} />
    </section>
  )
}

export function TasksPage ({ tasks }: { tasks: Map<string, Task> }) {
  const [selected, setSelected] = useState<string | null>(null)
  const [critical, setCritical] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const input = useRef<HTMLInputElement>(null)
  const list = useMemo(() => [...tasks.values()].sort((a, b) => b.submittedAt.localeCompare(a.submittedAt)), [tasks])
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(null)
    const files = [...(input.current?.files ?? [])]
    if (files.length === 0) { setError('choose one or more images first'); return }
    for (const file of files) {
      try {
        const t = await post<Task>(`/v1/tasks?name=${encodeURIComponent(file.name.slice(0, 1000))}&critical=${critical}`, file)
        setSelected(t.id)
      } catch (err) {
        setError(`${file.name}: ${(err as Error).message}`)
      }
    }
    if (input.current != null) input.current.value = ''
  }
  const task = selected != null ? tasks.get(selected) : undefined
  return (
    <section aria-labelledby='tasks-title'>
      <h2 id='tasks-title'>Tasks</h2>
      <form class='submit' onSubmit={(e) => { void submit(e) }}>
        <label>Images <input ref={input} type='file' accept='image/*' multiple /></label>
        <label><input type='checkbox' checked={critical} onChange={(e) => setCritical(e.currentTarget.checked)} /> critical (a quorum of voters certifies the answer)</label>
        <button type='submit'>Submit to the network</button>
        {error != null && <p class='error' role='alert'>{error}</p>}
      </form>
      <div class='split'>
        <table class='tasks'>
          <caption>{list.length} task{list.length === 1 ? '' : 's'}, newest first; live</caption>
          <thead><tr><th scope='col'>file</th><th scope='col'>state</th><th scope='col'>worker</th><th scope='col'>quorum</th><th scope='col'>failures</th><th scope='col'>answer</th></tr></thead>
          <tbody>
            {list.map(t => (
              <tr key={t.id} class={t.id === selected ? 'selected' : ''} data-state={t.state}>
                <td><button type='button' class='link' onClick={() => setSelected(t.id)} aria-label={`details of ${t.file}`}>{t.file}</button>{t.critical && <span class='tag'>critical</span>}</td>
                <td><span class={`state ${t.state}`}>{t.state}</span></td>
                <td><Peerid id={t.workers.at(-1)} /></td>
                <td>{quorumText(t)}</td>
                <td>{t.failures.length > 0 ? t.failures.length : ''}</td>
                <td>{t.result != null ? <Confidence value={t.result.confidence} /> : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {task != null && <TaskDetails key={task.id} task={task} onClose={() => setSelected(null)} />}
      </div>
    </section>
  )
}
