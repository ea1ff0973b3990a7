// Renders formulas with KaTeX, as Jupyter, GitHub and MkDocs show symbackprop's Markdown.
//
// Usage: node katex_render.js KATEX_DIR < formulas.json
// The input is a JSON list of {"id": ..., "math": ..., "display": true|false}; the output a
// JSON list of {"id": ..., "error": ...}, one per formula KaTeX rejects (empty: all render).
// One process renders them all: starting node costs more than rendering a formula.
"use strict";

const katex = require(process.argv[2]);

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const failures = [];
  for (const formula of JSON.parse(input)) {
    try {
      // strict: LaTeX that only KaTeX accepts would not compile with pdflatex
      katex.renderToString(formula.math, {
        displayMode: formula.display, throwOnError: true, strict: "error",
      });
    } catch (error) {
      failures.push({ id: formula.id, error: String(error.message || error) });
    }
  }
  process.stdout.write(JSON.stringify(failures));
});
