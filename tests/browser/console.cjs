// The operator console in a real browser (Debian's chromium, headless, driven by
// playwright-core): log in, start a run, watch its log lines arrive and its stages
// complete, open the CV preview, cancel a second run, check the phone layout and
// keyboard use, log out. Every request to another host is blocked and counted; any
// console error fails the test. Screenshots of the main views go to SCREENSHOT_DIR.
//
// Run by tests/process/console.rs, which starts the daemon and passes:
//   BASE_URL, SECRET, CHROMIUM (executable), PLAYWRIGHT_CORE (module path), SCREENSHOT_DIR.
'use strict';

const path = require('path');
const readline = require('readline');
const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const BASE = process.env.BASE_URL;
const SECRET = process.env.SECRET;
const SHOTS = process.env.SCREENSHOT_DIR;
const ORIGIN = new URL(BASE).origin;
const TIMEOUT = 60000;

const step = (what) => console.log(`step: ${what}`);

function check(cond, message) {
  if (!cond) throw new Error(message);
}

// Requests to the test process on stdout, its answers on stdin (one line each).
const answers = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
async function ask(request) {
  console.log(request);
  const { value } = await answers.next();
  return value;
}

// While the daemon is down on purpose, failed loads are expected; nothing else is.
const EXPECTED_WHILE_DOWN = /ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING|ERR_CONNECTION_CLOSED/;
let daemonDown = false;

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    // No other host resolves: anything the page tried to fetch from elsewhere fails here too.
    args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const errors = [];
  const foreign = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(TIMEOUT);
  await context.route((url) => url.origin !== ORIGIN && !url.href.startsWith('data:'), (route) => {
    foreign.push(route.request().url());
    return route.abort();
  });
  const watch = (page) => {
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (daemonDown && EXPECTED_WHILE_DOWN.test(m.text())) return;
      errors.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(ORIGIN) && !u.startsWith('data:')) foreign.push(u);
    });
  };
  const page = await context.newPage();
  watch(page);
  // A view is shown only without an error notice (a failed refresh says so there).
  const shot = async (name, p = page, fullPage = false) => {
    const bad = await p.evaluate(() => { const n = document.getElementById('notice'); return n.classList.contains('bad') ? n.textContent : ''; });
    check(!bad, `${name}: the page reports an error: ${bad}`);
    await p.screenshot({ path: path.join(SHOTS, name), fullPage });
  };

  step('the login form');
  await page.goto(BASE + '/');
  await page.getByLabel('API secret').waitFor();
  await shot('console-login.png');

  step('keyboard: the skip link is the first stop, the secret field has the focus');
  check(await page.evaluate(() => document.querySelector('a[href], button, input, select').classList.contains('skip')),
    'the skip link is not the first thing to tab to');
  check(await page.evaluate(() => document.activeElement.id === 'secret'), 'the secret field does not have the focus');

  step('log in with the keyboard alone');
  await page.keyboard.type(SECRET);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'Runs' }).waitFor();
  const leaks = await page.evaluate((secret) => {
    const places = [JSON.stringify(localStorage), JSON.stringify(sessionStorage), location.href,
      document.documentElement.outerHTML, document.cookie, document.getElementById('secret').value];
    return places.filter((p) => p.includes(secret)).length + (document.cookie.includes('jr_session') ? 100 : 0);
  }, SECRET);
  check(leaks === 0, `the secret or the session cookie is readable by the page (${leaks})`);

  step('every control has a label');
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label') && !c.textContent.trim())
    .map((c) => c.id || c.outerHTML.slice(0, 60)));
  check(unlabelled.length === 0, `controls without a label: ${unlabelled.join(', ')}`);

  step('start one run from the job search');
  await page.getByRole('link', { name: 'Start work' }).click();
  await page.getByLabel('Find jobs by company or title').fill('northwind');
  // The search narrows the three stored jobs to one.
  await page.waitForFunction(() => document.querySelectorAll('#job-results input[type=checkbox]').length === 1);
  const northwind = page.getByRole('checkbox', { name: /Northwind Logistics/ });
  await northwind.waitFor();
  await northwind.check();
  await page.getByLabel('Operation').selectOption('batch-pipeline');
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  const first = page.locator('#started a').first();
  await first.waitFor();
  await shot('console-start.png');
  await first.click();

  step('watch the log stream in while stages run');
  await page.locator('#run-log .line').first().waitFor();
  const logBox = page.locator('#run-log');
  const before = await logBox.boundingBox();
  const live = await page.waitForFunction(() => {
    const running = document.querySelector('#run-stages [data-status=running]');
    const lines = document.querySelectorAll('#run-log .line').length;
    const state = document.getElementById('log-state').textContent;
    return running && lines > 0 && state === 'live' ? lines : false;
  });
  const linesWhileRunning = await live.jsonValue();

  step('the daemon is killed and restarted mid-run: the log reconnects and resumes after its last line');
  daemonDown = true;
  check((await ask('restart-daemon')) === 'restarted', 'the test process did not restart the daemon');
  // Lines numbered after the restart (sequence numbers jump by 1,000) arrive on the same page.
  await page.waitForFunction(() => [...document.querySelectorAll('#run-log .line')].some((l) => Number(l.dataset.seq) > 1000));
  await page.waitForFunction(() => document.querySelectorAll('#run-stages [data-status=completed]').length === 8);
  await page.waitForFunction(() => document.getElementById('log-state').textContent === 'ended');
  daemonDown = false;
  const linesAtEnd = await page.locator('#run-log .line').count();
  check(linesAtEnd > linesWhileRunning, `no log line arrived after the run was seen running (${linesWhileRunning} then ${linesAtEnd})`);
  const after = await logBox.boundingBox();
  check(before.y === after.y && before.height === after.height, `the log moved or grew while streaming: ${JSON.stringify([before, after])}`);
  const seqs = await page.$$eval('#run-log .line', (ls) => ls.map((l) => Number(l.dataset.seq)));
  check(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'log lines arrived out of order or twice');
  // Every line the daemon stored is on the page: none lost across the restart.
  const runId = (await page.evaluate(() => location.hash)).split('/').pop();
  const stored = await page.evaluate(async (id) => {
    const answer = await (await fetch(`/api/logs/${id}?limit=1000`)).json();
    return (answer.lines || []).map((l) => l.seq);
  }, runId);
  const missing = stored.filter((n) => !seqs.includes(n));
  check(stored.length > 0 && missing.length === 0, `stored lines missing from the page: ${missing.join(', ')} (stored ${stored.length})`);
  await page.locator('#run-summary .badge', { hasText: 'completed' }).waitFor();
  await shot('console-run.png', page, true);

  step('open the CV preview');
  await page.getByRole('button', { name: 'Preview CV.md' }).click();
  const preview = page.locator('#preview');
  await preview.locator('h2').first().waitFor();
  const cvText = await preview.innerText();
  check(cvText.includes('Maria Keller'), 'the CV preview does not show the candidate');
  check(await preview.locator('script, iframe, [onclick]').count() === 0, 'the preview holds active content');
  await preview.scrollIntoViewIfNeeded();
  await shot('console-cv-preview.png');

  step('start two more runs in bulk and cancel the second');
  await page.getByRole('link', { name: 'Start work' }).click();
  await page.getByLabel('Find jobs by company or title').fill('');
  await page.waitForFunction(() => document.querySelectorAll('#job-results input[type=checkbox]').length === 3);
  await page.getByRole('checkbox', { name: /St\. Helena Hospital/ }).check();
  await page.getByRole('checkbox', { name: /Fernbrook Software/ }).check();
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await page.locator('#started li').nth(1).waitFor();
  check(await page.locator('#started li').count() === 2, 'the bulk start did not queue two runs');
  await page.locator('#started a').nth(1).click();
  const cancel = page.getByRole('button', { name: 'Cancel run' });
  await page.waitForFunction(() => !document.getElementById('run-cancel').disabled);
  await cancel.click();
  await page.locator('#run-summary .badge', { hasText: 'cancelled' }).waitFor();
  check(await cancel.isDisabled(), 'the cancel button stays enabled on a cancelled run');
  check(!(await page.getByRole('button', { name: 'Retry run' }).isDisabled()), 'a cancelled run cannot be retried');

  step('the runs list, live, and its filter');
  await page.getByRole('link', { name: 'Runs', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 3);
  await page.locator('#runs-body tr .badge', { hasText: 'completed' }).first().waitFor();
  await shot('console-runs.png');
  await page.getByLabel('Status').selectOption('cancelled');
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 1);
  check((await page.locator('#runs-body tr').innerText()).includes('cancelled'), 'the status filter shows another run');
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 3);
  // A job id in the list narrows the list to that job's runs.
  await page.getByRole('button', { name: 'Show only the runs of job 65a1b2c3d4e5f60718293a4b' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 1);
  check((await page.getByLabel('Job id').inputValue()) === '65a1b2c3d4e5f60718293a4b', 'the job filter does not show the job');
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 3);

  step('health');
  await page.getByRole('link', { name: 'Health' }).click();
  await page.locator('#health-checks tr').first().waitFor();
  await page.locator('#health-queue dt').first().waitFor();
  await page.locator('#cost-chart figcaption').waitFor();
  await page.locator('#health-alerts li').first().waitFor();
  check((await page.locator('#health-checks').innerText()).includes('store'), 'the health checks do not list the store');
  await shot('console-health.png');

  step('a phone: 375 px wide, nothing wider than the screen');
  const phone = await context.newPage();
  watch(phone);
  await phone.setViewportSize({ width: 375, height: 812 });
  await phone.goto(BASE + '/#/runs');
  await phone.waitForFunction(() => document.querySelectorAll('#runs-body tr').length === 3);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the runs page is ${overflow}px wider than a 375 px screen`);
  await shot('console-phone.png', phone);
  await phone.close();

  step('log out');
  const cookie = (await context.cookies()).find((c) => c.name === 'jr_session');
  check(cookie && cookie.httpOnly && cookie.sameSite === 'Strict', `the session cookie is not HttpOnly + Strict: ${JSON.stringify(cookie)}`);
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.getByLabel('API secret').waitFor();
  check(!(await context.cookies()).some((c) => c.name === 'jr_session'), 'the session cookie survived logout');
  const reuse = await fetch(BASE + '/runs', { headers: { Cookie: `jr_session=${cookie.value}` } });
  const reuseBody = await reuse.json();
  check(reuse.status === 401 && reuseBody.code === 'SESSION_REVOKED', `the old cookie still works after logout: ${reuse.status} ${reuseBody.code}`);

  await browser.close();
  check(foreign.length === 0, `requests to other hosts: ${foreign.join(', ')}`);
  check(errors.length === 0, `console errors:\n${errors.join('\n')}`);
  console.log('console test passed');
  // stdin stays open for more answers: end here rather than wait for it.
  process.exit(0);
}

main().catch((e) => {
  console.error(`console test failed: ${e.stack || e}`);
  process.exit(1);
});
