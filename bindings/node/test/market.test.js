'use strict'
// The offline delivery story from Node on the Pig fixtures (mirrors the
// Python suite): images written by the test as an OCI layout, publish,
// full and differential exports with progress, import into a second
// market, and the packages an import must refuse. Tests run in order and
// build on each other's markets.

const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Market, Template, generateKeyPair, diff } = require('..')
const helpers = require('./helpers')
const images = require('./images')
const { startRegistry } = require('./registry')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-market-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

/** Awaits `promise`, expects it to reject, returns the error. */
async function rejected(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected the promise to reject')
}

/** Publishes Pig `version` to `market`, checking the images it adds. */
async function publishPig(market, version, layout = {}) {
  const pinned = await helpers.publishPig(market, version, tmp, layout)
  assert.equal(market.version('pig', version).contentDigest(), pinned.contentDigest())
  return pinned
}

const source = Market.open(path.join(tmp, 'source'))
const keys = generateKeyPair()
let pig1
let pig2

test('publish Pig 1.0.0 and 2.0.0 with synthetic images', async () => {
  pig1 = await publishPig(source, '1.0.0')
  pig2 = await publishPig(source, '2.0.0')
  const [summary] = source.templates()
  assert.equal(summary.id, 'pig')
  assert.deepEqual(summary.versions.map((v) => [v.version, v.state]), [['1.0.0', 'draft'], ['2.0.0', 'draft']])
  assert.equal(source.versions('pig')[1].content_digest, pig2.contentDigest())
  assert.ok(source.version('pig', '2.0.0').equals(pig2))
  assert.ok(source.document('pig', '2.0.0').equals(pig2))
  assert.equal(source.publish(pig2).outcome, 'unchanged')
  const inventory = source.inventory()
  assert.deepEqual(inventory.versions.map((v) => v.version), ['1.0.0', '2.0.0'])
  assert.ok(inventory.blobs.length > 10)
  assert.equal(diff(pig1, pig2).to_version, '2.0.0')
})

test('market errors carry codes', async () => {
  const changed = pig2.toObject()
  changed.release_notes = 'Something else.'
  assert.throws(() => source.publish(Template.fromObject(changed)), { code: 'VERSION_CONFLICT' })
  const err = (() => {
    try {
      source.version('pig', '9.9.9')
    } catch (e) {
      return e
    }
  })()
  assert.equal(err.code, 'NOT_FOUND')
  assert.equal(err.details.kind, 'not_found')
  assert.throws(() => source.document('pig', '9.9.9'), { code: 'NOT_FOUND' })
  assert.throws(() => source.setReleaseState('pig', '1.0.0', 'released'), (e) => {
    assert.equal(e.code, 'RELEASE_STATE')
    assert.deepEqual(e.details.allowed, ['testing'])
    return true
  })
  source.setReleaseState('pig', '1.0.0', 'testing')
  source.setReleaseState('pig', '1.0.0', 'released')
  assert.equal(source.versions('pig')[0].state, 'released')
  const missing = await rejected(source.addOciLayout(path.join(tmp, 'no-such-layout')))
  assert.equal(missing.code, 'MARKET_ERROR')
  assert.match(missing.message, /no-such-layout/)
})

test('images from a docker save tarball', async () => {
  const market = Market.open(path.join(tmp, 'docker'))
  const file = path.join(tmp, 'busybox.tar')
  images.writeDockerArchive(file, 'registry.example.com/tools/busybox:1.36')
  const [ref] = await market.addDockerArchive(file)
  assert.equal(ref.name, 'registry.example.com/tools/busybox:1.36')
  assert.match(ref.digest, /^sha256:[0-9a-f]{64}$/)
  assert.deepEqual(market.images(), [ref])
})

const destination = Market.open(path.join(tmp, 'destination'))
let full

test('full signed export with progress, imported into a second market', async () => {
  const reports = []
  const file = path.join(tmp, 'pig-1.0.0.tar.zst')
  full = await source.export(file, 'pig', ['1.0.0'], { signing_key: keys.secret_key, allow_draft: true }, (p) => reports.push(p))
  assert.deepEqual(full.files, [file])
  assert.equal(full.omitted_blobs, 0)
  assert.equal(full.archive_bytes, fs.statSync(file).size)
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(reports.length > 0, 'progress was reported')
  assert.ok(reports.every((p) => p.phase === 'export' || p.phase === 'done'), JSON.stringify(reports[0]))
  assert.ok(reports.some((p) => p.bytes_done > 0 && p.bytes_total >= p.bytes_done))

  const imports = []
  const report = await destination.import(file, { trusted_keys: [keys.public_key] }, (p) => imports.push(p.phase))
  assert.equal(report.signer, keys.key_id)
  assert.deepEqual(report.versions, [{ version: '1.0.0', outcome: 'added' }])
  assert.equal(report.blobs_written, full.carried_blobs)
  assert.ok(destination.version('pig', '1.0.0').equals(source.version('pig', '1.0.0')))
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(imports.includes('import'), imports.join())

  const again = await destination.import(file, { trusted_keys: [keys.public_key_file] })
  assert.deepEqual(again.versions, [{ version: '1.0.0', outcome: 'unchanged' }])
  assert.equal(again.blobs_written, 0)
  assert.deepEqual((await destination.verify()).problems, [])
})

