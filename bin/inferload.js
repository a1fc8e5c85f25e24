#!/usr/bin/env node
// inferload's command-line entry: a shim over the compiled CLI (npm run build).
import { main } from '../dist/cli/main.js';

await main();
