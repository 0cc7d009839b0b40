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
  for (const key of ['from', 'to', 'diff', 'install', 'customizations', 'installed', 'upgrade', 'rollback']) assert.ok(key in P, key)
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

test('plan JSON masks secret values, as Python plan_json and Rust Plan::to_json', () => {
  const plan = at.planInstall(from(), P.install.options)
  const masked = at.planJson(plan)
  assert.equal(masked, P.install.json)
  assert.ok(!masked.includes('Sup3r-s3cret-admin'))
  assert.ok(JSON.stringify(plan).includes('Sup3r-s3cret-admin'))
})

test('customize records the edits the upgrade keeps', () => {
  const installed = at.customize(P.install.state, { env: { upms: { JAVA_OPTS: '-Xms1g -Xmx3g' } } })
  assert.deepEqual(installed, P.installed)
  assert.deepEqual(at.customize(P.install.state, P.customizations), P.installed)
  assert.deepEqual(at.customize(installed, {}), installed)
  const after = at.apply(installed, at.planUpgrade(installed, from(), to(), P.upgrade.options))
  assert.equal(after.components.upms.customizations.env.JAVA_OPTS, '-Xms1g -Xmx3g')
})

test('customize refuses edits naming the component, and misspelt fields', () => {
  assert.throws(() => at.customize(P.install.state, { replicas: { ghost: 2 } }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'components[ghost].replicas')
    assert.match(err.message, /ghost/)
    return true
  })
  assert.throws(() => at.customize(P.install.state, { volume_capacities: { upms: { nope: '1Gi' } } }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'components[upms].volumes[nope].capacity')
    return true
  })
  assert.throws(() => at.customize(P.install.state, { replica: { upms: 2 } }), (err) => {
    assert.equal(err.code, 'INVALID_ARGUMENT')
    assert.equal(err.details.option, 'customizations.replica')
    return true
  })
  assert.throws(() => at.customize(P.install.state, { replicas: { upms: 'three' } }), (err) => {
    assert.equal(err.code, 'DOCUMENT_INVALID')
    assert.equal(err.details.path, 'customizations.replicas.upms')
    return true
  })
})

test('upgrade plan keeps the customization', () => {
  const plan = at.planUpgrade(P.installed, from(), to(), P.upgrade.options)
  assert.deepEqual(plan, P.upgrade.plan)
  assert.equal(at.renderPlan(plan), P.upgrade.text)
  assert.deepEqual(at.apply(P.installed, plan), P.upgrade.state)
})

test('upgradeRecord keeps its inputs and times', () => {
  const record = at.upgradeRecord(P.installed, P.upgrade.plan, P.rollback.outcome)
  assert.deepEqual(record, { before: P.installed, plan: P.upgrade.plan, outcome: P.rollback.outcome })
  const timed = at.upgradeRecord(P.installed, P.upgrade.plan, { status: 'succeeded' }, '2026-01-02T03:04:05Z', '2026-01-02T03:09:00Z')
  assert.deepEqual([timed.started_at, timed.finished_at], ['2026-01-02T03:04:05Z', '2026-01-02T03:09:00Z'])
  assert.deepEqual(at.recordStateAfter(timed), P.upgrade.state)
  assert.throws(() => at.upgradeRecord(P.installed, P.upgrade.plan, { status: 'exploded' }), { code: 'DOCUMENT_INVALID' })
})

test('emptyState is the state before the first install', () => {
  assert.deepEqual(at.emptyState('pig'), { template: 'pig', version: '', components: {} })
})

test('rollback after a failed step', () => {
  const record = at.upgradeRecord(P.installed, P.upgrade.plan, P.rollback.outcome)
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
