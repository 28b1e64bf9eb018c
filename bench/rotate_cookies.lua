-- wrk script: each request carries the next signed-in user's session cookie, round-robin over a
-- file with one "Cookie" header value per line. Each wrk thread starts at its own offset.
-- An optional second argument, comma-separated paths, takes them in turn instead of wrk's URL path:
--   wrk -s bench/rotate_cookies.lua URL -- cookies.txt /profile,/api/me
local cookies, paths, i = {}, nil, 0
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then cookies[#cookies + 1] = line end
  end
  i = ((id or 1) * 7919) % #cookies
  if args[2] then
    paths = {}
    for path in string.gmatch(args[2], "[^,]+") do paths[#paths + 1] = path end
  end
end

function request()
  i = i % #cookies + 1
  return wrk.format(nil, paths and paths[i % #paths + 1], { ["Cookie"] = cookies[i] })
end
