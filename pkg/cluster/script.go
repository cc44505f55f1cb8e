package cluster

import "github.com/redis/go-redis/v9"

// appendScript appends one event to the cluster log, atomically: it is the
// only writer of the log's keys.
//
//	KEYS[1] the seq counter, KEYS[2] the stream, KEYS[3] the event's de-dup key
//	ARGV[1] the de-dup key's TTL in seconds, ARGV[2] the stream's MAXLEN
//	(0: no trimming), ARGV[3] the floor: the highest seq the calling node
//	knows of, ARGV[4..10] the entry's fields (id ns ev ts sid data node)
//
// It returns {seq, 0} for an event it appended and {seq, 1} for one the
// log already has (seq is then the one it got). The stream entry's id is
// "<seq>-0", so the stream's order is the seq order and a consumer resumes
// from the seq it stored last.
//
// The floor keeps seqs rising for the nodes if Redis lost its counter (a
// restart without AOF); and if the stream is ahead of the counter, the
// event goes after the stream's last entry.
var appendScript = redis.NewScript(`
local prev = redis.call('GET', KEYS[3])
if prev then return {tonumber(prev), 1} end
local seq = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[3])
if seq <= floor then
  seq = floor + 1
  redis.call('SET', KEYS[1], seq)
end
local function add(s)
  local args = {KEYS[2]}
  if ARGV[2] ~= '0' then
    table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[2])
  end
  table.insert(args, s .. '-0')
  local names = {'id', 'ns', 'ev', 'ts', 'sid', 'data', 'node'}
  for i, n in ipairs(names) do
    table.insert(args, n); table.insert(args, ARGV[3 + i])
  end
  return redis.pcall('XADD', unpack(args))
end
local r = add(seq)
if type(r) == 'table' and r.err then
  local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
  if #last == 0 then return redis.error_reply(r.err) end
  seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1
  redis.call('SET', KEYS[1], seq)
  r = add(seq)
  if type(r) == 'table' and r.err then return redis.error_reply(r.err) end
end
redis.call('SET', KEYS[3], seq, 'EX', ARGV[1])
return {seq, 0}
`)
