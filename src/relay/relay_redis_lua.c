/*
 * relay_redis_lua.c - the Lua scripts of the Redis relay table
 * (relay_redis.c has the key layout and why each exists). Each runs
 * atomically on the server, so a change that touches several keys is
 * one step for every host.
 */
#include "relay/relay_int.h"

/* KEYS: auth:KEY cust:CUSTOMER nets undo:CUSTOMER:KEY; ARGV: customer
   value ttl net key token. Notes under undo: what TOKEN wrote (v:TOKEN),
   what it replaced (p:TOKEN, "" for nothing), and that it wrote last
   (top). */
static const char lua_record[] =
    "local prev = redis.call('HGET', KEYS[1], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])\n"
    "local ttl = tonumber(ARGV[3])\n"
    "if redis.call('TTL', KEYS[1]) < ttl then\n"
    "  redis.call('EXPIRE', KEYS[1], ttl) end\n"
    "redis.call('SADD', KEYS[2], ARGV[5])\n"
    "if redis.call('TTL', KEYS[2]) < ttl then\n"
    "  redis.call('EXPIRE', KEYS[2], ttl) end\n"
    "if ARGV[4] == '1' then redis.call('SADD', KEYS[3], ARGV[5]) end\n"
    "redis.call('HSET', KEYS[4], 'top', ARGV[6], 'v:' .. ARGV[6],\n"
    "  ARGV[2], 'p:' .. ARGV[6], prev or '')\n"
    "if redis.call('TTL', KEYS[4]) < ttl then\n"
    "  redis.call('EXPIRE', KEYS[4], ttl) end\n"
    "return 1\n";

/* KEYS: undo:CUSTOMER:KEY auth:KEY cust:CUSTOMER nets; ARGV: customer
   key token back. Settles the record of TOKEN: forgets its notes, and
   with BACK = "1" takes it back. If it still holds the field (top, and
   the value it wrote: not revoked since), what it replaced is put back
   (or the authorization removed as lua_revoke does) and the record
   that wrote that becomes top again. If a later record replaced it,
   that one's p: is pointed past it, so that taking the later one back
   does not bring this one back. 1 if the field was changed. */
static const char lua_settle[] =
    "local u, t = KEYS[1], ARGV[3]\n"
    "local v = redis.call('HGET', u, 'v:' .. t)\n"
    "if not v then return 0 end\n"
    "local p = redis.call('HGET', u, 'p:' .. t)\n"
    "local top = redis.call('HGET', u, 'top') == t\n"
    "redis.call('HDEL', u, 'v:' .. t, 'p:' .. t)\n"
    "if top then redis.call('HDEL', u, 'top') end\n"
    "if ARGV[4] ~= '1' then return 0 end\n"
    "local f = redis.call('HGETALL', u)\n"
    "if not top then\n"
    "  for i = 1, #f, 2 do\n"
    "    if string.sub(f[i], 1, 2) == 'p:' and f[i + 1] == v then\n"
    "      redis.call('HSET', u, f[i], p) end end\n"
    "  return 0 end\n"
    "if redis.call('HGET', KEYS[2], ARGV[1]) ~= v then return 0 end\n"
    "if p == '' then\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "  redis.call('SREM', KEYS[3], ARGV[2])\n"
    "  if redis.call('EXISTS', KEYS[2]) == 0 then\n"
    "    redis.call('SREM', KEYS[4], ARGV[2]) end\n"
    "  return 1 end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], p)\n"
    "for i = 1, #f, 2 do\n"
    "  if string.sub(f[i], 1, 2) == 'v:' and f[i + 1] == p then\n"
    "    redis.call('HSET', u, 'top', string.sub(f[i], 3)) break end end\n"
    "return 1\n";

/* KEYS: auth:KEY cust:CUSTOMER nets; ARGV: key customer. Either may be
   "" (any); returns the number of authorizations removed. */
