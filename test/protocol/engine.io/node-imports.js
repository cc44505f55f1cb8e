// test-suite.js imports ./node-imports.js; both suites share ../node-imports.js.
import "../node-imports.js";
