'use strict'
// Shared test data of the repository: the Pig fixtures and the test vectors
// (also checked by the Rust and Python suites).

const fs = require('node:fs')
const path = require('node:path')
const { Template } = require('..')

const DATA = path.resolve(__dirname, '..', '..', '..', 'tests', 'data')

function fixtureText(name) {
  return fs.readFileSync(path.join(DATA, name), 'utf8')
}

function loadFixture(name) {
  return Template.fromYaml(fixtureText(name))
}

function vectors() {
  return JSON.parse(fs.readFileSync(path.join(DATA, 'vectors', 'foundation.json'), 'utf8'))
}

/**
 * Publishes the Pig fixture `version` to `market` with synthetic images
 * written as an OCI layout under `dir` (`layout`: options of
 * images.writeOciLayout); returns the published Template.
 */
async function publishPig(market, version, dir, layout = {}) {
  const images = require('./images')
  const doc = loadFixture(`pig/${version}.yaml`).toObject()
  const layoutDir = fs.mkdtempSync(path.join(dir, 'layout-'))
  const digests = images.writeOciLayout(layoutDir, images.imageNames(doc), layout)
  await market.addOciLayout(layoutDir)
  const logo = market.addBlob(images.pigLogo())
  const pinned = Template.fromObject(images.repin(doc, digests, logo))
  market.publish(pinned)
  return pinned
}

function planVectors() {
  return JSON.parse(fs.readFileSync(path.join(DATA, 'vectors', 'plans.json'), 'utf8'))
}

/** The base document with the top-level fields of `fields` replaced. */
function overlay(base, fields) {
  return { ...structuredClone(base), ...structuredClone(fields) }
}

module.exports = { DATA, fixtureText, loadFixture, vectors, planVectors, overlay, publishPig }
