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

/** The base document with the top-level fields of `fields` replaced. */
function overlay(base, fields) {
  return { ...structuredClone(base), ...structuredClone(fields) }
}

module.exports = { fixtureText, loadFixture, vectors, overlay }
