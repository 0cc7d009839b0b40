'use strict'
// The market on an OCI registry from Node, against a real docker-registry on
// 127.0.0.1: publish Pig from a local market, list, release with a signed
// transition, fetch into another local market; an aborted publish.

const test = require('node:test')
const { after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { Market, RegistryMarket, generateKeyPair } = require('..')
const { publishPig } = require('./helpers')
const { startRegistry } = require('./registry')

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'apptemplate-node-remote-'))
after(() => fs.rmSync(tmp, { recursive: true, force: true }))

async function rejected(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected the promise to reject')
}

test('publish, list, release and fetch through a registry market', async (t) => {
  const registry = await startRegistry()
  t.after(() => registry.stop())
  const local = Market.open(path.join(tmp, 'vendor'))
  const pig = await publishPig(local, '1.0.0', tmp)
  const location = `oci://${registry.address}/vendor`
  const remote = new RegistryMarket(location, [{ registry: registry.address, insecure: true }])
  assert.equal(remote.location, location)

  // Aborted at its first report, the publication leaves no version; a
  // rerun publishes it.
  const controller = new AbortController()
  const stopped = await rejected(remote.publishFrom(local, 'pig', '1.0.0', null, null, () => controller.abort(), controller.signal))
  assert.equal(stopped.code, 'CANCELLED', stopped.message)
  assert.deepEqual(await remote.versions('pig'), [])

  const events = []
  const report = await remote.publishFrom(local, 'pig', '1.0.0', { parallelism: 2 }, null, (p) => events.push(p.event))
  assert.equal(report.outcome.outcome, 'created')
  assert.equal(report.outcome.digest, pig.contentDigest())
  assert.ok(report.reference.startsWith(`${registry.address}/vendor/`), report.reference)
  const [repository] = report.reference.slice(registry.address.length + 1).split(':')
  const answer = await fetch(`http://${registry.address}/v2/${repository}/manifests/${report.artifact}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  })
  assert.equal(answer.status, 200)
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(events.length > 0, 'publishFrom reported progress')
  assert.equal((await remote.publishFrom(local, 'pig', '1.0.0')).outcome.outcome, 'unchanged')

  const [listed] = await remote.versions('pig')
  assert.deepEqual([listed.version, listed.content_digest], ['1.0.0', pig.contentDigest()])
  assert.deepEqual((await remote.templates()).map((s) => s.id), ['pig'])
  assert.ok((await remote.version('pig', '1.0.0')).equals(pig))
  assert.deepEqual(await remote.transitions('pig', '1.0.0'), [])

  const keys = generateKeyPair()
  if (listed.state === 'draft') {
    const step = await remote.setReleaseState('pig', '1.0.0', 'testing', keys.secret_key)
    assert.equal(step.to, 'testing')
  }
  const released = await remote.setReleaseState('pig', '1.0.0', 'released', keys.secret_key)
  assert.equal(released.to, 'released')
  assert.equal(released.signer, keys.key_id)
  assert.equal(released.withdrawn, false)
  assert.equal(await remote.setReleaseState('pig', '1.0.0', 'released'), null)
  assert.equal((await remote.transitions('pig', '1.0.0')).at(-1).digest, released.digest)
  const bad = await rejected(remote.setReleaseState('pig', '1.0.0', 'shipped'))
  assert.equal(bad.code, 'INVALID_ARGUMENT', bad.message)

  const site = Market.open(path.join(tmp, 'site'))
  const fetched = await remote.fetchInto(site, 'pig', '1.0.0', { image_parallelism: 2 })
  assert.equal(fetched.outcome.digest, pig.contentDigest())
  const [copy] = site.versions('pig')
  assert.deepEqual([copy.content_digest, copy.state], [pig.contentDigest(), 'released'])
  assert.deepEqual((await site.verify()).problems, [])
})

test('a bad location is a registry error naming it', () => {
  assert.throws(() => new RegistryMarket('https://registry.example.com/vendor'), (err) => {
    assert.equal(err.code, 'REGISTRY_ERROR', err.message)
    assert.match(err.message, /oci:\/\//)
    return true
  })
})
