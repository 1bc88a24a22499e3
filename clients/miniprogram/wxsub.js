/**
 * wxsub.js: the mini program side of wxsub (WeChat subscribe messages).
 * CommonJS, no dependencies, ES2015 (no async/await), uses wx.login,
 * wx.requestSubscribeMessage, wx.request and wx.*StorageSync only.
 *
 *   const { createWxsub } = require('./wxsub.js');
 *   const wxsub = createWxsub({ baseUrl: 'https://example.com/cgi-bin/wxsub.fcgi' });
 *
 *   // in a tap handler ("notify me when the grid worker answers"):
 *   onTapNotifyMe() {
 *     wxsub.subscribe(['TPL_FEEDBACK_REPLY'])
 *       .then(({ credits, skipped }) => { ... })      // credits: {TPL: n} recorded now
 *       .catch(err => {
 *         if (err.errCode === 20004) { ... }          // the user turned subscriptions off
 *       });
 *   }
 *
 * createWxsub({ baseUrl, app, wx, storageKey, timeout }):
 *   baseUrl     the script's URL (routes are appended: /login, /record, /logout)
 *   app         on a wxsub serving several mini programs, this one's name (its
 *               NAME.conf): routes become /<app>/login ...; the default storageKey
 *               then carries it too
 *   wx          the wx object (default: the global one)
 *   storageKey  where the session is kept with wx.setStorageSync (default "wxsub.session")
 *   timeout     wx.request time limit in ms (default 10000)
 *
 * login()          wx.login -> POST /login {code} -> keeps the session; resolves {openId, unionId?}.
 *                  Concurrent calls share one login.
 * subscribe(ids)   wx.requestSubscribeMessage({tmplIds}) (1 to 3 ids; more are refused
 *                  here, errCode 20003, without a popup), then POST /record with the
 *                  result and Authorization: Bearer <session>; logs in first when there is
 *                  no session, and once more when wxsub answers 401 (expired or deleted
 *                  session). Resolves {credits, skipped}: credits per accepted template
 *                  (the total held now), skipped per template not accepted ("reject",
 *                  "ban", "filter").
 * logout()         forgets the session here and at wxsub (POST /logout). Always resolves.
 * session()        the kept session {session, openId, unionId, expiresAt} or null.
 *
 * Decisions:
 * - The popup is opened before anything else happens (before a login), because WeChat
 *   only opens it from within a tap; the login, when needed, comes after it.
 * - A failed popup (fail callback: 20004 main switch off, 10005 no UI, 20001, ...)
 *   rejects with an Error carrying errCode and errMsg, and nothing is sent to wxsub.
 * - A successful popup's result is forwarded even when nothing was accepted: wxsub
 *   then records nothing and reports the rest under "skipped". It is forwarded as
 *   WeChat gave it, with two adjustments: only errMsg and the entries of the requested
 *   templates are sent (WeChat may add other keys, which wxsub would refuse), and
 *   "acceptWithAudio"/"acceptWithAlert"-style values (an accept with a reminder)
 *   are sent as "accept", the only accept wxsub knows.
 * - Errors are Error objects with: code ("popup_failed", "login_failed", "network",
 *   "bad_answer", "too_many_templates", "bad_template_ids", or wxsub's own error code
 *   such as "unauthorized", "invalid_code", "unknown_template"), and where known
 *   errCode / errMsg (WeChat's front-end), status (HTTP), error (wxsub's code),
 *   errcode (WeChat's server errcode), requestId (X-Request-Id).
 */
'use strict';

var POPUP_OK = 'requestSubscribeMessage:ok';
var EXPIRY_MARGIN_MS = 60 * 1000;     // a session about to expire counts as expired

function wxError(message, fields) {
  var e = new Error(message);
  e.name = 'WxsubError';
  Object.keys(fields || {}).forEach(function (k) {
    if (fields[k] !== undefined) e[k] = fields[k];
  });
  return e;
}

function headerOf(headers, name) {
  if (!headers) return undefined;
  var want = name.toLowerCase();
  var keys = Object.keys(headers);
  for (var i = 0; i < keys.length; i++) {
    if (keys[i].toLowerCase() === want) return headers[keys[i]];
  }
  return undefined;
}

