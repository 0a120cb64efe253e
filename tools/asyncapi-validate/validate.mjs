// Validates AsyncAPI documents with the official parser; exits 1 on any error (severity 0).
// Usage: node validate.mjs docs/contract/asyncapi.json [more files]   (tests/contract runs it)
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate.mjs ASYNCAPI_FILE...');
  process.exit(2);
}
const severities = ['error', 'warning', 'information', 'hint'];
const parser = new Parser();
let failed = false;
for (const file of files) {
  const { document, diagnostics } = await parser.parse(await readFile(file, 'utf8'));
  for (const d of diagnostics) {
    console.log(`${file}: ${severities[d.severity]} ${d.code} at /${d.path.join('/')}: ${d.message}`);
  }
  const errors = diagnostics.filter((d) => d.severity === 0).length;
  if (errors > 0 || document === undefined) {
    console.error(`${file}: INVALID, ${errors} error(s)`);
    failed = true;
  } else {
    console.log(`${file}: valid AsyncAPI ${document.version()}`);
  }
}
process.exit(failed ? 1 : 0);
