-- wrk script of bench/api.mjs: each request carries the next session token of
-- the list (BENCH_TOKENS_FILE, one per line), spreading the load over many
-- users so the per-user plan limit (ENTERPRISE: 10,000/min) never trips.
local tokens = {}
local index = 0

init = function(args)
  local file = assert(io.open(os.getenv("BENCH_TOKENS_FILE"), "r"))
  for line in file:lines() do
    if #line > 0 then tokens[#tokens + 1] = "Bearer " .. line end
  end
  file:close()
end

request = function()
  index = index % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = tokens[index] })
end
