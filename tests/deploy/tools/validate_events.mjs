// Validates Storyline events with Ajv (draft 2020-12, strict mode, ajv-formats): a validator
// written by other people in another language than the models the schemas come from.
//   node validate_events.mjs SCHEMA_DIR < lines
// Each input line is {"stream": "articles", "event": {...}}; each output line is
// {"valid": true|false, "errors": [...]}. Compiling a schema that strict mode rejects (an
// unknown keyword, an unknown format, a required property that is not defined) exits 2.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const require = createRequire(join(resolve(process.env.AJV_PREFIX), "node_modules", "noop.js"));
const Ajv2020 = require("ajv/dist/2020").default;
const addFormats = require("ajv-formats").default;

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const dir = process.argv[2];
const validators = {};
for (const name of readdirSync(dir).filter((n) => n.endsWith(".json"))) {
  try {
    validators[name.replace(/\.json$/, "")] = ajv.compile(JSON.parse(readFileSync(join(dir, name), "utf8")));
  } catch (err) {
    console.error(`strict mode rejects ${name}: ${err.message}`);
    process.exit(2);
  }
}
const lines = readFileSync(0, "utf8").split("\n").filter((l) => l.trim());
for (const line of lines) {
  const { stream, event } = JSON.parse(line);
  const validate = validators[stream];
  if (!validate) {
    console.error(`no schema for stream ${stream}`);
    process.exit(2);
  }
  const valid = validate(event);
  process.stdout.write(JSON.stringify({ valid, errors: valid ? [] : validate.errors }) + "\n");
}
