-- wrk script of bench/mixed.mjs: the realistic mix of issue 12 over many users
-- of one store. 80% GET /api/contacts?page=N, 10% POST /api/contacts (a new
-- phone each time), 5% PATCH /api/contacts/:id, 5% POST /api/messages.
-- BENCH_TOKENS_FILE and BENCH_CONTACTS_FILE hold one session token / contact id per line.
local tokens, contacts = {}, {}
local counter = 0
local pages = tonumber(os.getenv("BENCH_PAGES") or "10")

local function lines(path, into)
  local file = assert(io.open(path, "r"))
  for line in file:lines() do
    if #line > 0 then into[#into + 1] = line end
  end
  file:close()
end

-- One state per wrk thread: its own numbering of new phones, and its count of cache hits and misses.
local thread_id = 0
local threads = {}
function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
  threads[#threads + 1] = thread
end

hits, misses = 0, 0
function response(status, headers, body)
  local cache = headers["X-Cache"] or headers["x-cache"]
  if cache == "HIT" then hits = hits + 1 elseif cache == "MISS" then misses = misses + 1 end
end

function init(args)
  lines(os.getenv("BENCH_TOKENS_FILE"), tokens)
  lines(os.getenv("BENCH_CONTACTS_FILE"), contacts)
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  counter = counter + 1
  local headers = { ["Authorization"] = "Bearer " .. tokens[counter % #tokens + 1], ["X-Forwarded-For"] = "10.77.0." .. (counter % 200 + 1) }
  local r = math.random(100)
  if r <= 80 then
    return wrk.format("GET", "/api/contacts?page=" .. math.random(pages), headers)
  end
  headers["Content-Type"] = "application/json"
  local contact = contacts[math.random(#contacts)]
  if r <= 90 then
    local phone = string.format("+55%02d9%08d", 30 + (tid or 1), (os.time() % 1000) * 10000 + counter % 10000)
    return wrk.format("POST", "/api/contacts", headers, '{"name":"Cliente novo","phone":"' .. phone .. '","tags":["mixed"]}')
  elseif r <= 95 then
    return wrk.format("PATCH", "/api/contacts/" .. contact, headers, '{"name":"Cliente ' .. counter .. '"}')
  end
  return wrk.format("POST", "/api/messages", headers, '{"contactId":"' .. contact .. '","channel":"WHATSAPP","content":"Oi, seu pedido saiu"}')
end

function done(summary, latency, requests)
  local h, m = 0, 0
  for _, thread in ipairs(threads) do
    h = h + thread:get("hits")
    m = m + thread:get("misses")
  end
  io.write(string.format("cache %d %d\n", h, m))
  for _, p in ipairs({ 50, 99 }) do
    io.write(string.format("percentile %d %.3f\n", p, latency:percentile(p) / 1000))
  end
end