test('differential export against versions, and against an inventory', async () => {
  const file = path.join(tmp, 'pig-2.0.0-diff.tar.zst')
  const byVersions = await source.export(file, 'pig', ['2.0.0'], {
    base: { versions: ['1.0.0'] }, signing_key: keys.secret_key, allow_draft: true,
  })
  assert.ok(byVersions.omitted_blobs > 0, 'shared layers are left out')
  const inventoryFile = path.join(tmp, 'pig-2.0.0-inventory.tar.zst')
  const byInventory = await source.export(inventoryFile, 'pig', ['2.0.0'], {
    base: { inventory: destination.inventory() }, allow_draft: true,
  })
  assert.equal(byInventory.carried_blobs, byVersions.carried_blobs)
  assert.ok(byVersions.archive_bytes < full.archive_bytes)

  const report = await destination.import(file, { trusted_keys: [keys.public_key] })
  assert.deepEqual(report.versions, [{ version: '2.0.0', outcome: 'added' }])
  assert.deepEqual(destination.versions('pig').map((v) => v.version), ['1.0.0', '2.0.0'])
  assert.ok(destination.version('pig', '2.0.0').equals(source.version('pig', '2.0.0')))
})

test('a differential package needs its base: MISSING_BASE', async () => {
  const empty = Market.open(path.join(tmp, 'empty'))
  const err = await rejected(empty.import(path.join(tmp, 'pig-2.0.0-diff.tar.zst'), { trusted_keys: [keys.public_key] }))
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'MISSING_BASE')
  assert.equal(err.details.template, 'pig')
  assert.ok(err.details.missing_blobs > 0)
  assert.deepEqual(empty.templates(), [], 'nothing was imported')
})

test('signatures: unsigned and untrusted packages are refused', async () => {
  const unsigned = path.join(tmp, 'pig-unsigned.tar.zst')
  await source.export(unsigned, 'pig', ['1.0.0'], { allow_draft: true })
  const market = Market.open(path.join(tmp, 'strict'))
  let err = await rejected(market.import(unsigned, { trusted_keys: [keys.public_key] }))
  assert.equal(err.code, 'SIGNATURE_INVALID')
  assert.equal(err.details.kind, 'unsigned')
  const stranger = generateKeyPair()
  err = await rejected(market.import(path.join(tmp, 'pig-1.0.0.tar.zst'), { trusted_keys: [stranger.public_key] }))
  assert.equal(err.code, 'SIGNATURE_INVALID')
  assert.equal(err.details.kind, 'untrusted_key')
  assert.equal(err.details.key_id, keys.key_id)
  const report = await market.import(unsigned, { allow_unsigned: true })
  assert.equal(report.signer ?? null, null)
})

test('a tampered package is refused: PACKAGE_INTEGRITY', async () => {
  const file = path.join(tmp, 'pig-plain.tar')
  const report = await source.export(file, 'pig', ['1.0.0'], { compression: 'none', signing_key: keys.secret_key, allow_draft: true })
  const bytes = fs.readFileSync(file)
  // Flip one byte inside the last blob's data (well past the manifest).
  const at = bytes.length - 4096
  bytes[at] ^= 0xff
  const tampered = path.join(tmp, 'pig-tampered.tar')
  fs.writeFileSync(tampered, bytes)
  assert.equal(report.archive_bytes, bytes.length)
  const market = Market.open(path.join(tmp, 'tampered'))
  const err = await rejected(market.import(tampered, { trusted_keys: [keys.public_key] }))
  assert.equal(err.code, 'PACKAGE_INTEGRITY', err.message)
  assert.equal(typeof err.details.entry, 'string')
  assert.deepEqual(market.templates(), [])
})

