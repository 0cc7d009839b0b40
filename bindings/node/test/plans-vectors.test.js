'use strict'
// The shared plan vectors (tests/data/vectors/plans.json) hold for the Node
// bindings exactly as for Rust and Python: diff, install, upgrade with a
// kept customization, apply, and rollback after a failed step on the Pig
// fixtures. Every value is compared as the plain object of its Rust JSON.

const test = require('node:test')
const assert = require('node:assert/strict')

const at = require('..')
const { loadFixture, planVectors } = require('./helpers')

const P = planVectors()
const from = () => loadFixture(P.from)
const to = () => loadFixture(P.to)

test('plan vectors name their inputs', () => {
  for (const key of ['from', 'to', 'diff', 'install', 'installed', 'upgrade', 'rollback']) assert.ok(key in P, key)
})

test('diff', () => {
  const d = at.diff(from(), to())
  assert.deepEqual(d, P.diff.json)
  assert.equal(at.renderDiff(d), P.diff.text)
})

test('install plan and state', () => {
  const plan = at.planInstall(from(), P.install.options)
  assert.deepEqual(plan, P.install.plan)
  assert.equal(at.renderPlan(plan), P.install.text)
  assert.deepEqual(at.installState(plan), P.install.state)
})

test('upgrade plan keeps the customization', () => {
  const plan = at.planUpgrade(P.installed, from(), to(), P.upgrade.options)
  assert.deepEqual(plan, P.upgrade.plan)
  assert.equal(at.renderPlan(plan), P.upgrade.text)
  assert.deepEqual(at.apply(P.installed, plan), P.upgrade.state)
})

test('rollback after a failed step', () => {
  const record = { before: P.installed, plan: P.upgrade.plan, outcome: P.rollback.outcome }
  const current = at.recordStateAfter(record)
  assert.deepEqual(current, P.rollback.current)
  const plan = at.planRollback(record, current, P.rollback.options)
  assert.deepEqual(plan, P.rollback.plan)
  assert.equal(at.renderPlan(plan), P.rollback.text)
  assert.deepEqual(at.apply(current, plan), P.rollback.state)
})

test('option typos and misshapen data name the field', () => {
  assert.throws(() => at.planInstall(from(), { overrides: { storage_clas: 'fast' } }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'options.overrides.storage_clas')
    assert.match(err.message, /storage_class/)
    return true
  })
  assert.throws(() => at.planUpgrade(P.installed, from(), to(), { prnue: true }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'options.prnue')
    return true
  })
  assert.throws(() => at.planRollback({ before: P.installed, plan: P.upgrade.plan, outcome: P.rollback.outcome }, P.rollback.current, { remove_addded: true }), {
    code: 'INVALID_ARGUMENT',
  })
  const broken = { ...P.installed, components: { upms: { version: 1 } } }
  assert.throws(() => at.planUpgrade(broken, from(), to()), (err) => {
    assert.equal(err.code, 'DOCUMENT_INVALID')
    assert.match(err.details.path, /^components\.upms/)
    return true
  })
  assert.throws(() => at.planInstall(from(), { overrides: { replicas: { billing: 2 } } }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'overrides.replicas[billing]')
    return true
  })
})

test('plans refuse what does not fit', () => {
  assert.throws(() => at.planUpgrade(P.installed, to(), from()), (err) => {
    assert.equal(err.code, 'PRECONDITION_FAILED')
    assert.equal(err.details.kind, 'state_mismatch')
    assert.equal(err.details.found, 'version 1.0.0')
    return true
  })
  const other = from().toObject()
  other.template.id = 'other'
  assert.throws(() => at.diff(from(), at.Template.fromObject(other)), { code: 'TEMPLATE_MISMATCH' })
  assert.deepEqual(at.recordAppliedSteps({ before: P.installed, plan: P.upgrade.plan, outcome: P.rollback.outcome }), [1, 2])
})
