// `npm run e2e`: Playwright with Debian's Chromium; never downloads a browser.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = "1";
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (!existsSync(chromium)) {
  console.error(`${chromium} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  process.exit(1);
}
const result = spawnSync("npx", ["playwright", "test", ...process.argv.slice(2)], { stdio: "inherit", env: process.env });
process.exit(result.status ?? 1);
