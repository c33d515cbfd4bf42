// bench/duckdb/peer.mjs: the peer a data engineer might pick instead of brandpulse (issue 17
// item 4). DuckDB (npm @duckdb/node-api, installed into bench/duckdb/node_modules by
// bench/duckdb/install.sh) reads the same JSON lines and computes per-brand 5-minute mention
// counts with its best plan: lower-case, strip accents, split into words on Unicode non-word
// characters, n-grams up to the longest brand, a hash join against the brand table, distinct
// (post, brand) pairs counted per window. Its counts are compared with brandpulse's
// (`brandpulse query dump` of the e2e run's state) before its time is printed.
//
//   node bench/duckdb/peer.mjs --input POSTS.jsonl --terms TERMS.tsv --ours DUMP.tsv
//        --threads N [--repeat 3] [--counts-out FILE]
//
// TERMS.tsv: brand id TAB term (one term per brand, the bench's plain watchlist).
// DUMP.tsv: brandpulse's `query dump` output; its 5-minute, whole-brand rows are compared.
// Prints one line: posts TAB median s TAB best s TAB compared cells TAB check text.
// Exits 3 with "CHECK FAILED: ..." when a brand whose term is plain words differs.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';

function flags(argv) {
  const out = {};
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`peer.mjs: bad argument ${argv[i]}`);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

const args = flags(process.argv);
for (const required of ['input', 'terms', 'ours', 'threads']) {
  if (!args[required]) throw new Error(`peer.mjs: --${required} is required`);
}
const repeat = Number(args.repeat ?? 3);
const sqlString = (text) => `'${text.replaceAll("'", "''")}'`;

// Word characters as brandpulse's rule has them (letters, marks, digits, underscore), in RE2
// syntax (DuckDB's regexp functions are RE2; its \w is ASCII only).
const WORD = '[\\p{L}\\p{M}\\p{N}_]+';

const instance = await DuckDBInstance.create(':memory:', { threads: String(args.threads) });
const connection = await instance.connect();

// The brand table: the key is the term as the posts are turned into words (lower-case, accents
// stripped, words joined by one space). Built inside the timed part: it is part of the plan.
const brandTable = `
  CREATE OR REPLACE TABLE brands AS
  SELECT brand, array_to_string(regexp_extract_all(strip_accents(lower(term)), '${WORD}'), ' ') AS key,
         len(regexp_extract_all(strip_accents(lower(term)), '${WORD}')) AS words
  FROM read_csv(${sqlString(args.terms)}, delim = '\t', quote = '', escape = '', header = false,
                columns = {'brand': 'VARCHAR', 'term': 'VARCHAR'})`;

function ngrams(longest) {
  // t is the post's word list; gram n of a post is every run of n consecutive words.
  const parts = ['t'];
  for (let n = 2; n <= longest; ++n) {
    const words = [];
    for (let k = 0; k < n; ++k) words.push(k === 0 ? 't[i]' : `t[i + ${k}]`);
    parts.push(`list_transform(range(1, len(t) - ${n - 2}), i -> ${words.join(" || ' ' || ")})`);
  }
  return parts.length === 1 ? parts[0] : `list_concat(${parts.join(', ')})`;
}

function countsQuery(longest) {
  return `
  CREATE OR REPLACE TABLE counts AS
  WITH posts AS (
    SELECT d.id AS post, epoch_ms(d.created_at) // 300000 * 300000 AS start_ms,
           regexp_extract_all(strip_accents(lower(d.text)), '${WORD}') AS t
    FROM (SELECT data[1] AS d
          FROM read_json(${sqlString(args.input)}, format = 'newline_delimited',
                         columns = {'data': 'STRUCT(id VARCHAR, text VARCHAR, created_at TIMESTAMPTZ)[]'}))
  ),
  grams AS (SELECT post, start_ms, unnest(${ngrams(longest)}) AS gram FROM posts),
  hits AS (SELECT DISTINCT b.brand, g.start_ms, g.post FROM grams g JOIN brands b ON g.gram = b.key)
  SELECT brand, start_ms, count(*) AS mentions FROM hits GROUP BY brand, start_ms`;
}

