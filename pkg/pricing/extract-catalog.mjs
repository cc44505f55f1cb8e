// Maintenance script, run by hand when moving to a new Claude Code version;
// nothing in the build runs it or needs the binary.
//
//   node pkg/pricing/extract-catalog.mjs <path to the claude binary> <version> <date read> > pkg/pricing/prices.json
//
// It finds the model catalog Claude Code embeds (the object literal holding
// `schema_version:1,pricing_tiers:{…},models:[…]`), evaluates that literal
// alone in an empty sandbox, and writes each model's prices with the ids it
// is known by. The prices for fast mode are not in the catalog but in the
// cost function's code (`claude-opus-5-5` → {8, 40, 10, 16, 0.4} …); they are
// copied below by hand and checked against the binary's text.
import { readFileSync } from "node:fs";
import vm from "node:vm";

const [bin, version, date] = process.argv.slice(2);
if (!bin || !version || !date) {
  console.error("usage: node extract-catalog.mjs <claude binary> <version> <YYYY-MM-DD>");
  process.exit(2);
}
const text = readFileSync(bin).toString("latin1");
const at = text.indexOf("schema_version:1,pricing_tiers:");
if (at < 0) throw new Error("no model catalog in " + bin);
const start = text.lastIndexOf('{"//":', at);
let depth = 0, end = start, quote = null;
for (; end < text.length; end++) {
  const c = text[end];
  if (quote) {
    if (c === "\\") end++;
    else if (c === quote) quote = null;
  } else if (c === '"' || c === "'" || c === "`") quote = c;
  else if (c === "{") depth++;
  else if (c === "}" && --depth === 0) break;
}
const literal = Buffer.from(text.slice(start, end + 1), "latin1").toString("utf8");
const catalog = vm.runInNewContext("(" + literal + ")", Object.create(null), { timeout: 1000 });

// Fast-mode prices, from the cost function of Claude Code 2.1.332.
const fastTiers = {
  "claude-fable-5-2": { input: 16, output: 80, cache_write_5m: 20, cache_write_1h: 32, cache_read: 0.4 },
  "claude-mythos-5-2": { input: 16, output: 80, cache_write_5m: 20, cache_write_1h: 32, cache_read: 0.4 },
  "claude-opus-5-5": { input: 8, output: 40, cache_write_5m: 10, cache_write_1h: 16, cache_read: 0.4 },
  "claude-opus-4-8": { input: 10, output: 50, cache_write_5m: 12.5, cache_write_1h: 20, cache_read: 1 },
  "claude-opus-5": { input: 10, output: 50, cache_write_5m: 12.5, cache_write_1h: 20, cache_read: 1 },
  "claude-opus-4-6": { input: 30, output: 150, cache_write_5m: 37.5, cache_write_1h: 60, cache_read: 3 },
  "claude-opus-4-7": { input: 30, output: 150, cache_write_5m: 37.5, cache_write_1h: 60, cache_read: 3 },
};
for (const lit of [
  "vF={inputTokens:8,outputTokens:40,promptCacheWriteTokens:10,promptCacheWrite1hTokens:16,promptCacheReadTokens:0.4",
  "kF={inputTokens:16,outputTokens:80,promptCacheWriteTokens:20,promptCacheWrite1hTokens:32,promptCacheReadTokens:0.4",
  'if(e==="claude-fable-5-2"||e==="claude-mythos-5-2")return kF;if(e==="claude-opus-5-5")return vF;if(e==="claude-opus-4-8"||e==="claude-opus-5")return e_;if(e==="claude-opus-4-6"||e==="claude-opus-4-7")return Pb;',
]) {
  if (!text.includes(lit)) throw new Error("the fast-mode prices changed; read the cost function again: " + lit.slice(0, 40));
}

const models = {};
for (const m of catalog.models) {
  const p = typeof m.pricing === "string" ? catalog.pricing_tiers[m.pricing] : m.pricing;
  if (!p) continue;
  const ids = [...new Set(Object.values(m.provider_ids ?? {}).filter((v) => typeof v === "string" && v !== m.id))];
  models[m.id] = {
    pricing_tier: typeof m.pricing === "string" ? m.pricing : undefined,
    input: p.input, output: p.output, cache_write_5m: p.cache_write_5m, cache_write_1h: p.cache_write_1h,
    cache_read: p.cache_read, web_search: p.web_search,
    ...(p.long_prompt && { long_prompt: p.long_prompt }),
    ...(fastTiers[m.id] && { fast: fastTiers[m.id] }),
    ...(ids.length && { provider_ids: ids }),
  };
}
process.stdout.write(JSON.stringify({
  source: `Claude Code ${version} built-in model catalog`,
  read: date,
  units: "USD per million tokens; web_search in USD per request",
  notes: [
    "Prices per model from the catalog's pricing_tiers; fast from Claude Code's cost function (fast mode, priced without the long-prompt tier).",
    "provider_ids are the ids the catalog lists for the model on each provider (first party, Bedrock, Vertex, Foundry, gateways).",
  ],
  models,
}, null, 1) + "\n");