test('export in parts and import them', async () => {
  const base = path.join(tmp, 'parts', 'pig-1.0.0.tar.zst')
  fs.mkdirSync(path.dirname(base))
  const report = await source.export(base, 'pig', ['1.0.0'], { part_size: 64 << 10, allow_draft: true })
  assert.ok(report.files.length > 1, `${report.files.length} parts`)
  const market = Market.open(path.join(tmp, 'from-parts'))
  const imported = await market.import(report.files, { allow_unsigned: true })
  assert.deepEqual(imported.versions, [{ version: '1.0.0', outcome: 'added' }])
})

test('option mistakes are argument errors', async () => {
  const x = path.join(tmp, 'x')
  let err = await rejected(source.export(x, 'pig', ['1.0.0'], { compression: 'gzip' }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.compression')
  err = await rejected(source.export(x, 'pig', ['2.0.0'], {
    base: { versions: ['1.0.0'], inventory: source.inventory() },
  }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.base')
  err = await rejected(source.export(x, 'pig', ['1.0.0'], { signing_key: 'not a key' }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.signing_key')
  err = await rejected(source.export(x, 'pig', ['1.0.0'], { part_size: 0 }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.part_size')
  err = await rejected(source.export(x, 'pig', ['1.0.0'], { partSize: 10 }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.option, 'options.partSize')
})

test('relocate a version to a real registry, then again without uploads', async (t) => {
  const registry = await startRegistry()
  t.after(() => registry.stop())
  const target = { registry: `${registry.address}/mirror`, insecure: true }
  const events = []
  const first = await source.relocateVersion('pig', '1.0.0', target, { parallelism: 2 }, (p) => events.push(p.event))
  assert.ok(first.blobs_uploaded > 0 && first.bytes_uploaded > 0, JSON.stringify(first))
  const gateway = first.images.find((i) => i.name === 'registry.example.com/pig/pig-gateway:3.8.2')
  assert.equal(gateway.relocated, `${registry.address}/mirror/pig/pig-gateway@${gateway.digest}`)
  const answer = await fetch(`http://${registry.address}/v2/mirror/pig/pig-gateway/manifests/${gateway.digest}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  })
  assert.equal(answer.status, 200)
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(events.includes('uploaded') && events.includes('done'), events.join())
  const again = await source.relocateVersion('pig', '1.0.0', target)
  assert.equal(again.blobs_uploaded, 0)
  assert.equal(again.bytes_uploaded, 0)
  const err = await rejected(source.relocateVersion('pig', '1.0.0', { registry: registry.address, username: 'only-user' }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
})

test('pull images from a real registry into another market, then again without fetching', async (t) => {
  const registry = await startRegistry()
  t.after(() => registry.stop())
  const pushed = await source.relocateVersion('pig', '1.0.0', { registry: `${registry.address}/pullsrc`, insecure: true })
  const wanted = pushed.images.map((i) => i.relocated)
  const other = Market.open(path.join(tmp, 'pulled'))
  const access = { registry: registry.address, insecure: true }
  const events = []
  const report = await other.pull(wanted, access, { blob_parallelism: 2 }, (p) => events.push(p.event))
  assert.deepEqual(
    report.images.map((i) => i.image.digest),
    pushed.images.map((i) => i.digest),
  )
  assert.ok(report.blobs_fetched > 0, JSON.stringify(report))
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(events.includes('fetched') && events.includes('done'), events.join())
  assert.deepEqual((await other.verify()).problems, [])
  const again = await other.pull(wanted, access)
  assert.equal(again.blobs_fetched, 0)
  assert.equal(again.manifests_fetched, 0)
  const err = await rejected(other.pull(wanted, access, { blob_paralelism: 2 }))
  assert.equal(err.code, 'INVALID_ARGUMENT')
})

test('delete, gc and verify', async () => {
  const market = Market.open(path.join(tmp, 'gc'))
  await market.import(path.join(tmp, 'pig-1.0.0.tar.zst'), { trusted_keys: [keys.public_key] })
  market.setReleaseState('pig', '1.0.0', 'deprecated')
  assert.throws(() => market.deleteVersion('pig', '1.0.0'), { code: 'RELEASE_STATE' })
  market.deleteVersion('pig', '1.0.0', { force: true })
  const gc = await market.gc()
  assert.ok(gc.blobs_removed > 0 && gc.bytes_freed > 0, JSON.stringify(gc))
  assert.deepEqual(await market.verify(), {
    blobs_checked: market.inventory().blobs.length, problems: [], staged_files: 0, staged_bytes: 0,
  })
})

test('a long export does not block the event loop', async (t) => {
  // One image with two 32 MiB layers, half incompressible: an export that
  // takes far longer than a timer interval on any machine.
  const market = Market.open(path.join(tmp, 'large'))
  const big = await publishPig(market, '1.0.0', {
    extra: { 'registry.example.com/pig/pig-gateway:3.8.2': [32 << 20, 32 << 20] },
  })
  assert.equal(big.version, '1.0.0')
  let ticks = 0
  let progressBeforeDone = 0
  let settled = false
  const started = process.hrtime.bigint()
  let last = started
  let maxGapMs = 0
  const timer = setInterval(() => {
    const now = process.hrtime.bigint()
    maxGapMs = Math.max(maxGapMs, Number(now - last) / 1e6)
    last = now
    ticks += 1
  }, 5)
  const promise = market.export(path.join(tmp, 'large.tar.zst'), 'pig', ['1.0.0'], { allow_draft: true },
    () => {
      if (!settled) progressBeforeDone += 1
    },
  )
  const report = await promise
  settled = true
  clearInterval(timer)
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6
  t.diagnostic(
    `export of ${report.carried_bytes} bytes took ${elapsedMs.toFixed(0)} ms; ` +
      `${ticks} timer ticks (5 ms interval), longest gap ${maxGapMs.toFixed(1)} ms; ` +
      `${progressBeforeDone} progress reports before it resolved`,
  )
  assert.ok(report.carried_bytes > 64 << 20)
  // A blocked loop runs no timer and delivers no callback until the work is done.
  assert.ok(ticks > 0, 'the timer ticked while the export ran')
  assert.ok(progressBeforeDone > 0, 'progress arrived while the export ran')
})

test('an AbortSignal stops an export and an import at their next report; reruns finish them', async () => {
  const market = Market.open(path.join(tmp, 'abort'))
  await publishPig(market, '1.0.0', {
    extra: { 'registry.example.com/pig/pig-gateway:3.8.2': [24 << 20, 24 << 20] },
  })
  const file = path.join(tmp, 'abort.tar.zst')
  const options = { signing_key: keys.secret_key, allow_draft: true }
  const exporting = new AbortController()
  const err = await rejected(market.export(file, 'pig', ['1.0.0'], options, () => exporting.abort(), exporting.signal))
  assert.equal(err.code, 'CANCELLED', err.message)
  assert.ok(!fs.existsSync(file), 'a stopped export leaves no package behind')
  const exported = await market.export(file, 'pig', ['1.0.0'], options, null, new AbortController().signal)
  assert.ok(exported.carried_bytes > 48 << 20, JSON.stringify(exported))

  const site = Market.open(path.join(tmp, 'abort-site'))
  const trust = { trusted_keys: [keys.public_key] }
  const importing = new AbortController()
  const stopped = await rejected(site.import(file, trust, () => importing.abort(), importing.signal))
  assert.equal(stopped.code, 'CANCELLED', stopped.message)
  assert.deepEqual(site.versions('pig'), [], 'a stopped import adds no version')
  assert.deepEqual((await site.verify()).problems, [])
  const imported = await site.import(file, trust)
  assert.equal(imported.template, 'pig')
  assert.equal(site.version('pig', '1.0.0').contentDigest(), market.version('pig', '1.0.0').contentDigest())

  // An aborted signal stops work before it starts; a value that is not a
  // signal is refused at the call.
  const early = await rejected(site.verify(importing.signal))
  assert.equal(early.code, 'CANCELLED', early.message)
  assert.throws(() => site.gc({ aborted: 'no' }), /AbortSignal/)
})

test('drafts export only on purpose; a held market lock times out', async () => {
  assert.equal(source.versions('pig').find((v) => v.version === '2.0.0').state, 'draft')
  const err = await rejected(source.export(path.join(tmp, 'draft.tar.zst'), 'pig', ['2.0.0']))
  assert.equal(err.code, 'INVALID_ARGUMENT')
  assert.equal(err.details.kind, 'draft_export')
  assert.match(err.message, /allow_draft/)
  assert.ok(!fs.existsSync(path.join(tmp, 'draft.tar.zst')))

  // Another process holds the lock (flock(1), the same kind of lock).
  const { spawn } = require('node:child_process')
  const lock = path.join(source.root, '.lock')
  const holder = spawn('flock', ['-o', '-x', lock, '-c', 'echo held; exec sleep 30'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  })
  await new Promise((resolve) => holder.stdout.once('data', resolve))
  try {
    assert.throws(
      () => Market.open(source.root, { lock_timeout_seconds: 0.2 }),
      (e) => e.code === 'LOCKED' && e.details.kind === 'lock_timeout',
    )
  } finally {
    const exited = new Promise((resolve) => holder.once('exit', resolve))
    process.kill(-holder.pid)
    await exited
  }
  assert.equal(Market.open(source.root, { lock_timeout_seconds: 0.2 }).root, source.root)
})
