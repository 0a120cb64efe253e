// Validates an AsyncAPI document with the official parser; exits 1 on any error.
// Usage: node validate.mjs docs/contract/asyncapi.json   (tests/contract runs it)
import { readFile } from 'node:fs/promises';
import { Parser } from '@asyncapi/parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate.mjs ASYNCAPI_FILE');
  process.exit(2);
}
const severities = ['error', 'warning', 'information', 'hint'];
const { document, diagnostics } = await new Parser().parse(await readFile(file, 'utf8'));
for (const d of diagnostics) {
  console.log(`${severities[d.severity]} ${d.code} at /${d.path.join('/')}: ${d.message}`);
}
const errors = diagnostics.filter((d) => d.severity === 0);
if (errors.length > 0 || document === undefined) {
  console.error(`${file}: ${errors.length} error(s)`);
  process.exit(1);
}
console.log(`${file}: valid AsyncAPI ${document.version()} (${diagnostics.length} non-error diagnostics)`);
