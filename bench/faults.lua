-- wrk script for bench/faults.sh: signed-in GET /profile and GET /api/me in turn, each request
-- carrying the next user's session cookie (round-robin over a file with one "Cookie" header value
-- per line; each wrk thread starts at its own offset).
local cookies, i = {}, 0
local threads = 0
local paths = { "/profile", "/api/me" }

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
  i = ((id or 1) * 7919) % #cookies
end

function request()
  i = i % #cookies + 1
  return wrk.format("GET", paths[i % 2 + 1], { ["Cookie"] = cookies[i] })
end
