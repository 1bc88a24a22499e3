// Tests of clients/miniprogram/wxsub.js against the real service (node:test).
// Started by tests/clients/run.py, which exports WXSUB_URL, WXSUB_API_KEY,
// STANDIN_URL, REDIS_PORT and the template ids.
//
// The `wx` object is a fake that behaves like WeChat's: wx.login hands out
// codes registered at the stand-in (POST /__control/code), so wxsub's
// code2Session really succeeds; wx.requestSubscribeMessage answers what the
// test configured; wx.request does real HTTP with node's http module; the
// storage is in memory and answers "" for a missing key, as WeChat's does.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');

const { createWxsub } = require(path.join(__dirname, '..', '..', 'clients', 'miniprogram', 'wxsub.js'));

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/clients/run.py`);
  return v;
}

const WXSUB_URL = env('WXSUB_URL');
const API_KEY = env('WXSUB_API_KEY');
const STANDIN_URL = env('STANDIN_URL');
const REDIS_PORT = Number(env('REDIS_PORT'));
const [TPL1, TPL2, TPL3] = env('WXSUB_TEMPLATE_IDS').split(',');
const TPL_LONG = env('WXSUB_TEMPLATE_LONG');
const POPUP_OK = 'requestSubscribeMessage:ok';

// ---- plain HTTP, Redis ---------------------------------------------------------

function httpJson(method, url, body, headers) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const h = Object.assign({}, headers || {});
    if (data) {
      h['Content-Type'] = 'application/json';
      h['Content-Length'] = data.length;
    }
    const req = http.request(url, { method, headers: h, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

async function control(method, p, body) {
  const r = await httpJson(method, STANDIN_URL + p, body === undefined && method === 'POST' ? {} : body);
  if (r.status !== 200) throw new Error(`stand-in ${method} ${p} -> ${r.status} ${r.text}`);
  return r.json;
}

async function credits(openId) {
  const r = await httpJson('GET', `${WXSUB_URL}/subscriptions?openId=${openId}`, undefined,
    { Authorization: `Bearer ${API_KEY}` });
  assert.equal(r.status, 200, r.text);
  return r.json.credits;
}

function redis(...args) {
  return new Promise((resolve, reject) => {
    const s = net.createConnection({ host: '127.0.0.1', port: REDIS_PORT });
    let buf = '';
    s.setTimeout(5000, () => s.destroy(new Error('redis timed out')));
    s.on('connect', () => {
      let cmd = `*${args.length}\r\n`;
      for (const a of args) cmd += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
      s.write(cmd);
    });
    s.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) {
        s.end();
        resolve(buf.split('\r\n')[0]);
      }
    });
    s.on('error', reject);
  });
}

/** The Redis key of a session token (session.c: prefix + "session:" + half its sha256). */
function sessionKey(token) {
  return 'WXSUB:session:' + crypto.createHash('sha256').update(token).digest('hex').slice(0, 32);
}

let serial = 0;
function openid(tag) {
  serial += 1;
  return `oMP${tag.replace(/[^A-Za-z0-9]/g, '')}_${serial}_`.padEnd(28, 'y').slice(0, 28);
}

// ---- the fake wx ----------------------------------------------------------------

/**
 * A wx object for one user. popup(tmplIds) decides what
 * wx.requestSubscribeMessage does: return {result} or {fail: {errCode, errMsg}}.
 * afterResponse(route, res) may run before wx.request's success.
 */
function fakeWx(user, config) {
  const cfg = Object.assign({ registerCodes: true, popup: null, afterResponse: null }, config || {});
  const storage = new Map();
  const log = [];          // every call, in order: {kind:'popup'|'login'|'request', ...}
  let codes = 0;
  const wx = {
    log,
    storage,
    config: cfg,
    calls(kind, route) {
      return log.filter((e) => e.kind === kind && (route === undefined || e.route === route));
    },
    login(o) {
      log.push({ kind: 'login' });
      codes += 1;
      const code = `fakecode_${process.pid}_${serial}_${codes}_${crypto.randomBytes(4).toString('hex')}`;
      const reg = cfg.registerCodes ?
        control('POST', '/__control/code', Object.assign({ code, openid: user.openId },
          user.unionId ? { unionid: user.unionId } : {})) : Promise.resolve();
      reg.then(() => {
        if (o.success) o.success({ code, errMsg: 'login:ok' });
        if (o.complete) o.complete({ errMsg: 'login:ok' });
      }, (e) => {
        if (o.fail) o.fail({ errMsg: 'login:fail ' + e.message });
      });
    },
    requestSubscribeMessage(o) {
      log.push({ kind: 'popup', tmplIds: o.tmplIds.slice() });
      setImmediate(() => {
        let out;
        if (!Array.isArray(o.tmplIds) || o.tmplIds.length === 0) {
          out = { fail: { errCode: 10001, errMsg: 'requestSubscribeMessage:fail TmplIds can\'t be empty' } };
        } else if (o.tmplIds.length > 3) {
          out = { fail: { errCode: 20003, errMsg: 'requestSubscribeMessage:fail Templates count out of max bounds' } };
        } else if (cfg.popup) {
          out = cfg.popup(o.tmplIds);
        } else {
          const result = { errMsg: POPUP_OK };
          for (const t of o.tmplIds) result[t] = 'accept';
          out = { result };
        }
        if (out.fail) {
          if (o.fail) o.fail(out.fail);
          if (o.complete) o.complete(out.fail);
        } else {
          if (o.success) o.success(out.result);
          if (o.complete) o.complete(out.result);
        }
      });
    },
    request(o) {
      const url = new URL(o.url);
      const route = url.pathname.slice(new URL(WXSUB_URL).pathname.length) || url.pathname;
      const headers = Object.assign({}, o.header || {});
      const method = (o.method || 'GET').toUpperCase();
      let body;
      if (o.data !== undefined && method !== 'GET') {
        body = typeof o.data === 'string' ? o.data : JSON.stringify(o.data);
      }
      const entry = { kind: 'request', method, route, headers, body: body === undefined ? undefined : JSON.parse(body) };
      log.push(entry);
      if (body !== undefined) headers['Content-Length'] = Buffer.byteLength(body);
      const req = http.request(o.url, { method, headers, timeout: o.timeout || 60000 }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', async () => {
          let data = Buffer.concat(chunks).toString('utf8');
          if ((o.dataType || 'json') === 'json') {
            try { data = JSON.parse(data); } catch (e) { /* stays a string, as in WeChat */ }
          }
          // WeChat keeps the server's spelling of header names
          const header = {};
          for (let i = 0; i < res.rawHeaders.length; i += 2) header[res.rawHeaders[i]] = res.rawHeaders[i + 1];
          const r = { data, statusCode: res.statusCode, header, errMsg: 'request:ok' };
          entry.status = res.statusCode;
          if (cfg.afterResponse) await cfg.afterResponse(route, r);
          if (o.success) o.success(r);
          if (o.complete) o.complete(r);
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => {
        const r = { errMsg: 'request:fail ' + e.message, errno: e.code === 'ECONNREFUSED' ? 600001 : 5 };
        entry.error = r.errMsg;
        if (o.fail) o.fail(r);
        if (o.complete) o.complete(r);
      });
      if (body !== undefined) req.write(body);
      req.end();
    },
    setStorageSync(k, v) { storage.set(k, JSON.stringify(v)); },
    getStorageSync(k) { return storage.has(k) ? JSON.parse(storage.get(k)) : ''; },
    removeStorageSync(k) { storage.delete(k); },
  };
  return wx;
}

function setup(tag, config, more) {
  const user = { openId: openid(tag) };
  if (more && more.unionId) user.unionId = more.unionId;
  const wx = fakeWx(user, config);
  const wxsub = createWxsub(Object.assign({ baseUrl: WXSUB_URL, wx }, more && more.options));
  return { user, wx, wxsub };
}

function popupResult(map) {
  return () => ({ result: Object.assign({ errMsg: POPUP_OK }, map) });
}

// ---- tests -------------------------------------------------------------------------

test('login: a wx.login code becomes a kept session', async () => {
  const { user, wx, wxsub } = setup('login', {}, { unionId: 'uUnion_' + serial, options: { storageKey: 'my.key' } });
  assert.equal(wxsub.session(), null);
  const r = await wxsub.login();
  assert.deepEqual(r, { openId: user.openId, unionId: user.unionId });
  const s = wxsub.session();
  assert.equal(s.openId, user.openId);
  assert.match(s.session, /^wxs_/);
  assert.ok(s.expiresAt > Date.now() + 3600 * 1000, 'expiresAt from expiresIn');
  assert.ok(wx.storage.has('my.key'), 'kept under storageKey with wx.setStorageSync');
  const req = wx.calls('request', '/login')[0];
  assert.equal(req.method, 'POST');
  assert.match(req.body.code, /^fakecode_/);
});

test('login then subscribe records credits (checked with the api key)', async () => {
  const { user, wx, wxsub } = setup('subscribe', { popup: popupResult({ [TPL1]: 'accept', [TPL2]: 'accept' }) });
  await wxsub.login();
  const r = await wxsub.subscribe([TPL1, TPL2]);
  assert.deepEqual(r, { credits: { [TPL1]: 1, [TPL2]: 1 }, skipped: {} });
  const c = await credits(user.openId);
  assert.equal(c[TPL1], 1);
  assert.equal(c[TPL2], 1);
  assert.equal(c[TPL3], 0);
  const rec = wx.calls('request', '/record');
  assert.equal(rec.length, 1);
  assert.equal(rec[0].headers.Authorization, 'Bearer ' + wxsub.session().session);
  assert.deepEqual(rec[0].body, { [TPL1]: 'accept', [TPL2]: 'accept', errMsg: POPUP_OK },
    'the popup result is forwarded as it is');
  assert.deepEqual(wx.calls('popup')[0].tmplIds, [TPL1, TPL2]);
  // accepts accumulate
  const again = await wxsub.subscribe(TPL1);
  assert.deepEqual(again.credits, { [TPL1]: 2 });
  assert.equal((await credits(user.openId))[TPL1], 2);
  assert.equal(wx.calls('login').length, 1, 'one login for both');
});

test('subscribe without a session: the popup first (tap gesture), then the login', async () => {
  const { user, wx, wxsub } = setup('nologin');
  const p = wxsub.subscribe([TPL3]);
  assert.equal(wx.log.length, 1, 'wx.requestSubscribeMessage is called synchronously');
  assert.equal(wx.log[0].kind, 'popup');
  const r = await p;
  assert.deepEqual(r.credits, { [TPL3]: 1 });
  assert.deepEqual(wx.log.map((e) => e.kind + (e.route || '')),
    ['popup', 'login', 'request/login', 'request/record']);
  assert.equal((await credits(user.openId))[TPL3], 1);
});

test('reject, ban and filter are not recorded (the result is still forwarded)', async () => {
  const { user, wx, wxsub } = setup('reject', {
    popup: popupResult({ [TPL1]: 'reject', [TPL2]: 'ban', [TPL3]: 'filter' }),
  });
  const r = await wxsub.subscribe([TPL1, TPL2, TPL3]);
  assert.deepEqual(r, { credits: {}, skipped: { [TPL1]: 'reject', [TPL2]: 'ban', [TPL3]: 'filter' } });
  const c = await credits(user.openId);
  assert.deepEqual([c[TPL1], c[TPL2], c[TPL3]], [0, 0, 0]);
  assert.equal(wx.calls('request', '/record').length, 1);
});

test('a mixed answer records only the accept', async () => {
  const { user, wxsub } = setup('mixed', { popup: popupResult({ [TPL1]: 'reject', [TPL2]: 'accept' }) });
  const r = await wxsub.subscribe([TPL1, TPL2]);
  assert.deepEqual(r, { credits: { [TPL2]: 1 }, skipped: { [TPL1]: 'reject' } });
  const c = await credits(user.openId);
  assert.equal(c[TPL1], 0);
  assert.equal(c[TPL2], 1);
});

test('an accept with a reminder (acceptWithAudio) counts as accept', async () => {
  const { user, wx, wxsub } = setup('audio', { popup: popupResult({ [TPL1]: 'acceptWithAudio', extra: 1 }) });
  const r = await wxsub.subscribe([TPL1]);
  assert.deepEqual(r.credits, { [TPL1]: 1 });
  assert.deepEqual(wx.calls('request', '/record')[0].body, { [TPL1]: 'accept', errMsg: POPUP_OK },
    'only errMsg and the requested templates are forwarded');
  assert.equal((await credits(user.openId))[TPL1], 1);
});

test('long-term template: one marker however often accepted', async () => {
  const { user, wxsub } = setup('long');
  assert.deepEqual((await wxsub.subscribe([TPL_LONG])).credits, { [TPL_LONG]: 1 });
  assert.deepEqual((await wxsub.subscribe([TPL_LONG])).credits, { [TPL_LONG]: 1 });
  assert.equal((await credits(user.openId))[TPL_LONG], 1);
});

for (const [errCode, errMsg] of [
  [20004, 'requestSubscribeMessage:fail:The main switch is switched off'],
  [10005, 'requestSubscribeMessage:fail:can only be invoked by user TAP gesture.'],
  [20001, 'requestSubscribeMessage:fail:No template data return, verify the template id exist'],
]) {
  test(`popup failure ${errCode}: rejects with errCode, no /record call`, async () => {
    const { user, wx, wxsub } = setup('fail' + errCode, { popup: () => ({ fail: { errCode, errMsg } }) });
    await wxsub.login();
    const before = wx.log.length;
    await assert.rejects(wxsub.subscribe([TPL1]), (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.errCode, errCode);
      assert.equal(e.errMsg, errMsg);
      assert.equal(e.code, 'popup_failed');
      return true;
    });
    assert.deepEqual(wx.log.slice(before).map((e) => e.kind), ['popup'], 'nothing but the popup');
    assert.equal(wx.calls('request', '/record').length, 0);
    assert.equal((await credits(user.openId))[TPL1], 0);
  });
}

test('a popup failure before any login does not log in either', async () => {
  const { wx, wxsub } = setup('failnologin', {
    popup: () => ({ fail: { errCode: 20004, errMsg: 'requestSubscribeMessage:fail:The main switch is switched off' } }),
  });
  await assert.rejects(wxsub.subscribe([TPL1]), { errCode: 20004 });
  assert.deepEqual(wx.log.map((e) => e.kind), ['popup']);
});

test('more than 3 template ids are refused here: no popup, no request', async () => {
  const { wx, wxsub } = setup('toomany');
  await assert.rejects(wxsub.subscribe([TPL1, TPL2, TPL3, TPL_LONG]), (e) => {
    assert.equal(e.errCode, 20003);
    assert.equal(e.code, 'too_many_templates');
    return true;
  });
  await assert.rejects(wxsub.subscribe([]), { code: 'bad_template_ids' });
  await assert.rejects(wxsub.subscribe([TPL1, 7]), { code: 'bad_template_ids' });
  assert.equal(wx.log.length, 0);
  // a repeated id counts once, as WeChat filters it
  const r = await wxsub.subscribe([TPL1, TPL1, TPL2, TPL2]);
  assert.deepEqual(wx.calls('popup')[0].tmplIds, [TPL1, TPL2]);
  assert.deepEqual(r.credits, { [TPL1]: 1, [TPL2]: 1 });
});

test('a session deleted at wxsub: one re-login, then success', async () => {
  const { user, wx, wxsub } = setup('deleted');
  await wxsub.login();
  const old = wxsub.session().session;
  assert.equal(await redis('DEL', sessionKey(old)), ':1', 'the session was in Redis');
  const r = await wxsub.subscribe([TPL1]);
  assert.deepEqual(r.credits, { [TPL1]: 1 });
  assert.equal(wx.calls('login').length, 2, 'one re-login');
  assert.deepEqual(wx.calls('request', '/record').map((e) => e.status), [401, 200]);
  assert.notEqual(wxsub.session().session, old, 'a new session is kept');
  assert.equal((await credits(user.openId))[TPL1], 1);
});

test('a session expired at wxsub (TTL): one re-login, then success', async () => {
  const { wx, wxsub } = setup('ttl');
  await wxsub.login();
  await redis('PEXPIRE', sessionKey(wxsub.session().session), '1');
  await new Promise((res) => setTimeout(res, 20));
  const r = await wxsub.subscribe([TPL2]);
  assert.deepEqual(r.credits, { [TPL2]: 1 });
  assert.equal(wx.calls('login').length, 2);
  assert.deepEqual(wx.calls('request', '/record').map((e) => e.status), [401, 200]);
});

test('a session expired here (expiresAt passed): logs in before /record', async () => {
  const { wx, wxsub } = setup('localexp', {}, { options: { storageKey: 'k' } });
  await wxsub.login();
  const s = wx.getStorageSync('k');
  s.expiresAt = Date.now() - 1000;
  wx.setStorageSync('k', s);
  assert.equal(wxsub.session(), null, 'an expired session is not offered');
  const r = await wxsub.subscribe([TPL1]);
  assert.deepEqual(r.credits, { [TPL1]: 1 });
  assert.equal(wx.calls('login').length, 2);
  assert.deepEqual(wx.calls('request', '/record').map((e) => e.status), [200], 'no 401 round trip');
});

test('a session refused again after the re-login: rejects 401, no loop', async () => {
  // Every new session is deleted at wxsub as soon as /login answers.
  const { wx, wxsub } = setup('loop', {
    afterResponse: async (route, res) => {
      if (route === '/login' && res.data && res.data.session) await redis('DEL', sessionKey(res.data.session));
    },
  });
  await assert.rejects(wxsub.subscribe([TPL1]), (e) => {
    assert.equal(e.status, 401);
    assert.equal(e.code, 'unauthorized');
    assert.ok(e.requestId, 'the X-Request-Id of the answer');
    return true;
  });
  assert.equal(wx.calls('login').length, 2, 'the first login and one re-login');
  assert.equal(wx.calls('request', '/record').length, 2);
});

test('logout: forgets the session here and at wxsub', async () => {
  const { wx, wxsub } = setup('logout', {}, { options: { storageKey: 'k2' } });
  await wxsub.login();
  const token = wxsub.session().session;
  await wxsub.logout();
  assert.equal(wxsub.session(), null);
  assert.equal(wx.getStorageSync('k2'), '');
  const req = wx.calls('request', '/logout')[0];
  assert.equal(req.headers.Authorization, 'Bearer ' + token);
  assert.equal(req.status, 200);
  const r = await httpJson('POST', WXSUB_URL + '/record', { [TPL1]: 'accept', errMsg: POPUP_OK },
    { Authorization: 'Bearer ' + token });
  assert.equal(r.status, 401, 'the old session is dead at wxsub');
  await wxsub.logout();   // nothing to do, still fine
});

test('login with a code WeChat refuses: rejects with invalid_code and errcode 40029', async () => {
  const { wx, wxsub } = setup('badcode', { registerCodes: false });
  await assert.rejects(wxsub.login(), (e) => {
    assert.equal(e.status, 400);
    assert.equal(e.code, 'invalid_code');
    assert.equal(e.error, 'invalid_code');
    assert.equal(e.errcode, 40029);
    return true;
  });
  assert.equal(wxsub.session(), null);
  assert.equal(wx.storage.size, 0);
});

test('concurrent logins share one wx.login', async () => {
  const { wx, wxsub } = setup('concurrent');
  const [a, b] = await Promise.all([wxsub.login(), wxsub.login()]);
  assert.deepEqual(a, b);
  assert.equal(wx.calls('login').length, 1);
});

test('a template wxsub does not accept: rejects with unknown_template', async () => {
  const { user, wxsub } = setup('unknowntpl', { popup: popupResult({ TPL_NOT_CONFIGURED: 'accept' }) });
  await assert.rejects(wxsub.subscribe(['TPL_NOT_CONFIGURED']), { status: 400, code: 'unknown_template' });
  assert.equal((await credits(user.openId))[TPL1], 0);
});

test('wxsub unreachable: rejects with code network', async () => {
  const port = await new Promise((res) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
  const wx = fakeWx({ openId: openid('down') });
  const wxsub = createWxsub({ baseUrl: `http://127.0.0.1:${port}/cgi-bin/wxsub.fcgi`, wx });
  await assert.rejects(wxsub.login(), { code: 'network' });
  assert.equal(wxsub.session(), null);
});

