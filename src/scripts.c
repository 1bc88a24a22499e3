/*
 * scripts.c: every Lua script wxsub runs, each beside its KEYS/ARGV
 * contract (scripts.h says who runs which). Scripts are the unit of
 * atomicity: each is one change of state that no other client can see
 * half done. They run by EVALSHA through redis.c's cache (redis_eval).
 *
 * Conventions: keys are passed in KEYS when the script's caller knows
 * them; keys derived inside a script from a prefix (ARGV "P") are the
 * outbox's, whose names depend on what the script reads. Replies are
 * small arrays read by the owners' pure readers.
 */
#include <stddef.h>

#include "redis.h"
#include "scripts.h"

/* ---- Lua functions several scripts share ------------------------- */

/*
 * take(key, longterm): every credit claim (the send's and the
 * outbox's) spends one credit with it (for a long-term template: checks
 * its marker) and returns taken (0/1) and, when the key goes away at
 * zero, its life before in ms (else -1: a key that stays keeps its own
 * life, and reading it would cost the common claim a third call). A
 * credit never goes below zero and its key disappears at zero.
 * The common claim (more than one credit left) is a single DECR: a GET
 * first would cost every claim a second call. A claim refused undoes
 * its DECR in the same script: a key that was missing (or at zero)
 * is deleted, anything below zero put back; a value that is not a
 * count, or not a string, is left as it was and refused.
 */
#define LUA_TAKE \
    "local function take(k, lt) " \
    "  if lt == '1' then return redis.call('exists', k), -1 end " \
    "  local v = redis.pcall('decr', k) " \
    "  if type(v) ~= 'number' then return 0, -1 end " \
    "  if v > 0 then return 1, -1 end " \
    "  if v < 0 then " \
    "    if v == -1 then redis.call('del', k) " \
    "    else redis.call('incr', k) end " \
    "    return 0, -1 end " \
    "  local pttl = redis.call('pttl', k) " \
    "  redis.call('del', k) " \
    "  return 1, pttl " \
    "end "

/*
 * The send lock every send takes (the responder's and the worker's):
 * send_lock(key, value, ms) is SET NX PX, true when taken. It is neither
 * written to the AOF nor sent to replicas: it guards a call in flight,
 * which a restart cannot resume, and after a fail-over a send that
 * overlaps one still in flight meets a 43108, paused and retried. Its
 * release (a DEL) is propagated, a no-op where it never was. This keeps
 * a send's effects a single write (the credit), so Redis writes it to
 * the AOF without a MULTI/EXEC around it: 8 % of Redis' work per send
 * (bench/callgrind.py).
 */
#define LUA_LOCK \
    "local function send_lock(k, v, ms) " \
    "  redis.set_repl(redis.REPL_NONE) " \
    "  local got = redis.call('set', k, v, 'NX', 'PX', ms) " \
    "  redis.set_repl(redis.REPL_ALL) " \
    "  return got end "

/*
 * And its counterpart: give(key, how, ttl, had) keeps ('k'), gives back
 * ('r': a key gone at zero comes back with ttl seconds when ttl > 0,
 * else with the life it had, had ms) or clears ('c') one credit.
 */
#define LUA_GIVE \
    "local function give(k, how, ttl, had) " \
    "  if how == 'r' then " \
    "    redis.call('incrby', k, 1) " \
    "    if redis.call('pttl', k) < 0 then " \
    "      if ttl > 0 then redis.call('expire', k, ttl) " \
    "      elseif had > 0 then redis.call('pexpire', k, had) end " \
    "    end " \
    "  elseif how == 'c' then redis.call('del', k) end " \
    "end "

/* The entry is done with: acknowledged and dropped from the stream. */
#define LUA_ACK \
    "local function ack() redis.call('xack', KEYS[2], ARGV[3], ARGV[2]) " \
    "redis.call('xdel', KEYS[2], ARGV[2]) end "

