import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { stat, readFile, mkdir, writeFile, utimes } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { DataDir, processIdentity } from '../node/datadir/datadir.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { EnvelopeLog } from '../crdt/log.js'
import { decodeEnvelope } from '../crdt/envelope.js'
import { NODE_V8_FLAGS } from '../node/v8-flags.js'
import { chooseCommands } from '../bin/which-commands.js'
import { deepEnvelope, removeDir, startTestNode, tempDir, freePort, spawnCli, collect, runCli, waitFor } from './helpers.js'

/** the daemon logs JSON on stderr up to the failure; the error itself is the last line */
function lastLine (text: string): string {
  return text.trim().split('\n').pop() ?? ''
}

describe('node identity and data dir', { timeout: 120_000 }, () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(removeDir)) })

  it('makes an Ed25519 identity on first start, mode 0600, and reuses it after a restart', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const first = await startTestNode(dir)
    const peerId = first.peerId.toString()
    await first.stop()
    const keyFile = new DataDir(dir).paths.identity
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600)
    assert.equal((await stat(new DataDir(dir).paths.apiToken)).mode & 0o777, 0o600)
    const keyBytes = await readFile(keyFile)

    const second = await startTestNode(dir)
    assert.equal(second.peerId.toString(), peerId)
    assert.equal(second.peerId.type, 'Ed25519')
    await second.stop()
    assert.deepEqual(await readFile(keyFile), keyBytes)
  })

  it('starts and serves over a store entry that cannot be decoded, and shows it quarantined in status', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const first = await startTestNode(dir)
    await first.replica.putResult('a'.repeat(64), { latex: 'x', confidence: 0.5, alternatives: [], model: 'm', time: 1 })
    await first.stop()
    // Written straight into LevelDB, past every check: a validly signed entry nested 100,000 deep.
    const mallory = await generateKeyPair('Ed25519')
    const bytes = await deepEnvelope(mallory, peerIdFromPrivateKey(mallory).toString(), 100_000)
    const log = await EnvelopeLog.open(new DataDir(dir).paths.replica)
    await log.append(decodeEnvelope(bytes), bytes)
    await log.close()
    for (let start = 0; start < 2; start++) {
      const node = await startTestNode(dir)
      try {
        const status = await node.status()
        assert.equal(status.quarantined?.length, 1)
        assert.equal(status.quarantined[0]!.author, peerIdFromPrivateKey(mallory).toString())
        assert.match(status.quarantined[0]!.reason, /undecodable/)
        assert.equal(node.replica.results('a'.repeat(64)).size, 1)
        assert.equal(node.replica.size('evidence'), 0)
      } finally {
        await node.stop()
      }
    }
  })

  it('logs: one JSON object a line with one component key, membership said once per change; pretty on request', async () => {
    const { openSync, closeSync, readFileSync } = await import('node:fs')
    const { startNode } = await import('../node/daemon/start.js')
    const { createLog } = await import('../node/log.js')
    const { DEFAULT_CONFIG } = await import('../node/datadir/config.js')
    const dirA = await tempDir()
    const dirB = await tempDir()
    dirs.push(dirA, dirB)
    const file = join(dirA, 'node.log')
    const fd = openSync(file, 'w')
    const config = { ...DEFAULT_CONFIG, listen: ['/ip4/127.0.0.1/tcp/0'], apiPort: 0, mdns: false, logLevel: 'debug' as const }
    const { modelledCompute } = await import('../simnet/compute.js')
    const a = await startNode({ dataDir: dirA, config, log: createLog('debug', fd, 'json'), hooks: { compute: modelledCompute([5, 10]) } })
    const b = await startTestNode(dirB, { bootstrap: [a.libp2p.getMultiaddrs()[0]!.toString()] })
    try {
      await waitFor('b to connect', () => a.libp2p.getPeers().length === 1)
      await b.submit(await readFile(fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))), { file: 'sum.png', critical: false })
      await new Promise(resolve => setTimeout(resolve, 1500))
    } finally {
      await b.stop()
      await a.stop()
      closeSync(fd)
    }
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    for (const line of lines) {
      JSON.parse(line)
      assert.ok((line.match(/"component":/g) ?? []).length <= 1, `a component key repeated: ${line}`)
    }
    const said = lines.filter(l => l.includes('"peer membership"') && l.includes(b.peerId.toString()))
    assert.equal(said.length, 1, said.join('\n'))
    const { logFormat } = await import('../node/log.js')
    assert.equal(logFormat(2, { TEXMESH_LOG_FORMAT: 'pretty' }), 'pretty')
    assert.equal(logFormat(5, {}), 'json')
  })

  it('says once at start when a node is in an open network that other hosts can reach', async () => {
    for (const [listen, warned] of [['/ip4/0.0.0.0/tcp/0', true], ['/ip4/127.0.0.1/tcp/0', false]] as const) {
      const dir = await tempDir()
      dirs.push(dir)
      const daemon = spawnCli(['node', '--listen', listen, '--api-port', '0', '--no-mdns', '--data-dir', dir])
      const done = collect(daemon)
      let said = ''
      daemon.stderr?.on('data', (d: Buffer) => { said += d.toString() })
      try {
        // The note comes with the "running" line, in the same turn; the runtime file comes a little before both.
        await waitFor('the node to say it runs', async () => said.includes(' running; '), 20_000)
      } finally {
        daemon.kill('SIGTERM')
      }
      const r = await done
      assert.equal((r.stderr.match(/this node is in an open network/g) ?? []).length, warned ? 1 : 0, r.stderr)
      if (warned) assert.match(r.stderr, /texmesh network init --name NAME/)
    }
  })

  it('texmesh stop stops a running node cleanly and waits for it; a second stop says none is running', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const daemon = spawnCli(['node', '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', '0', '--no-mdns', '--data-dir', dir])
    const done = collect(daemon)
    try {
      const runtime = await waitFor('the node to start', async () => await new DataDir(dir).runtime(), 20_000)
      const stop = await runCli(['stop', '--data-dir', dir, '--json'])
      assert.equal(stop.code, 0, stop.stderr)
      const said = JSON.parse(stop.stdout)
      assert.equal(said.stopped, true)
      assert.equal(said.pid, runtime.pid)
      assert.equal(said.peerId, runtime.peerId)
      // stop returned once the process had gone: it exited as after Ctrl-C, and left no runtime file
      assert.equal((await done).code, 0)
      assert.equal(await new DataDir(dir).runtime(), undefined)
      await assert.rejects(stat(new DataDir(dir).paths.runtime), { code: 'ENOENT' })
    } finally {
      daemon.kill('SIGKILL')
    }
    const again = await runCli(['stop', '--data-dir', dir])
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /no texmesh node is running on data dir/)
    const bad = await runCli(['stop', '--data-dir', dir, '--timeout', '0'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /--timeout must be a whole number from 1 to 3600/)
  })

  it('refuses a second node on the same data dir, and a taken port, with a clear error', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const node = await startTestNode(dir)
    try {
      await assert.rejects(startTestNode(dir), { name: 'DataDirInUseError', message: /in use by another running texmesh node \(pid \d+/ })
      // the running node is unharmed
      assert.equal((await node.status()).peerId, node.peerId.toString())
      assert.equal((await new DataDir(dir).runtime())?.pid, process.pid)

      const other = await tempDir()
      dirs.push(other)
      await assert.rejects(startTestNode(other, { apiPort: node.apiPort }), { name: 'PortInUseError', message: new RegExp(`API port ${node.apiPort}`) })
      const taken = node.libp2p.getMultiaddrs()[0]!.decapsulateCode(421).toString()
      await assert.rejects(startTestNode(other, { listen: [taken] }), { name: 'PortInUseError', message: /--listen/ })
      // a failed start leaves the data dir free for the next try
      const ok = await startTestNode(other)
      await ok.stop()
    } finally {
      await node.stop()
    }
    assert.equal(await new DataDir(dir).runtime(), undefined)
  })

  it('ignores the runtime file of a killed node even when its pid has gone to another process', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const node = await startTestNode(dir)
    const peerId = node.peerId.toString()
    await node.stop()
    const dataDir = new DataDir(dir)
    // What a node killed by SIGKILL or a power cut leaves behind, its pid since reused by a live
    // process that is no texmesh node (here this test's own): the same pid, another start.
    const self = processIdentity(process.pid)
    assert.ok(self != null, 'this Linux system tells a process\'s boot and start time')
    await dataDir.writeRuntime({ pid: process.pid, process: { boot: self.boot, start: String(Number(self.start) - 1) }, peerId, apiPort: 9, startedAt: new Date().toISOString() })
    assert.equal(await dataDir.runtime(), undefined)
    // the same before a reboot: another boot
    await dataDir.writeRuntime({ pid: process.pid, process: { boot: 'another-boot', start: self.start }, peerId, apiPort: 9, startedAt: new Date().toISOString() })
    assert.equal(await dataDir.runtime(), undefined)
    const again = await startTestNode(dir)
    try {
      assert.equal((await dataDir.runtime())?.apiPort, again.apiPort)
    } finally {
      await again.stop()
    }
  })
})

