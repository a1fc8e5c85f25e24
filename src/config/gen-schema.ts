// Prints the JSON Schema of scenario files (editors validate and complete YAML with it):
// `npm run schema` writes it to schema/scenario.schema.json; a unit test keeps the two equal.

import { renderScenarioJsonSchema } from './schema.js';

process.stdout.write(renderScenarioJsonSchema());
