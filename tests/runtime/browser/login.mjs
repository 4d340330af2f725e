// A person logging into the MLflow UI with a real browser: Chromium (Debian package) driven by
// Playwright (npm playwright-core; `npx playwright install` is not needed: the system browser runs).
//
//   node tests/runtime/browser/login.mjs flow.json
//
// flow.json:
//   {
//     "start_url": "https://mlflow.example.org/",        // what the person types
//     "host_rules": "MAP mlflow.example.org 127.0.0.1",  // Chromium --host-resolver-rules
//     "spki": "base64 sha256 of the ingress certificate's SPKI",  // trusted for this run only
//     "username": "alice", "password": "...",           // typed at the provider's page
//     "login_path": "/login",                           // optional: a link/page to start the login
//     "then_path": "#/experiments",                     // optional: opened after the login
//     "expect_text": "my-experiment",                   // must be visible there
//     "screenshot": "/tmp/out/ui.png",
//     "user_data_dir": "/tmp/out/profile",
//     "timeout_ms": 60000
//   }
//
// Prints one JSON line: the URLs visited (main frame), the final URL and title, the provider's host.

import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const flow = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const timeout = flow.timeout_ms ?? 60000;
const args = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  `--host-resolver-rules=${flow.host_rules}`,
  ...(flow.spki ? [`--ignore-certificate-errors-spki-list=${flow.spki}`] : []),
];

const context = await chromium.launchPersistentContext(flow.user_data_dir, {
  executablePath: flow.executable ?? '/usr/bin/chromium',
  headless: true,
  args,
  viewport: { width: 1280, height: 800 },
  timeout,
});
const visited = [];
let result;
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeout);
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) visited.push(frame.url());
  });
  await page.goto(flow.start_url + (flow.login_path ?? ''));
  // The provider's sign-in form: type as a person would, then submit.
  const user = page.locator('input[name="username"]');
  await user.waitFor();
  const providerUrl = page.url();
  await user.fill(flow.username);
  await page.locator('input[name="password"]').fill(flow.password);
  await Promise.all([
    page.waitForURL((url) => url.origin === new URL(flow.start_url).origin && !url.pathname.includes('callback')),
    page.locator('button[type="submit"]').click(),
  ]);
  const landedAt = page.url();
  if (flow.then_path) await page.goto(flow.start_url + flow.then_path);
  // The MLflow UI: the experiments page lists the experiment created through the API.
  await page.getByText(flow.expect_text, { exact: false }).first().waitFor();
  await page.screenshot({ path: flow.screenshot, fullPage: false });
  result = {
    ok: true,
    provider_url: providerUrl,
    landed_at: landedAt,
    final_url: page.url(),
    title: await page.title(),
    visited,
  };
} catch (err) {
  const page = context.pages()[0];
  if (page) await page.screenshot({ path: flow.screenshot.replace(/\.png$/, '-failed.png') }).catch(() => {});
  result = { ok: false, error: String(err?.message ?? err), visited, final_url: page?.url() };
} finally {
  await context.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