test('an answer that is not wxsub\'s: rejects with code bad_answer', async () => {
  const wx = fakeWx({ openId: openid('notwxsub') });
  const wxsub = createWxsub({ baseUrl: STANDIN_URL + '/cgi-bin/wxsub.fcgi', wx });
  await assert.rejects(wxsub.login(), { code: 'bad_answer' });
});

test('createWxsub refuses a bad baseUrl', () => {
  assert.throws(() => createWxsub({ baseUrl: 'ftp://x', wx: fakeWx({}) }));
  assert.throws(() => createWxsub({ baseUrl: WXSUB_URL }), /no wx object/);
});

test('app: routes carry the app name (several apps on one wxsub); a bad name is refused', async () => {
  assert.throws(() => createWxsub({ baseUrl: WXSUB_URL, wx: fakeWx({ openId: openid('appbad') }), app: 'Bad_Name' }),
    /app must be an app name/);
  const { wx, wxsub } = setup('app', {}, { options: { app: 'shop' } });
  // this wxsub is one file, so /shop/login is no route: the 404 shows where it went
  await assert.rejects(wxsub.login(), (e) => e.status === 404 && e.error === 'not_found');
  assert.equal(wx.calls('request', '/shop/login').length, 1);
  assert.equal(wx.calls('request', '/login').length, 0);
});
