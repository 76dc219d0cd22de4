// Render Mermaid diagrams with the real Mermaid library (node_modules/mermaid/dist/mermaid.min.js)
// in headless Chromium, as a Git host's viewer would.
//   node render_mermaid.mjs DIAGRAMS.json /usr/bin/chromium
// DIAGRAMS.json is {name: source}; prints {name: null when it rendered, else Mermaid's error} as JSON.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer from "puppeteer-core";

const require = createRequire(import.meta.url);
const [diagramsFile, chromium] = process.argv.slice(2);
const diagrams = JSON.parse(readFileSync(diagramsFile, "utf8"));

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  // root in a container: no sandbox; /dev/shm is small there
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  await page.setContent("<!doctype html><html><body></body></html>");
  await page.addScriptTag({ path: require.resolve("mermaid/dist/mermaid.min.js") });
  const results = await page.evaluate(async (diagrams) => {
    mermaid.initialize({ startOnLoad: false, securityLevel: "strict" });
    const results = {};
    let n = 0;
    for (const [name, source] of Object.entries(diagrams)) {
      try {
        await mermaid.parse(source);
        const { svg } = await mermaid.render(`diagram${n++}`, source);
        results[name] = !svg.includes("<svg") ? "no SVG rendered"
          : svg.includes("Syntax error") ? "rendered a syntax error" : null;
      } catch (error) {
        results[name] = String((error && error.message) || error).split("\n").slice(0, 4).join(" ");
      }
    }
    return results;
  }, diagrams);
  process.stdout.write(JSON.stringify(results));
} finally {
  await browser.close();
}
