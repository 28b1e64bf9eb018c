-- wrk script for bench/gate.sh: each request carries the next signed-in user's session cookie
-- (round-robin over a file with one "Cookie" header value per line; none without a file), and
-- every answer that is not a 200 is counted: a gate that redirected or refused would otherwise
-- be measured as fast.
local cookies, i = {}, 0
local threads, all = 0, {}

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
  table.insert(all, thread)
end

function init(args)
  if args[1] then
    for line in io.lines(args[1]) do
      if #line > 0 then cookies[#cookies + 1] = line end
    end
  end
  i = #cookies > 0 and ((id or 1) * 7919) % #cookies or 0
  not_ok = 0
end

function request()
  if #cookies == 0 then return wrk.format(nil, nil) end
  i = i % #cookies + 1
  return wrk.format(nil, nil, { ["Cookie"] = cookies[i] })
end

function response(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(all) do total = total + (thread:get("not_ok") or 0) end
  io.write(string.format("Not 200: %d\n", total))
end
