// Render report pages in headless Chromium (Debian's /usr/bin/chromium, driven by the npm
// package playwright-core) and check them: no console message of level error or warning, no
// page error, no request other than the page itself (the report must need nothing), the
// sections present, charts drawn; then a full-page PNG of each.
// Usage: node scripts/report-check.cjs MODULES_DIR PAGE.html OUT.png [PAGE.html OUT.png ...]
// Exit 0 when every page passes, 1 when one fails (each problem printed), 2 on setup errors.
"use strict";
const path = require("path");

async function main() {
  const [modules, ...pairs] = process.argv.slice(2);
  if (!modules || pairs.length === 0 || pairs.length % 2 !== 0) {
    console.error("usage: node scripts/report-check.cjs MODULES_DIR PAGE.html OUT.png ...");
    process.exit(2);
  }
  const { chromium } = require(path.resolve(modules, "playwright-core"));
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  let failed = 0;
  try {
    for (let i = 0; i < pairs.length; i += 2) {
      const file = path.resolve(pairs[i]);
      const png = path.resolve(pairs[i + 1]);
      const url = "file://" + file;
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems = [];
      page.on("console", (m) => {
        if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("request", (r) => {
        if (r.url() !== url) problems.push(`request for ${r.url()} (the page must need nothing)`);
      });
      const resp = await page.goto(url, { waitUntil: "load" });
      if (!resp || !resp.ok()) problems.push(`loading ${url} failed`);
      const facts = await page.evaluate(() => ({
        sections: Array.from(document.querySelectorAll("section[id]")).map((s) => s.id),
        charts: document.querySelectorAll("figure.chart").length,
        svgs: document.querySelectorAll("figure.chart svg").length,
        ticks: document.querySelectorAll("figure.chart svg text.tick").length,
        targets: document.querySelectorAll("figure.chart svg line.target").length,
        levels: Array.from(document.querySelectorAll("td.level")).map((t) => t.textContent.trim()).filter((t) => t),
        integrity: (document.querySelector("#integrity .verdict") || {}).textContent || "",
        scripts: document.querySelectorAll("script").length,
        width: document.documentElement.scrollWidth,
      }));
      for (const id of ["integrity", "metrics", "trends", "actors", "approvals", "incidents", "drills"]) {
        if (!facts.sections.includes(id)) problems.push(`no section #${id}`);
      }
      if (facts.scripts !== 0) problems.push(`${facts.scripts} script elements`);
      if (facts.charts < 6) problems.push(`${facts.charts} charts, expected 6`);
      if (facts.svgs > 0 && facts.ticks === 0) problems.push("charts without ticks");
      if (facts.width > 1300) problems.push(`the page is ${facts.width}px wide at 1280px`);
      if (!facts.integrity.startsWith("Verified")) problems.push(`integrity verdict: ${JSON.stringify(facts.integrity)}`);
      await page.screenshot({ path: png, fullPage: true });
      await page.close();
      console.log(`${path.basename(file)}: ${problems.length ? "FAILED" : "ok"}; sections ${facts.sections.join(",")}; ${facts.svgs}/${facts.charts} charts drawn, ${facts.ticks} tick labels, ${facts.targets} target lines; levels [${facts.levels.join(", ")}]; ${png}`);
      for (const p of problems) console.log(`  ${p}`);
      if (problems.length) failed++;
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`report-check: ${e && e.stack ? e.stack : e}`);
  process.exit(2);
});
