/**
 * texmesh's web interface: Read (drop or paste images), Tasks (the node's tasks, live, and
 * reviewing their results), Network (this node, its peers, members and revocations) and Reviews
 * (what reviews say of each model) and Search (formulas like one typed, among everything the
 * network has read) and Documents (PDFs handed to the network). Pages are chosen by the URL's
 * hash (#/read, #/tasks, #/network, #/reviews, #/search, #/documents).
 * This file is the app shell (sign-in, the pages' navigation, the live event stream) and `PAGES`;
 * the pages are read.tsx, tasks.tsx (review.tsx), network.tsx, stats.tsx, search.tsx and documents.tsx, the
 * pieces they share ui.tsx.
 */
import { render, type ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, get, post, type Status, type Task } from './api.js'
import { NetworkPage } from './network.js'
import { ReadPage } from './read.js'
import { SearchPage } from './search.js'
import { StatsPage } from './stats.js'
import { TasksPage } from './tasks.js'
import { DocumentsPage } from './documents.js'

const PAGES = [
  { path: 'read', title: 'Read' },
  { path: 'tasks', title: 'Tasks' },
  { path: 'network', title: 'Network' },
  { path: 'reviews', title: 'Reviews' },
  { path: 'search', title: 'Search' },
  { path: 'documents', title: 'Documents' }
] as const
type PagePath = typeof PAGES[number]['path']

function usePage (): PagePath {
  const parse = (): PagePath => PAGES.find(p => location.hash === `#/${p.path}`)?.path ?? 'read'
  const [page, setPage] = useState(parse)
  useEffect(() => {
    const on = (): void => setPage(parse())
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return page
}

/** The node's tasks and status, kept current by the server-sent event stream. */
function useLive (enabled: boolean): { tasks: Map<string, Task>, status: Status | null, connected: boolean } {
  const [tasks, setTasks] = useState(new Map<string, Task>())
  const [status, setStatus] = useState<Status | null>(null)
  const [connected, setConnected] = useState(false)
  useEffect(() => {
    if (!enabled) return
    const events = new EventSource('/v1/events')
    events.addEventListener('open', () => setConnected(true))
    events.addEventListener('error', () => setConnected(false))
    events.addEventListener('task', (e) => {
      const t = JSON.parse((e as MessageEvent<string>).data) as Task
      setTasks(m => new Map(m).set(t.id, t))
    })
    events.addEventListener('status', (e) => setStatus(JSON.parse((e as MessageEvent<string>).data) as Status))
    return () => events.close()
  }, [enabled])
  return { tasks, status, connected }
}

function Shell ({ children, signedIn, connected }: { children: ComponentChildren, signedIn: boolean, connected: boolean }) {
  const page = usePage()
  const signOut = (): void => { void post('/v1/signout').finally(() => location.reload()) }
  return (
    <>
      <header>
        <h1>texmesh</h1>
        {signedIn && (
          <nav aria-label='pages'>
            {PAGES.map(p => <a key={p.path} href={`#/${p.path}`} aria-current={page === p.path ? 'page' : undefined}>{p.title}</a>)}
          </nav>
        )}
        {signedIn && <span class={`live ${connected ? 'on' : 'off'}`} role='status'>{connected ? 'live' : 'reconnecting…'}</span>}
        {signedIn && <button type='button' onClick={signOut}>Sign out</button>}
      </header>
      <main>{children}</main>
    </>
  )
}

function App () {
  const [signedIn, setSignedIn] = useState<boolean | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    get<{ signedIn: boolean }>('/v1/session').then(s => setSignedIn(s.signedIn), (e: Error) => { setError(e instanceof ApiError ? e.message : 'the node does not answer'); setSignedIn(false) })
  }, [])
  const live = useLive(signedIn === true)
  const page = usePage()
  if (signedIn == null) return <p class='boot'>texmesh: loading…</p>
  if (!signedIn) {
    return (
      <Shell signedIn={false} connected={false}>
        <section class='signin' data-testid='signed-out'>
          <h2>Not signed in</h2>
          <p>This page shows a texmesh node's work, so it needs a session. On the machine the node runs on, as the owner of its data dir, run</p>
          <pre><code>texmesh open</code></pre>
          <p>and follow the link it prints (it works once, for a minute).</p>
          {error != null && <p class='error' role='alert'>{error}</p>}
        </section>
      </Shell>
    )
  }
  return (
    <Shell signedIn connected={live.connected}>
      {page === 'read' && <ReadPage />}
      {page === 'tasks' && <TasksPage tasks={live.tasks} />}
      {page === 'network' && <NetworkPage status={live.status} />}
      {page === 'reviews' && <StatsPage status={live.status} />}
      {page === 'search' && <SearchPage />}
      {page === 'documents' && <DocumentsPage />}
    </Shell>
  )
}

render(<App />, document.getElementById('app')!)
