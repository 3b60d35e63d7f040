#!/usr/bin/env node
// The one bin. Node 20 cannot run TypeScript itself, so tsx's ESM loader is registered first.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
await main(process.argv);