function createWxsub(options) {
  var opts = options || {};
  var wxApi = opts.wx || (typeof wx !== 'undefined' ? wx : null);   // eslint-disable-line no-undef
  if (!wxApi) throw new Error('createWxsub: no wx object');
  if (typeof opts.baseUrl !== 'string' || !/^https?:\/\/[^\s?#]+$/.test(opts.baseUrl)) {
    throw new Error('createWxsub: baseUrl must be an http(s) URL such as '
      + 'https://example.com/cgi-bin/wxsub.fcgi');
  }
  if (opts.app !== undefined && (typeof opts.app !== 'string' || !/^[a-z0-9-]{1,31}$/.test(opts.app))) {
    throw new Error('createWxsub: app must be an app name (1 to 31 of a-z 0-9 -)');
  }
  var baseUrl = opts.baseUrl.replace(/\/+$/, '') + (opts.app ? '/' + opts.app : '');
  var storageKey = opts.storageKey || (opts.app ? 'wxsub.session.' + opts.app : 'wxsub.session');
  var timeout = opts.timeout || 10000;
  var loginInFlight = null;
  var memory = null;      // the session, when storage is unavailable

  // ---- storage ---------------------------------------------------------

  function readStored() {
    var s;
    try {
      s = wxApi.getStorageSync(storageKey);
    } catch (e) {
      return null;
    }
    // getStorageSync answers "" for a missing key
    if (!s || typeof s !== 'object' || typeof s.session !== 'string' || !s.session) return null;
    return s;
  }

  function writeStored(s) {
    memory = null;
    try {
      wxApi.setStorageSync(storageKey, s);
    } catch (e) {
      memory = s;   // storage full or unavailable: kept in memory only, this time
    }
  }

  function clearStored(onlyToken) {
    var s = readStored() || memory;
    if (onlyToken && s && s.session !== onlyToken) return;   // someone logged in since
    memory = null;
    try {
      if (wxApi.removeStorageSync) wxApi.removeStorageSync(storageKey);
      else wxApi.setStorageSync(storageKey, '');
    } catch (e) {
      // nothing to do
    }
  }

  function session() {
    var s = readStored() || memory;
    if (!s) return null;
    if (typeof s.expiresAt === 'number' && s.expiresAt - EXPIRY_MARGIN_MS <= Date.now()) return null;
    return {
      session: s.session,
      openId: s.openId,
      unionId: s.unionId,
      expiresAt: s.expiresAt,
    };
  }

  // ---- HTTP --------------------------------------------------------------

  function request(method, route, data, token) {
    return new Promise(function (resolve, reject) {
      var header = { Accept: 'application/json' };
      if (data !== undefined) header['Content-Type'] = 'application/json';
      if (token) header.Authorization = 'Bearer ' + token;
      var req = {
        url: baseUrl + route,
        method: method,
        header: header,
        timeout: timeout,
        dataType: 'json',
        success: function (res) { resolve(res); },
        fail: function (err) {
          reject(wxError('wxsub ' + route + ': ' + ((err && err.errMsg) || 'request failed'), {
            code: 'network',
            errCode: err && (err.errCode !== undefined ? err.errCode : err.errno),
            errMsg: err && err.errMsg,
          }));
        },
      };
      if (data !== undefined) req.data = data;
      wxApi.request(req);
    });
  }

  /** wxsub's answer: its JSON on success, a rejection otherwise. */
  function answer(route, res) {
    var body = res.data;
    var status = res.statusCode;
    var requestId = headerOf(res.header, 'X-Request-Id');
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch (e) {
        body = null;
      }
    }
    if (!body || typeof body !== 'object' || typeof body.ok !== 'boolean') {
      throw wxError('wxsub ' + route + ': HTTP ' + status + ' with an answer that is not wxsub\'s', {
        code: 'bad_answer', status: status, requestId: requestId,
      });
    }
    if (body.ok === true && status >= 200 && status < 300) return body;
    var code = typeof body.error === 'string' ? body.error : 'http_' + status;
    throw wxError('wxsub ' + route + ': ' + (body.message || code) + ' (' + code + ', HTTP ' + status + ')', {
      code: code,
      error: code,
      status: status,
      errcode: typeof body.errcode === 'number' ? body.errcode : undefined,
      requestId: requestId,
    });
  }

  // ---- login -------------------------------------------------------------

  function wxLogin() {
    return new Promise(function (resolve, reject) {
      wxApi.login({
        timeout: timeout,
        success: function (res) {
          if (res && typeof res.code === 'string' && res.code) resolve(res.code);
          else reject(wxError('wx.login gave no code', { code: 'login_failed', errMsg: res && res.errMsg }));
        },
        fail: function (err) {
          reject(wxError('wx.login failed: ' + ((err && err.errMsg) || 'unknown'), {
            code: 'login_failed', errCode: err && err.errCode, errMsg: err && err.errMsg,
          }));
        },
      });
    });
  }

  function login() {
    if (loginInFlight) return loginInFlight;
    var p = wxLogin()
      .then(function (code) { return request('POST', '/login', { code: code }); })
      .then(function (res) {
        var a = answer('/login', res);
        if (typeof a.session !== 'string' || typeof a.openId !== 'string') {
          throw wxError('wxsub /login: no session in the answer', { code: 'bad_answer', status: res.statusCode });
        }
        var s = {
          session: a.session,
          openId: a.openId,
          unionId: typeof a.unionId === 'string' ? a.unionId : undefined,
          expiresAt: typeof a.expiresIn === 'number' ? Date.now() + a.expiresIn * 1000 : undefined,
        };
        writeStored(s);
        var out = { openId: s.openId };
        if (s.unionId) out.unionId = s.unionId;
        return out;
      });
    loginInFlight = p;
    var done = function () { if (loginInFlight === p) loginInFlight = null; };
    p.then(done, done);
    return p;
  }

  function ensureSession() {
    var s = session();
    if (s) return Promise.resolve(s);
    return login().then(function () {
      var t = session();
      if (!t) throw wxError('wxsub: the session could not be kept', { code: 'login_failed' });
      return t;
    });
  }

  function logout() {
    var s = readStored() || memory;
    clearStored();
    if (!s) return Promise.resolve();
    return request('POST', '/logout', undefined, s.session).then(function () {}, function () {});
  }

  // ---- subscribe ---------------------------------------------------------

  function checkIds(tmplIds) {
    var ids = typeof tmplIds === 'string' ? [tmplIds] : tmplIds;
    if (!Array.isArray(ids) || ids.length === 0 ||
        ids.some(function (t) { return typeof t !== 'string' || t === ''; })) {
      throw wxError('subscribe: give 1 to 3 template ids (strings)', {
        code: 'bad_template_ids', errCode: 10001,
      });
    }
    var unique = ids.filter(function (t, i) { return ids.indexOf(t) === i; });
    if (unique.length > 3) {
      throw wxError('subscribe: at most 3 template ids per popup (WeChat\'s limit)', {
        code: 'too_many_templates', errCode: 20003,
      });
    }
    return unique;
  }

  function popup(ids) {
    return new Promise(function (resolve, reject) {
      // Called synchronously: WeChat opens the popup only within a tap.
      wxApi.requestSubscribeMessage({
        tmplIds: ids,
        success: function (res) {
          if (!res || res.errMsg !== POPUP_OK) {
            reject(wxError('wx.requestSubscribeMessage: ' + ((res && res.errMsg) || 'no result'), {
              code: 'popup_failed', errCode: res && res.errCode, errMsg: res && res.errMsg,
            }));
            return;
          }
          resolve(res);
        },
        fail: function (err) {
          reject(wxError('wx.requestSubscribeMessage failed: ' + ((err && err.errMsg) || 'unknown')
            + (err && err.errCode !== undefined ? ' (errCode ' + err.errCode + ')' : ''), {
            code: 'popup_failed', errCode: err && err.errCode, errMsg: err && err.errMsg,
          }));
        },
      });
    });
  }

  /** The body for /record: errMsg and the requested templates' entries. */
  function recordBody(res, ids) {
    var body = { errMsg: res.errMsg };
    var n = 0;
    ids.forEach(function (id) {
      var v = res[id];
      if (typeof v !== 'string') return;
      body[id] = /^accept/.test(v) ? 'accept' : v;
      n++;
    });
    return n > 0 ? body : null;
  }

  function record(body, mayRelogin) {
    return ensureSession().then(function (s) {
      return request('POST', '/record', body, s.session).then(function (res) {
        if (res.statusCode === 401 && mayRelogin) {
          clearStored(s.session);
          return record(body, false);
        }
        return answer('/record', res);
      });
    });
  }

  function subscribe(tmplIds) {
    var ids;
    try {
      ids = checkIds(tmplIds);
    } catch (e) {
      return Promise.reject(e);
    }
    return popup(ids).then(function (res) {
      var body = recordBody(res, ids);
      if (!body) return { credits: {}, skipped: {} };
      return record(body, true).then(function (a) {
        return { credits: a.credits || {}, skipped: a.skipped || {} };
      });
    });
  }

  return { login: login, subscribe: subscribe, logout: logout, session: session };
}

module.exports = { createWxsub: createWxsub };
