#!/usr/bin/env node
// The `kiln` bin: a committed file, so package managers link it before the first build.
import '../dist/kiln.js'
