'use strict'
// The shared test vectors hold for the Node bindings, exactly as for Rust
// and Python (mirrors bindings/python/tests/test_vectors.py).

const test = require('node:test')
const assert = require('node:assert/strict')

const { Template, upgradeCandidates, checkPublish, buildIncremental } = require('..')
const { loadFixture, vectors, overlay } = require('./helpers')

const V = vectors()

/** Runs `fn` and checks it throws the error the vectors expect. */
function assertError(fn, expected, label) {
  let err
  try {
    fn()
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof Error, `${label}: expected an error`)
  assert.equal(err.code, expected.code, label)
  assert.equal(err.details.kind, expected.kind, label)
  assert.equal(err.message, expected.message, label)
  if ('problems' in expected) assert.deepEqual(err.problems, expected.problems, label)
}

test('every section has cases', () => {
  for (const section of ['fixtures', 'load_text', 'load_data', 'validation', 'release_state',
    'upgrade_candidates', 'check_publish', 'build_incremental']) {
    assert.ok(V[section].length > 0, section)
  }
})

test('fixtures', () => {
  for (const c of V.fixtures) {
    const t = loadFixture(c.file)
    assert.deepEqual([t.id, t.version, t.releaseState], [c.id, c.version, c.release_state])
    assert.deepEqual(t.validate(), c.problems)
    assert.equal(t.contentDigest(), c.content_digest)
    assert.equal(Template.fromJson(t.toJson()).contentDigest(), c.content_digest)
    assert.equal(Template.fromObject(t.toObject()).contentDigest(), c.content_digest)
  }
})

test('writing', () => {
  const w = V.writing
  const t = Template.fromObject(w.document)
  assert.equal(t.toJson(), w.json)
  assert.equal(t.toYaml(), w.yaml)
  assert.equal(t.contentDigest(), w.content_digest)
  assert.ok(Template.fromYaml(w.yaml).equals(t))
  for (const doc of w.same_content) assert.equal(Template.fromObject(doc).contentDigest(), w.content_digest)
})

test('text that does not load', () => {
  for (const c of V.load_text) {
    const load = c.format === 'json' ? Template.fromJson : Template.fromYaml
    const options = 'max_bytes' in c ? { maxBytes: c.max_bytes } : undefined
    assertError(() => load(c.text, options), c.error, c.name)
  }
})

test('data that does not load', () => {
  for (const c of V.load_data) assertError(() => Template.fromObject(c.document), c.error, c.name)
})

test('validation', () => {
  for (const c of V.validation) {
    const t = Template.fromObject(c.document)
    assert.deepEqual(t.validate(), c.problems, c.name)
    assertError(() => t.ensureValid(), c.error, c.name)
  }
})

test('release state', () => {
  for (const c of V.release_state) {
    const label = `${c.from} -> ${c.to}`
    const t = Template.fromObject(overlay(V.base_document, { release_state: c.from }))
    if (c.ok) {
      t.setReleaseState(c.to)
      assert.equal(t.releaseState, c.to, label)
    } else {
      assertError(() => t.setReleaseState(c.to), c.error, label)
    }
  }
})

test('upgrade candidates', () => {
  for (const c of V.upgrade_candidates) {
    const installed = Template.fromObject(overlay(V.base_document, c.installed))
    const available = c.available.map((o) => Template.fromObject(overlay(V.base_document, o)))
    const run = () => upgradeCandidates(installed, available, { releasedOnly: c.released_only })
    if (c.error) assertError(run, c.error, c.name)
    else assert.deepEqual(run().map((t) => t.version), c.expected, c.name)
  }
})

test('check publish', () => {
  for (const c of V.check_publish) {
    const existing = c.existing === null ? null : Template.fromObject(overlay(V.base_document, c.existing))
    const candidate = Template.fromObject(overlay(V.base_document, c.candidate))
    const run = () => checkPublish(existing, candidate, { overwrite: c.overwrite })
    if (c.error) assertError(run, c.error, c.name)
    else assert.deepEqual({ ...run() }, c.outcome, c.name)
  }
})

test('build incremental', () => {
  for (const c of V.build_incremental) {
    const base = loadFixture(c.base)
    const run = () => buildIncremental(base, c.change)
    if (c.error) {
      assertError(run, c.error, c.name)
    } else {
      const { template, summary } = run()
      assert.deepEqual({ ...summary }, c.summary, c.name)
      assert.deepEqual([template.version, template.releaseState], [c.version, c.release_state])
      assert.equal(template.contentDigest(), c.content_digest)
    }
  }
})

test('capture vectors hold: the same objects and options give the Rust report', () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const { captureObjects } = require('..')
  const { DATA } = require('./helpers')
  const { cases } = JSON.parse(fs.readFileSync(path.join(DATA, 'vectors', 'capture.json'), 'utf8'))
  assert.ok(cases.length >= 3)
  for (const c of cases) {
    assert.deepEqual(captureObjects(c.namespace, c.objects, c.options), c.report, c.name)
  }
  assert.throws(
    () => captureObjects('x', [{ kind: 'ConfigMap', metadata: { name: 'a' } }, { kind: 'Deployment', metadata: { name: 'b' }, spec: 5 }]),
    (e) => e.code === 'INVALID_ARGUMENT' && e.message.includes('objects[1]'),
  )
})