/* Mark KEYS[1] (message ARGV[id]) unknown and index it for a sent event. */
#define LUA_UNKNOWN \
    "local function unknown(P, id, now, keep, why, code) " \
    "  local f = redis.call('hmget', KEYS[1], 'o', 't') " \
    "  redis.call('hset', KEYS[1], 's', 'unknown', 'e', why, 'ua', now) " \
    "  if code ~= '' then redis.call('hset', KEYS[1], 'c', code) end " \
    "  local uk = P .. 'outbox:unknown:' .. (f[2] or '') .. ':' .. (f[1] or '') " \
    "  redis.call('zadd', uk, now, id) redis.call('expire', uk, 600) " \
    "  redis.call('zadd', P .. 'outbox:unknowns', now, id) " \
    "  redis.call('zremrangebyscore', P .. 'outbox:unknowns', '-inf', " \
    "    now - keep) " \
    "end "

/* ---- store.c: the token, credits, sends, sessions, counters ------- */

/*
 * Compare-and-delete (the seed's release script).
 * KEYS[1] a lock or the token. ARGV[1] the value it must still hold.
 * Returns 1 when deleted, else 0.
 */
const struct redis_script SCRIPT_CAD = { "cad",
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('del', KEYS[1]) else return 0 end" };

/*
 * The cached token and its TTL in one round trip.
 * KEYS[1] redis.tokenKey. Returns {token or nil, ttl}.
 */
const struct redis_script SCRIPT_TOKEN_GET = { "token_get",
    "return {redis.call('get', KEYS[1]), redis.call('ttl', KEYS[1])}" };

/*
 * Add credits whatever the keys held (store_credit_add's slow path).
 * KEYS: the credit keys. ARGV[1] subscribe.ttl (s; 0: persistent),
 * ARGV[1 + i] 'm' (set the long-term marker "1") or 'c' (count one more)
 * for KEYS[i]. A value that is not a count is replaced. Returns the new
 * values, one per key.
 */
const struct redis_script SCRIPT_CREDIT_ADD = { "credit_add",
    "local ttl = tonumber(ARGV[1]) local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local v "
    "  if ARGV[i + 1] == 'm' then redis.call('set', k, '1') v = 1 "
    "  else "
    "    local cur = redis.call('get', k) "
    "    if cur and not tonumber(cur) then redis.call('del', k) end "
    "    v = redis.call('incrby', k, 1) "
    "  end "
    "  if ttl > 0 then redis.call('expire', k, ttl) "
    "  else redis.call('persist', k) end "
    "  out[i] = v "
    "end return out" };

/*
 * The start of a send.
 * KEYS: [1] the user's send lock, [2] the credit, [3] (optional) the
 * lock of this process's last send, still to release.
 * ARGV: [1] lock value, [2] lock life (ms), [3] '1' for a long-term
 * template (its marker is checked, never spent), [4] that last lock's
 * value: deleted first if the lock still holds it, and, like the lock's
 * SET, not propagated (store.h: a send's release rides with the next
 * claim, sparing Redis a wake-up of its own).
 * Returns -2 busy; -3 no credit (lock released); taken: the credit's
 * pttl before (take's: -1 when it needs none). An integer, not a table:
 * Redis turns a table into a reply by looking up six type fields in it
 * first, a tenth of the script's cost (bench/callgrind.py). A credit
 * never goes below zero and its key disappears at zero; the pttl lets a
 * credit given back keep its life.
 * The token is not read here but by a plain GET and TTL sent in the same
 * write (store_send_begin): the same round trip at a fraction of the
 * cost of two redis.calls.
 */
const struct redis_script SCRIPT_SEND_BEGIN = { "send_begin",
    LUA_TAKE
    /* send_lock's rule (LUA_LOCK), with the release in the same window */
    "redis.set_repl(redis.REPL_NONE) "
    "if ARGV[4] and redis.call('get', KEYS[3]) == ARGV[4] then "
    "  redis.call('del', KEYS[3]) end "
    "local got = redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) "
    "redis.set_repl(redis.REPL_ALL) "
    "if not got then return -2 end "
    "local taken, pttl = take(KEYS[2], ARGV[3]) "
    "if taken == 0 then redis.call('del', KEYS[1]) return -3 end "
    "return pttl" };

/*
 * The end of a send that is not a plain keep (store_send_end).
 * KEYS: [1] the send lock, [2] the credit. ARGV: [1] lock value,
 * [2] 'k'eep / 'r'eturn / 'c'lear, [3] subscribe.ttl (s), [4] the
 * credit's life before (ms, or -1). The lock is deleted only if it still
 * holds ARGV[1]. Returns 1.
 */
const struct redis_script SCRIPT_SEND_END = { "send_end",
    LUA_GIVE
    "give(KEYS[2], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])) "
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "  redis.call('del', KEYS[1]) end "
    "return 1" };

/*
 * A session record, replacing any other under the key.
 * KEYS[1] WXSUB:session:<id>. ARGV: [1] hash h, [2] openid o,
 * [3] session_key k, [4] unionid u, [5] life (s). Returns 1.
 */
const struct redis_script SCRIPT_SESSION_PUT = { "session_put",
    "redis.call('del', KEYS[1]) "
    "redis.call('hset', KEYS[1], 'h', ARGV[1], 'o', ARGV[2], 'k', ARGV[3], "
    "'u', ARGV[4]) "
    "redis.call('expire', KEYS[1], tonumber(ARGV[5])) return 1" };

/*
 * HINCRBY over any number of fields.
 * KEYS[1] the hash. ARGV: field, delta, field, delta, ... Returns 1.
 * Run by plain EVAL, not EVALSHA: once a second at most, with a variable
 * field count, and it keeps the EVALSHA count of Redis' commandstats
 * that of the request path.
 */
const struct redis_script SCRIPT_HASH_ADD = { "hash_add",
    "for i = 1, #ARGV, 2 do "
    "redis.call('hincrby', KEYS[1], ARGV[i], ARGV[i + 1]) end return 1" };

/* ---- guard.c: the login limits ---------------------------------- */

/*
 * KEYS: the in-flight set, this address's counter for this minute.
 * ARGV: rate per minute (0: off), max in flight (0: off), lease life
 * (ms), lease id. Returns {0} taken, {1} over the rate, {2} too many in
 * flight. Time from Redis, so every host's leases end on one clock.
 */
const struct redis_script SCRIPT_GUARD_ENTER = { "guard_enter",
    "local rate, max = tonumber(ARGV[1]), tonumber(ARGV[2]) "
    "if rate > 0 then "
    "  local n = redis.call('incr', KEYS[2]) "
    "  if n == 1 then redis.call('expire', KEYS[2], 120) end "
    "  if n > rate then return {1} end "
    "end "
    "if max > 0 then "
    "  if redis.replicate_commands then pcall(redis.replicate_commands) end "
    "  local t = redis.call('time') "
    "  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "  local life = tonumber(ARGV[3]) "
    "  redis.call('zremrangebyscore', KEYS[1], '-inf', now) "
    "  if redis.call('zcard', KEYS[1]) >= max then return {2} end "
    "  redis.call('zadd', KEYS[1], now + life, ARGV[4]) "
    "  redis.call('pexpire', KEYS[1], life) "
    "end "
    "return {0}" };

/* ---- idem.c: Idempotency-Key ------------------------------------- */

/* KEYS[1]: the key. ARGV: "p|hash", in-flight life (ms). {0} or {1, v}. */
const struct redis_script SCRIPT_IDEM_BEGIN = { "idem_begin",
    "local v = redis.call('get', KEYS[1]) "
    "if not v then "
    "  redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return {0} end "
    "return {1, v}" };

/* ---- outbox.c: the outbox's changes of state ---------------------- */

/*
 * KEYS: [1] the stream, [2] the Idempotency-Key's record (with a hash).
 * ARGV: 1 prefix, 2 now (ms), 3 keep (s), 4 template, 5 long-term,
 * 6 batch ('' none), 7 n, 8 the answer's form ('b' batch, '1' single,
 * '-' none); then per item: id, openId, credit key, payload, and for a
 * batch what its answer says of the item queued and refused; then,
 * unless the form is '-', the body's hash ('' no key), the record's life
 * (s) and the answer's four pieces (outbox.h). A plain queued send so
 * passes 12 arguments: each one costs Redis a Lua string.
 * Returns {1, record} when the key holds one (nothing done), else
 * {0, answer text or '', index of each refused item...}.
 */
const struct redis_script SCRIPT_OUTBOX_ENQUEUE = { "outbox_enqueue", LUA_TAKE
    "local P, nowms, keep = ARGV[1], ARGV[2], ARGV[3] "
    "local tpl, lt, b, n, form = ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7]), "
    "  ARGV[8] "
    "local stride = form == 'b' and 6 or 4 "
    "local tail = 9 + n * stride "
    "local hash = form ~= '-' and ARGV[tail] or '' "
    "if hash ~= '' then "
    "  local v = redis.call('get', KEYS[2]) "
    "  if v then return {1, v} end "
    "end "
    "local out, said, refused = {0, ''}, {}, {} "
    "if b ~= '' then redis.call('rpush', P .. 'batch:' .. b, '-') end "
    "for i = 0, n - 1 do "
    "  local at = 9 + i * stride "
    "  local id, o, ck, p = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3] "
    "  local taken, pttl = take(ck, lt) "
    "  if taken == 0 then out[#out + 1] = i refused[#refused + 1] = ARGV[at + 5] "
    "  else "
    "    local k = P .. 'msg:' .. id "
    /* fields at their defaults are left out (outbox.h): less to write,
     * to keep and to append to the AOF for every message */
    "    local f = {'s', 'queued', 'o', o, 't', tpl, 'q', nowms, 'p', p, "
    "      'k', ck} "
    "    if b ~= '' then f[#f + 1] = 'b' f[#f + 1] = b end "
    "    if lt == '1' then f[#f + 1] = 'l' f[#f + 1] = '1' end "
    "    if pttl >= 0 then f[#f + 1] = 'pt' f[#f + 1] = tostring(pttl) end "
    "    redis.call('hset', k, unpack(f)) "
    "    redis.call('expire', k, keep) "
    "    redis.call('xadd', KEYS[1], '*', 'id', id) "
    "    if b ~= '' then redis.call('rpush', P .. 'batch:' .. b, id) end "
    "    said[#said + 1] = ARGV[at + 4] "
    "  end "
    "end "
    "if b ~= '' then redis.call('expire', P .. 'batch:' .. b, keep) end "
    "if form == '-' then return out end "
    "local A = tail + 2 "
    "local text, status, err = ARGV[A], '202', '0' "
    "if form == 'b' then "
    "  text = ARGV[A] .. #said .. ARGV[A + 1] .. table.concat(said, ',') .. "
    "    ARGV[A + 2] .. table.concat(refused, ',') .. ARGV[A + 3] "
    "elseif #refused > 0 then "
    "  text, status, err = ARGV[A + 1], ARGV[A + 2], ARGV[A + 3] end "
    "if hash ~= '' then "
    "  redis.call('set', KEYS[2], 'd|' .. hash .. '|' .. status .. '|' .. "
    "    err .. '|' .. text, 'EX', ARGV[tail + 1]) end "
    "out[2] = text "
    "return out" };

/*
 * KEYS: msg, stream, delayed. ARGV: 1 prefix, 2 entry, 3 group,
 * 4 lock value, 5 lock ms, 6 now (s), 7 rate, 8 this second, 9 due when
 * busy, 10 id, 11 keep, 12 due when over the rate.
 * {0, payload, attempts, queued ms, openId} go; {1} deferred;
 * {2} unknown; {3} nothing to do. The token is read as the send's is:
 * a plain GET and TTL in the same write (outbox_begin).
 */
const struct redis_script SCRIPT_OUTBOX_BEGIN = { "outbox_begin", LUA_ACK LUA_UNKNOWN
    LUA_LOCK
    "local P = ARGV[1] "
    "local s = redis.call('hget', KEYS[1], 's') "
    "if s == 'sending' then "
    "  unknown(P, ARGV[10], ARGV[6], ARGV[11], 'worker_lost', '') "
    "  redis.call('hdel', KEYS[1], 'w') "
    "  redis.call('expire', KEYS[1], ARGV[11]) "
    "  ack() return {2} end "
    "if s ~= 'queued' then ack() return {3} end "
    "local o = redis.call('hget', KEYS[1], 'o') "
    "local lock = P .. 'sendlock:' .. o "
    "if not send_lock(lock, ARGV[4], ARGV[5]) then "
    "  redis.call('zadd', KEYS[3], ARGV[9], ARGV[10]) ack() return {1} end "
    "if tonumber(ARGV[7]) > 0 then "
    "  local rk = P .. 'outbox:rate:' .. ARGV[8] "
    "  local c = redis.call('incr', rk) "
    "  if c == 1 then redis.call('expire', rk, 2) end "
    "  if c > tonumber(ARGV[7]) then "
    "    redis.call('del', lock) "
    "    redis.call('zadd', KEYS[3], ARGV[12], ARGV[10]) ack() return {1} end "
    "end "
    "local a = redis.call('hincrby', KEYS[1], 'a', 1) "
    "redis.call('hset', KEYS[1], 's', 'sending', 'w', ARGV[4], 'ua', ARGV[6]) "
    "local f = redis.call('hmget', KEYS[1], 'p', 'q') "
    "return {0, f[1], a, tonumber(f[2]) or 0, o}" };

/*
 * KEYS: msg, stream, delayed. ARGV: 1 prefix, 2 entry, 3 group, 4 our
 * attempt (lock value), 5 next, 6 now (s), 7 due (ms), 8 msgid, 9 error,
 * 10 errcode or '', 11 keep, 12 id, 13 credit k/r/c, 14 subscribe.ttl.
 * {1} applied; {0} the attempt was no longer ours.
 */
const struct redis_script SCRIPT_OUTBOX_FINISH = { "outbox_finish", LUA_GIVE LUA_ACK
    LUA_UNKNOWN
    "local P, n, now, id = ARGV[1], ARGV[5], ARGV[6], ARGV[12] "
    "ack() "
    "local f = redis.call('hmget', KEYS[1], 'w', 'o', 't', 'k', 'pt', 'b', 's', "
    "  'l') "
    "if f[2] then "
    "  local lock = P .. 'sendlock:' .. f[2] "
    "  if redis.call('get', lock) == ARGV[4] then redis.call('del', lock) end "
    "end "
    "if f[1] ~= ARGV[4] then return {0} end "
    "if f[7] ~= 'sending' and not (f[7] == 'unknown' and n == 'sent') then "
    "  return {0} end "
    "redis.call('hdel', KEYS[1], 'w') "
    "if n == 'sent' then "
    "  redis.call('hset', KEYS[1], 's', 'sent', 'm', ARGV[8], 'ua', now) "
    "  redis.call('hdel', KEYS[1], 'e', 'c') "
    "  redis.call('set', P .. 'msgid:' .. ARGV[8], id, 'EX', ARGV[11]) "
    "  redis.call('zrem', P .. 'outbox:unknowns', id) "
    "  redis.call('zrem', P .. 'outbox:unknown:' .. f[3] .. ':' .. f[2], id) "
    "elseif n == 'retry' then "
    "  redis.call('hset', KEYS[1], 's', 'queued', 'e', ARGV[9], 'ua', now) "
    "  if ARGV[10] ~= '' then redis.call('hset', KEYS[1], 'c', ARGV[10]) "
    "  else redis.call('hdel', KEYS[1], 'c') end "
    "  redis.call('zadd', KEYS[3], ARGV[7], id) "
    "elseif n == 'failed' then "
    "  redis.call('hset', KEYS[1], 's', 'failed', 'e', ARGV[9], 'ua', now) "
    "  if ARGV[10] ~= '' then redis.call('hset', KEYS[1], 'c', ARGV[10]) "
    "  else redis.call('hdel', KEYS[1], 'c') end "
    "  redis.call('zadd', P .. 'outbox:failed', now, id) "
    "  redis.call('zremrangebyscore', P .. 'outbox:failed', '-inf', "
    "    now - ARGV[11]) "
    "  if f[8] ~= '1' then "
    "    give(f[4], ARGV[13], tonumber(ARGV[14]), tonumber(f[5]) or -1) end "
    "else unknown(P, id, now, ARGV[11], ARGV[9], ARGV[10]) end "
    "redis.call('expire', KEYS[1], ARGV[11]) "
    "if f[6] and f[6] ~= '' then "
    "  redis.call('expire', P .. 'batch:' .. f[6], ARGV[11]) end "
    "return {1}" };

/* KEYS: msg, stream, delayed. ARGV: 1 -, 2 entry, 3 group, 4 due, 5 id. */
const struct redis_script SCRIPT_OUTBOX_DEFER = { "outbox_defer", LUA_ACK
    "redis.call('zadd', KEYS[3], ARGV[4], ARGV[5]) ack() return 1" };

/*
 * KEYS: stream. ARGV: group, consumer. Forget the consumer when nothing
 * is pending for it (DELCONSUMER drops its pending entries).
 */
const struct redis_script SCRIPT_OUTBOX_LEAVE = { "outbox_leave",
    "local p = redis.call('xpending', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) "
    "if #p > 0 then return -1 end "
    "return redis.call('xgroup', 'delconsumer', KEYS[1], ARGV[1], ARGV[2])" };

/* KEYS: delayed, stream. ARGV: now (ms), how many at most. */
const struct redis_script SCRIPT_OUTBOX_PROMOTE = { "outbox_promote",
    "local ids = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], "
    "  'LIMIT', 0, tonumber(ARGV[2])) "
    "for _, id in ipairs(ids) do "
    "  redis.call('xadd', KEYS[2], '*', 'id', id) "
    "  redis.call('zrem', KEYS[1], id) "
    "end return #ids" };

/* ARGV: prefix, msgid or '', openId, template, errcode, now, keep. */
const struct redis_script SCRIPT_OUTBOX_SETTLE = { "outbox_settle",
    "local P, now = ARGV[1], tonumber(ARGV[6]) local id "
    "if ARGV[2] ~= '' then id = redis.call('get', P .. 'msgid:' .. ARGV[2]) end "
    "local uk = P .. 'outbox:unknown:' .. ARGV[4] .. ':' .. ARGV[3] "
    "if not id then "
    "  id = redis.call('zrangebyscore', uk, now - 600, '+inf', "
    "    'LIMIT', 0, 1)[1] end "
    "if not id then return false end "
    "local k = P .. 'msg:' .. id "
    "local s = redis.call('hget', k, 's') "
    "if s ~= 'sent' and s ~= 'unknown' then return false end "
    "if ARGV[5] == '0' then redis.call('hset', k, 's', 'delivered', 'ua', now) "
    "else "
    "  redis.call('hset', k, 's', 'failed', 'e', 'delivery_failed', "
    "    'c', ARGV[5], 'ua', now) "
    "  redis.call('zadd', P .. 'outbox:failed', now, id) "
    "end "
    "redis.call('zrem', uk, id) redis.call('zrem', P .. 'outbox:unknowns', id) "
    "redis.call('expire', k, ARGV[7]) "
    "return id" };

/* KEYS: batch list. ARGV: prefix. {status, count, ...} or nil. */
const struct redis_script SCRIPT_OUTBOX_BATCH = { "outbox_batch",
    "local ids = redis.call('lrange', KEYS[1], 0, -1) "
    "if #ids == 0 then return false end "
    "local c, out = {}, {} "
    "for _, id in ipairs(ids) do if id ~= '-' then "
    "  local s = redis.call('hget', ARGV[1] .. 'msg:' .. id, 's') "
    "  if s then c[s] = (c[s] or 0) + 1 end "
    "end end "
    "for k, v in pairs(c) do out[#out + 1] = k out[#out + 1] = v end "
    "return out" };

/* KEYS: stream, delayed, failed, unknowns. ARGV: group. */
const struct redis_script SCRIPT_OUTBOX_COUNTS = { "outbox_counts",
    "local p = 0 "
    "local ok, r = pcall(redis.call, 'xpending', KEYS[1], ARGV[1]) "
    "if ok and r then p = r[1] end "
    "return {redis.call('xlen', KEYS[1]), p, redis.call('zcard', KEYS[2]), "
    "  redis.call('zcard', KEYS[3]), redis.call('zcard', KEYS[4])}" };

/* KEYS: msg, stream, failed. ARGV: now (s), now (ms), id. */
const struct redis_script SCRIPT_OUTBOX_RETRY = { "outbox_retry", LUA_TAKE
    "local f = redis.call('hmget', KEYS[1], 's', 'k', 'l', 'q', 'ca') "
    "if not f[1] then return 'not_found' end "
    "if f[1] ~= 'failed' then return 'not_failed' end "
    "local taken, pttl = take(f[2], f[3]) "
    "if taken == 0 then return 'not_subscribed' end "
    /* q is queued-at again: created keeps the first one's second */
    "if not f[5] then redis.call('hset', KEYS[1], 'ca', "
    "  tostring(math.floor((tonumber(f[4]) or 0) / 1000))) end "
    "redis.call('hset', KEYS[1], 's', 'queued', 'a', '0', 'ua', ARGV[1], "
    "  'q', ARGV[2], 'pt', tostring(pttl)) "
    "redis.call('hdel', KEYS[1], 'e', 'c', 'm') "
    "redis.call('zrem', KEYS[3], ARGV[3]) "
    "redis.call('xadd', KEYS[2], '*', 'id', ARGV[3]) "
    "return 'queued'" };
