#!/usr/bin/env node
// Size check for src/: files over MAX_FILE_LINES lines and functions (declarations, methods,
// accessors, constructors, function expressions and arrow functions) over MAX_FUNCTION_LINES lines.
// Test files (*.test.ts) count for the file limit only: their describe/it callbacks are tables of cases,
// not logic, so the function limit does not apply to them.
// Run by `npm run lint`; exits 1 on any finding. There is no allow-list: split what grows too big.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const MAX_FILE_LINES = 450;
const MAX_FUNCTION_LINES = 80;

const root = join(fileURLToPath(import.meta.url), "..", "..");

function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (/\.(ts|tsx|mts|cts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) yield path;
  }
}

function functionName(node, sf) {
  if (node.name) return node.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return "constructor";
  const parent = node.parent;
  if (parent && ts.isVariableDeclaration(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyAssignment(parent)) return parent.name.getText(sf);
  if (parent && ts.isPropertyDeclaration(parent)) return parent.name.getText(sf);
  return "<anonymous>";
}

const findings = [];
for (const file of tsFiles(join(root, "src"))) {
  const rel = relative(root, file).split(sep).join("/");
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_FILE_LINES) findings.push({ rel, what: `file has ${lines} lines (max ${MAX_FILE_LINES})` });
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const isTest = /\.test\.tsx?$/.test(rel);
  const visit = (node) => {
    if (!isTest && ts.isFunctionLike(node) && "body" in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const n = end - start + 1;
      if (n > MAX_FUNCTION_LINES) {
        findings.push({ rel, what: `${functionName(node, sf)} (line ${start + 1}) has ${n} lines (max ${MAX_FUNCTION_LINES})` });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

for (const f of findings.sort((a, b) => a.rel.localeCompare(b.rel))) console.log(`TOO BIG  ${f.rel}: ${f.what}`);
if (findings.length > 0) {
  console.error(`check-sizes: ${findings.length} finding(s)`);
  process.exit(1);
}
console.log("check-sizes: ok");
