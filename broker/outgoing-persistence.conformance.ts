// Aedes' own abstract persistence suite (node:test) against IndexedMemoryPersistence; run by
// outgoing-persistence.test.ts as `node --import tsx --test`, since the suite is written for node:test.
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { IndexedMemoryPersistence } from './outgoing-persistence.ts';

const require = createRequire(import.meta.url);
const abstract = require('aedes-persistence/abstract.js') as (options: object) => void;

abstract({ test, persistence: () => new IndexedMemoryPersistence(), testAsync: true });
