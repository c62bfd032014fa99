#!/usr/bin/env node
// The `ncl` command: a committed shim (so npm can link it before the build) that runs the compiled CLI.
require('../dist/cli/main.js').main(process.argv);
