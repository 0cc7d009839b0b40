'use strict'
// The foundation API from Node, on the Pig fixtures (mirrors
// bindings/python/tests/test_pig.py).

const test = require('node:test')
const assert = require('node:assert/strict')

const apptemplate = require('..')
const { Template, upgradeCandidates, checkPublish, buildIncremental } = apptemplate
const { fixtureText, loadFixture } = require('./helpers')

const pig1 = () => loadFixture('pig/1.0.0.yaml')
const pig2 = () => loadFixture('pig/2.0.0.yaml')

/** Runs `fn`, expects it to throw, returns the error. */
function thrown(fn) {
  try {
    fn()
  } catch (err) {
    return err
  }
  assert.fail('expected an error')
}

test('fixtures load and are valid', () => {
  const t = pig1()
  assert.deepEqual([t.id, t.version, t.releaseState], ['pig', '1.0.0', 'draft'])
  assert.equal(pig2().version, '2.0.0')
  assert.deepEqual(t.validate(), [])
  t.ensureValid()
  const keys = t.toObject().components.map((c) => c.key)
  for (const key of ['nacos', 'gateway', 'auth', 'upms', 'mysql', 'redis']) assert.ok(keys.includes(key), key)
})

test('one digest across YAML, JSON and objects', () => {
  const t = pig1()
  const digest = t.contentDigest()
  assert.match(digest, /^sha256:[0-9a-f]{64}$/)
  const others = [
    Template.fromJson(t.toJson()),
    Template.fromYaml(Buffer.from(fixtureText('pig/1.0.0.yaml'))),
    Template.fromObject(t.toObject()),
    Template.fromYaml(t.toYaml()),
  ]
  for (const other of others) {
    assert.ok(other.equals(t))
    assert.equal(other.contentDigest(), digest)
  }
  assert.deepEqual(t.toObject(), JSON.parse(t.toJson()))
  const doc = { ...t.toObject(), release_state: 'testing', created_at: '2030-01-01T00:00:00Z' }
  assert.equal(Template.fromObject(doc).contentDigest(), digest)
})

test('a broken document reports problem paths', () => {
  const doc = pig1().toObject()
  const gateway = doc.components.find((c) => c.key === 'gateway')
  gateway.image = 'registry.example.com/pig/pig-gateway:latest'
  gateway.depends_on.push('billing')
  doc.version = '1.0'
  const broken = Template.fromObject(doc)
  const problems = broken.validate()
  const kinds = Object.fromEntries(problems.map((p) => [p.path, p.kind]))
  assert.equal(kinds.version, 'invalid_version')
  assert.equal(kinds['components[gateway].image'], 'image_without_digest')
  assert.ok(Object.keys(kinds).some((p) => p.startsWith('components[gateway].depends_on[')))
  const err = thrown(() => broken.ensureValid())
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'VALIDATION_FAILED')
  assert.deepEqual(err.problems, problems)
  assert.match(err.message, /components\[gateway\]\.image/)
})

test('syntax and shape errors', () => {
  let err = thrown(() => Template.fromYaml(fixtureText('pig/1.0.0.yaml') + '\n  - : [\n'))
  assert.equal(err.code, 'DOCUMENT_INVALID')
  assert.equal(err.details.kind, 'syntax')
  assert.ok(err.details.line > 0)
  err = thrown(() =>
    Template.fromObject({ format: 'apptemplate.io/v1', template: { id: 'x', name: 'X' }, version: '1.0.0', components: 'none' }),
  )
  assert.equal(err.code, 'DOCUMENT_INVALID')
  assert.deepEqual(err.details, {
    kind: 'shape',
    path: 'components',
    message: 'invalid type: string "none", expected a sequence',
  })
})

test('conversion errors are argument errors', () => {
  assert.throws(() => Template.fromObject({ format: () => 1 }), { code: 'InvalidArg' })
  assert.throws(() => pig1().setReleaseState('shipped'), { code: 'INVALID_ARGUMENT' })
})

test('upgrade candidates', () => {
  const [one, two] = [pig1(), pig2()]
  assert.deepEqual(upgradeCandidates(one, [two, one]).map((t) => t.version), ['2.0.0'])
  assert.deepEqual(upgradeCandidates(two, [one, two]), [])
  assert.deepEqual(upgradeCandidates(one, [two], { releasedOnly: true }), [])
  const released = two.clone()
  released.setReleaseState('testing')
  released.setReleaseState('released')
  assert.equal(two.releaseState, 'draft', 'clones are independent')
  const found = upgradeCandidates(one, [released], { releasedOnly: true })
  assert.equal(found.length, 1)
  assert.ok(found[0].equals(released))
})

test('release life cycle', () => {
  const t = pig1()
  const err = thrown(() => t.setReleaseState('released'))
  assert.equal(err.code, 'RELEASE_STATE')
  assert.deepEqual(err.details.allowed, ['testing'])
  for (const state of ['testing', 'released', 'deprecated', 'released']) {
    t.setReleaseState(state)
    assert.equal(t.releaseState, state)
  }
  assert.throws(() => t.setReleaseState('draft'), { code: 'RELEASE_STATE' })
})

test('publish and incremental publish', () => {
  const [one, two] = [pig1(), pig2()]
  assert.deepEqual(checkPublish(null, one), { outcome: 'created', digest: one.contentDigest() })

  // 1.1.0 takes the new gateway from 2.0.0 and nothing else.
  const gateway2 = two.toObject().components.find((c) => c.key === 'gateway')
  gateway2.depends_on = gateway2.depends_on.filter((d) => d !== 'report')
  const { template: pig11, summary } = buildIncremental(one, {
    version: '1.1.0',
    release_notes: 'New gateway.',
    components: [gateway2],
  })
  assert.deepEqual(summary.replaced, ['gateway'])
  assert.deepEqual(summary.added, [])
  assert.ok(summary.carried_over.includes('mysql') && !summary.carried_over.includes('gateway'))
  assert.deepEqual([pig11.version, pig11.releaseState], ['1.1.0', 'draft'])
  assert.equal(pig11.toObject().release_notes, 'New gateway.')
  assert.equal(checkPublish(null, pig11).outcome, 'created')

  // Publishing other content under a taken number is refused...
  const released = one.clone()
  released.setReleaseState('testing')
  released.setReleaseState('released')
  const changed = Template.fromObject({ ...one.toObject(), release_notes: 'Changed.' })
  let err = thrown(() => checkPublish(one, changed))
  assert.equal(err.code, 'VERSION_CONFLICT')
  assert.equal(err.details.kind, 'version_exists')
  // ...overwrite replaces a draft, never a released version.
  const replaced = checkPublish(one, changed, { overwrite: true })
  assert.equal(replaced.outcome, 'replaced')
  assert.equal(replaced.previous, one.contentDigest())
  err = thrown(() => checkPublish(released, changed, { overwrite: true }))
  assert.equal(err.details.kind, 'released_immutable')

  err = thrown(() => buildIncremental(two, { version: '1.1.0' }))
  assert.equal(err.code, 'VERSION_CONFLICT')
  assert.deepEqual(err.details, { kind: 'version_not_newer', base: '2.0.0', new: '1.1.0' })
})

test('errors are plain Errors with stable codes', () => {
  const err = thrown(() => Template.fromJson('{'))
  assert.ok(err instanceof Error)
  assert.equal(err.code, 'DOCUMENT_INVALID')
  assert.equal(typeof err.stack, 'string')
})