static const char lua_revoke[] =
    "local n = 0\n"
    "local function drop(k, c)\n"
    "  local a = 'popgate:auth:' .. k\n"
    "  n = n + redis.call('HDEL', a, c)\n"
    "  redis.call('SREM', 'popgate:cust:' .. c, k)\n"
    "  if redis.call('EXISTS', a) == 0 then\n"
    "    redis.call('SREM', KEYS[3], k) end\n"
    "end\n"
    "if ARGV[1] ~= '' and ARGV[2] ~= '' then drop(ARGV[1], ARGV[2])\n"
    "elseif ARGV[1] ~= '' then\n"
    "  for _, c in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "    drop(ARGV[1], c) end\n"
    "else\n"
    "  for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do\n"
    "    drop(k, ARGV[2]) end\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "return n\n";

/* KEYS: rate:CUSTOMER; ARGV: minute msgs rcpts ttl. Fields older than
   an hour go once the hash has grown. */
static const char lua_rate_add[] =
    "redis.call('HINCRBY', KEYS[1], 'm' .. ARGV[1], ARGV[2])\n"
    "redis.call('HINCRBY', KEYS[1], 'r' .. ARGV[1], ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[4])\n"
    "if redis.call('HLEN', KEYS[1]) > 160 then\n"
    "  local old = tonumber(ARGV[1]) - 60\n"
    "  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "    if tonumber(string.sub(f, 2)) < old then\n"
    "      redis.call('HDEL', KEYS[1], f) end end end\n"
    "return 1\n";

/* KEYS: rate:CUSTOMER; ARGV: minute first msgs rcpts max_msgs max_rcpts
   ttl. The check-and-add of a hold: the sums of the buckets FIRST..
   MINUTE, and the add only when both stay within their caps, in one
   script, so two hosts cannot both pass at the last unit. Returns
   {held (1/0), messages, recipients} (the sums before). */
static const char lua_rate_hold[] =
    "local first, last = tonumber(ARGV[2]), tonumber(ARGV[1])\n"
    "local m, r = 0, 0\n"
    "local f = redis.call('HGETALL', KEYS[1])\n"
    "for i = 1, #f, 2 do\n"
    "  local k, min = string.sub(f[i], 1, 1), tonumber(string.sub(f[i], 2))\n"
    "  local v = tonumber(f[i + 1])\n"
    "  if min and v and v > 0 and min >= first and min <= last then\n"
    "    if k == 'm' then m = m + v elseif k == 'r' then r = r + v end\n"
    "  end end\n"
    "if m + tonumber(ARGV[3]) > tonumber(ARGV[5]) or\n"
    "    r + tonumber(ARGV[4]) > tonumber(ARGV[6]) then\n"
    "  return {0, m, r} end\n"
    "redis.call('HINCRBY', KEYS[1], 'm' .. ARGV[1], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[1], 'r' .. ARGV[1], ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[7])\n"
    "return {1, m, r}\n";

/* KEYS: rate:CUSTOMER; ARGV: minute msgs rcpts. Gives a hold back, never
   below zero. */
static const char lua_rate_release[] =
    "local function back(f, n)\n"
    "  n = tonumber(n)\n"
    "  local v = tonumber(redis.call('HGET', KEYS[1], f) or '0') or 0\n"
    "  if n == 0 or v == 0 then return end\n"
    "  if v <= n then redis.call('HDEL', KEYS[1], f)\n"
    "  else redis.call('HINCRBY', KEYS[1], f, -n) end\n"
    "end\n"
    "back('m' .. ARGV[1], ARGV[2])\n"
    "back('r' .. ARGV[1], ARGV[3])\n"
    "return 1\n";

const char *const relay_redis_scripts[LUA_NSCRIPTS] = {
	[LUA_RECORD] = lua_record,
	[LUA_SETTLE] = lua_settle,
	[LUA_REVOKE] = lua_revoke,
	[LUA_RATE_ADD] = lua_rate_add,
	[LUA_RATE_HOLD] = lua_rate_hold,
	[LUA_RATE_RELEASE] = lua_rate_release,
};