const runs = [];
let posts = 0;
let longest = 0;
for (let r = 0; r < repeat; ++r) {
  const start = process.hrtime.bigint();
  await connection.run(brandTable);
  longest = Number((await connection.runAndReadAll('SELECT max(words) FROM brands')).getRows()[0][0]);
  await connection.run(countsQuery(longest));
  runs.push(Number(process.hrtime.bigint() - start) / 1e9);
}
posts = Number((await connection.runAndReadAll(
  `SELECT count(*) FROM read_json(${sqlString(args.input)}, format = 'newline_delimited',
     columns = {'data': 'STRUCT(id VARCHAR)[]'})`)).getRows()[0][0]);

// Compare with brandpulse's windows: brand dimension size_ms slide_ms start_ms mentions ...
const ours = new Map();
for (const line of readFileSync(args.ours, 'utf8').split('\n')) {
  const f = line.split(/[\t ]/);
  if (f.length < 6 || f[2] !== '300000') continue;
  if (f[1] !== '' && f[1] !== '-' && f[1] !== 'all' && f[1] !== '*') continue;
  ours.set(`${f[0]}\t${f[4]}`, Number(f[5]));
}
const theirs = new Map();
const rows = (await connection.runAndReadAll('SELECT brand, start_ms, mentions FROM counts')).getRows();
for (const [brand, startMs, mentions] of rows) theirs.set(`${brand}\t${startMs}`, Number(mentions));
if (args['counts-out']) {
  writeFileSync(args['counts-out'],
    [...theirs].sort().map(([k, v]) => `${k}\t${v}`).join('\n') + '\n');
}

// A term of plain words (letters/digits separated by single spaces) means the same in both
// plans; a term with other characters ("AT&T", "Node.js", "Byju's") is one literal to brandpulse
// but a run of words here ("at t" also finds "AT T" and "at-t"): those brands may differ.
const terms = new Map();
for (const line of readFileSync(args.terms, 'utf8').split('\n')) {
  const tab = line.indexOf('\t');
  if (tab > 0) terms.set(line.slice(0, tab), line.slice(tab + 1));
}
const plain = (term) => /^[\p{L}\p{M}\p{N}_]+( [\p{L}\p{M}\p{N}_]+)*$/u.test(term);
let equal = 0;
const punctuatedDiffer = new Set();
let punctuatedCells = 0;
const keys = new Set([...ours.keys(), ...theirs.keys()]);
for (const key of keys) {
  const a = ours.get(key) ?? 0;
  const b = theirs.get(key) ?? 0;
  if (a === b) { ++equal; continue; }
  const brand = key.split('\t')[0];
  const term = terms.get(brand) ?? '';
  if (plain(term)) {
    console.error(`CHECK FAILED: duckdb counted ${b} mentions of ${brand} ("${term}") in the ` +
                  `5-minute window starting ${key.split('\t')[1]} ms, brandpulse ${a}`);
    process.exit(3);
  }
  ++punctuatedCells;
  punctuatedDiffer.add(brand);
}
const punctuatedBrands = [...terms.values()].filter((t) => !plain(t)).length;
runs.sort((x, y) => x - y);
const check = `counts equal on ${equal} of ${keys.size} (brand, 5m) cells; ` +
  `${punctuatedCells} cells of ${punctuatedDiffer.size} of the ${punctuatedBrands} brands with ` +
  `punctuation in the term differ (one literal to brandpulse, a run of words here)`;
console.log([posts, runs[Math.floor(runs.length / 2)].toFixed(4), runs[0].toFixed(4), keys.size,
             check, `n-grams up to ${longest}`].join('\t'));
connection.closeSync?.();
instance.closeSync();