describe('texmesh command line', { timeout: 240_000 }, () => {
  const dirs: string[] = []
  after(async () => { await Promise.all(dirs.map(removeDir)) })

  it('has help for every command, each with --data-dir', async () => {
    const commands = [['node'], ['status'], ['peers'], ['config', 'show'], ['network', 'init'], ['network', 'invite'], ['network', 'admit'], ['network', 'install-cert'], ['join']]
    for (const c of commands) {
      const r = await runCli([...c, '--help'])
      assert.equal(r.code, 0, c.join(' '))
      assert.match(r.stdout, /--data-dir/, c.join(' '))
      // every command but the daemon itself prints data
      if (c[0] !== 'node') assert.match(r.stdout, /--json/, c.join(' '))
    }
    const top = await runCli(['--help'])
    assert.match(top.stdout, /TEXMESH_HOME/)
    const bad = await runCli(['frobnicate'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /unknown command/)
  })

  it('runs node processes with the V8 flags node/v8-flags.ts names, from the command\'s first line, the npm scripts and the processes tests start', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const firstLine = (await readFile(join(root, 'bin/texmesh.ts'), 'utf8')).split('\n')[0]
    assert.equal(firstLine, `#!/usr/bin/env -S node ${NODE_V8_FLAGS.join(' ')}`)
    const scripts = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts
    assert.equal(scripts.texmesh, `node ${NODE_V8_FLAGS.join(' ')} dist/bin/texmesh.js`)
    assert.equal(scripts.start, `node ${NODE_V8_FLAGS.join(' ')} dist/bin/texmesh.js node`)
    // What is shipped: the compiled command keeps the first line.
    assert.equal((await readFile(join(root, 'dist/bin/texmesh.js'), 'utf8')).split('\n')[0], firstLine)
    // A process the tests start (as simnet's do) has them.
    const probe = await collect(spawnCli(['process.stdout.write(JSON.stringify(process.execArgv))'], undefined, '-e'))
    assert.deepEqual((JSON.parse(probe.stdout) as string[]).slice(0, NODE_V8_FLAGS.length), [...NODE_V8_FLAGS])
  })

  it('runs from the bundle npm run build makes, which finds the files beside the modules it was made from; and from the modules when asked', async () => {
    assert.deepEqual(chooseCommands(new URL('../bin/', import.meta.url), {}), { bundle: true, why: 'the bundle' }, 'npm run build (npm test runs it) makes the bundle')
    const sum = fileURLToPath(new URL('../../test/fixtures/ocr/sum.png', import.meta.url))
    const ownVersion = (JSON.parse(await readFile(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string }).version
    for (const env of [{}, { TEXMESH_BUNDLE: '0' }]) {
      // The model, a worker's script and the package's version, each found from its own module's URL.
      const read = await runCli(['ocr', sum, '--json'], { env })
      assert.equal(read.code, 0, read.stderr)
      assert.equal((JSON.parse(read.stdout) as { latex: string }).latex, '\\sum_{i=1}^{n}i')
      assert.equal((await runCli(['--version'], { env })).stdout.trim(), ownVersion)
    }
  })

  it('loads no package at start that only some commands use (MathJax, pino-roll, pino-pretty, KaTeX)', async () => {
    const bundle = new URL('../bin/bundle/commands.js', import.meta.url).href
    const lazy = ['mathjax-full', 'pino-roll', 'pino-pretty', 'katex']
    // CommonJS packages, as the bundle's imports and createRequire load them, land in require.cache.
    const code = `import { createRequire } from 'node:module'
      await import(${JSON.stringify(bundle)})
      const require = createRequire(import.meta.url)
      const loaded = name => Object.keys(require.cache).some(k => k.includes('/node_modules/' + name + '/'))
      const before = ${JSON.stringify(lazy)}.filter(loaded)
      require('katex')
      process.stdout.write(JSON.stringify({ before, katexSeen: loaded('katex') }))`
    const probe = await collect(spawnCli(['-e', code], undefined, '--input-type=module'))
    assert.equal(probe.code, 0, probe.stderr)
    assert.deepEqual(JSON.parse(probe.stdout), { before: [], katexSeen: true })
  })

  it('takes the bundle only when it is as new as the modules and the packages it was made from', async () => {
    const root = await tempDir()
    dirs.push(root)
    const bin = join(root, 'dist', 'bin')
    await mkdir(bin, { recursive: true })
    await mkdir(join(root, 'node_modules'))
    const binUrl = pathToFileURL(bin + '/')
    const at = async (file: string, s: number): Promise<void> => {
      await writeFile(file, '')
      await utimes(file, s, s)
    }
    const t = 1_700_000_000
    await at(join(bin, 'commands.js'), t)
    assert.equal(chooseCommands(binUrl, {}).bundle, false, 'no bundle')
    await mkdir(join(bin, 'bundle'))
    await at(join(bin, 'bundle', 'commands.js'), t + 60)
    assert.equal(chooseCommands(binUrl, {}).bundle, true)
    assert.equal(chooseCommands(binUrl, { TEXMESH_BUNDLE: '0' }).bundle, false)
    // A packed tarball installed: the files written in turn, a few ms apart, in either order.
    await at(join(bin, 'commands.js'), t + 60.004)
    assert.equal(chooseCommands(binUrl, {}).bundle, true)
    // A bare tsc after the build, and a package installed after it.
    await at(join(bin, 'commands.js'), t + 600)
    assert.deepEqual(chooseCommands(binUrl, {}), { bundle: false, why: 'the bundle is older than the compiled modules' })
    await at(join(bin, 'commands.js'), t)
    await at(join(root, 'node_modules', '.package-lock.json'), t + 600)
    assert.deepEqual(chooseCommands(binUrl, {}), { bundle: false, why: 'the bundle is older than the installed packages' })
  })

  it('runs a node, answers status/peers/config, stops cleanly on SIGTERM, and refuses a second node on its data dir', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const env = { TEXMESH_HOME: dir }
    const stopped = await runCli(['status'], { env })
    assert.equal(stopped.code, 1)
    assert.match(stopped.stderr, /^texmesh: no texmesh node is running on data dir/)

    const flags = ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/tcp/0/ws', '--api-port', '0', '--no-mdns']
    const daemon = spawnCli(['node', ...flags], env)
    const done = collect(daemon)
    try {
      const runtime = await waitFor('the node to write its runtime file', async () => await new DataDir(dir).runtime(), 20_000)
      assert.equal(runtime.pid, daemon.pid)
      // The web pages, found from the API's module (in the bundle, from its URL).
      const page = await fetch(`http://127.0.0.1:${runtime.apiPort}/`)
      assert.equal(page.status, 200)
      assert.match(await page.text(), /<script[^>]+src="\/assets\/app\.js"/)

      const status = await runCli(['status', '--json'], { env })
      assert.equal(status.code, 0, status.stderr)
      const s = JSON.parse(status.stdout)
      for (const key of ['peerId', 'addresses', 'network', 'peers']) assert.ok(key in s, `status lacks ${key}`)
      assert.equal(s.peerId, runtime.peerId)
      assert.ok(s.addresses.some((a: string) => a.includes('/ws/')))
      assert.deepEqual(s.network, { name: null, private: false })
      assert.equal(s.peers, 0)
      const human = await runCli(['status', '--data-dir', dir])
      assert.match(human.stdout, new RegExp(`peer id\\s+${runtime.peerId}`))

      const peers = await runCli(['peers', '--json', '--data-dir', dir])
      assert.deepEqual(JSON.parse(peers.stdout), [])

      const config = await runCli(['config', 'show', '--json', '--api-port', '9999'], { env: { ...env, TEXMESH_MDNS: 'false' } })
      const c = JSON.parse(config.stdout)
      assert.equal(c.config.apiPort, 9999)
      assert.equal(c.sources.apiPort, 'flag')
      assert.equal(c.config.mdns, false)
      assert.equal(c.sources.mdns, 'env')
      assert.equal(c.dataDir, dir)
      // Without flags, config show shows what the running node uses: its own flags included.
      const live = await runCli(['config', 'show', '--data-dir', dir])
      assert.equal(live.code, 0, live.stderr)
      assert.match(live.stderr, /the node running on this data dir \(pid \d+\) uses this configuration/)
      assert.match(live.stdout, /mdns\s+false\s+\(flag\)/)
      assert.match(live.stdout, /apiPort\s+0\s+\(flag\)/)

      const second = await runCli(['node', ...flags], { env })
      assert.equal(second.code, 1)
      const lines = second.stderr.trim().split('\n')
      assert.equal(lines.length, 1, second.stderr)
      assert.match(lines[0]!, /^texmesh: data dir .* is in use by another running texmesh node/)
    } finally {
      daemon.kill('SIGTERM')
    }
    const result = await done
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /"msg":"node stopped"/)
    assert.equal(await new DataDir(dir).runtime(), undefined)
  })

  it('reports a taken port in one line', async () => {
    const dir = await tempDir()
    dirs.push(dir)
    const port = await freePort()
    const blocker = createServer().listen(port, '127.0.0.1')
    await new Promise(resolve => blocker.once('listening', resolve))
    try {
      const r = await runCli(['node', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--api-port', String(port), '--no-mdns'])
      assert.equal(r.code, 1)
      assert.match(lastLine(r.stderr), new RegExp(`^texmesh: API port ${port} on 127.0.0.1 is already in use`))
      const l = await runCli(['node', '--data-dir', dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api-port', '0', '--no-mdns'])
      assert.equal(l.code, 1)
      assert.match(lastLine(l.stderr), /^texmesh: cannot listen on .*already in use/)
    } finally {
      blocker.close()
    }
  })

  it('walks the invite flow: network init, join, admit, install-cert', async () => {
    const adminDir = await tempDir()
    const memberDir = await tempDir()
    dirs.push(adminDir, memberDir)
    const init = await runCli(['network', 'init', '--name', 'maths-dept', '--data-dir', adminDir, '--listen', '/ip4/127.0.0.1/tcp/7999', '--json'])
    assert.equal(init.code, 0, init.stderr)
    const made = JSON.parse(init.stdout)
    assert.equal(made.network, 'maths-dept')
    assert.deepEqual(made.bootstrap, [`/ip4/127.0.0.1/tcp/7999/p2p/${made.peerId}`])
    assert.equal((await stat(new DataDir(adminDir).paths.adminKey)).mode & 0o777, 0o600)
    assert.equal((await stat(new DataDir(adminDir).paths.network)).mode & 0o777, 0o600)

    const again = await runCli(['network', 'init', '--name', 'x', '--data-dir', adminDir])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already belongs to network "maths-dept"/)

    const join = await runCli(['join', made.invite, '--data-dir', memberDir, '--json'])
    assert.equal(join.code, 0, join.stderr)
    const joined = JSON.parse(join.stdout)
    assert.equal(joined.network, 'maths-dept')
    const badJoin = await runCli(['join', 'texmesh-invite-v1:garbage', '--data-dir', await tempDir()])
    assert.equal(badJoin.code, 1)
    assert.match(badJoin.stderr, /^texmesh: invite is damaged/)

    const notAdmin = await runCli(['network', 'admit', made.peerId, '--data-dir', memberDir])
    assert.equal(notAdmin.code, 1)
    assert.match(notAdmin.stderr, /no admin key/)

    const admit = await runCli(['network', 'admit', joined.peerId, '--days', '10', '--data-dir', adminDir, '--json'])
    assert.equal(admit.code, 0, admit.stderr)
    const cert = JSON.parse(admit.stdout)
    assert.equal(cert.peer, joined.peerId)

    // Without --json: the certificate alone on stdout (words on stderr), so its output can be installed as it is.
    const plain = await runCli(['network', 'admit', joined.peerId, '--data-dir', adminDir])
    assert.equal(plain.code, 0, plain.stderr)
    assert.match(plain.stdout, /^texmesh-cert-v1:\S+\n$/)
    assert.match(plain.stderr, /install-cert/)

    const wrongNode = await runCli(['network', 'install-cert', cert.certificate, '--data-dir', adminDir])
    assert.equal(wrongNode.code, 1)
    assert.match(wrongNode.stderr, /wrong-peer/)
    const install = await runCli(['network', 'install-cert', cert.certificate, '--data-dir', memberDir, '--json'])
    assert.equal(install.code, 0, install.stderr)
    assert.equal(JSON.parse(install.stdout).network, 'maths-dept')

    const invite = await runCli(['network', 'invite', '--data-dir', memberDir, '--listen', '/ip4/127.0.0.1/tcp/8123', '--json'])
    const inv = JSON.parse(invite.stdout)
    assert.deepEqual(inv.bootstrap, [`/ip4/127.0.0.1/tcp/8123/p2p/${joined.peerId}`, `/ip4/127.0.0.1/tcp/7999/p2p/${made.peerId}`])
    // The admin's node now listens elsewhere: its invite carries where it is, not where it was at init.
    const moved = JSON.parse((await runCli(['network', 'invite', '--data-dir', adminDir, '--listen', '/ip4/127.0.0.1/tcp/8125', '--json'])).stdout)
    assert.deepEqual(moved.bootstrap, [`/ip4/127.0.0.1/tcp/8125/p2p/${made.peerId}`])
  })
})
