-- wrk script of bench/api.py: POST one multipart photo per request, each with a distinct
-- valid ID number (a list written by bench/api.py) and the token of one of its users, in turn.
--   wrk -s bench/api_post.lua <url> -- <photo> <id numbers file> <tokens file> <with fields: 1|0>
--     <threads>
-- Counts the answers by status; done() prints "STATUS <code> <count>" lines for bench/api.py.

local boundary = "----facebench7f3a9c"
local threads = {}
local thread_count = 0

function setup(thread)
   thread_count = thread_count + 1
   thread:set("tid", thread_count)
   table.insert(threads, thread)
end

local function read_lines(path)
   local lines = {}
   for line in io.lines(path) do
      if line ~= "" then table.insert(lines, line) end
   end
   return lines
end

local function part(name, value)
   return "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name
      .. "\"\r\n\r\n" .. value .. "\r\n"
end

function init(args)
   local handle = assert(io.open(args[1], "rb"))
   local photo = handle:read("*a")
   handle:close()
   numbers = read_lines(args[2])
   tokens = read_lines(args[3])
   with_fields = args[4] == "1"
   thread_total = tonumber(args[5])
   statuses = {}
   sent = 0
   image_part = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"image\"; "
      .. "filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n" .. photo .. "\r\n--"
      .. boundary .. "--\r\n"
   path = wrk.path
   host = wrk.headers["Host"] or (wrk.host .. ":" .. wrk.port)
end

function request()
   -- Thread t takes numbers t, t + T, t + 2T, ...: distinct across threads and requests.
   local index = (sent * 16 + tid - 1) % #numbers + 1
   sent = sent + 1
   local fields = ""
   if with_fields then
      fields = part("idcard_number", numbers[index]) .. part("idcard_name", "张三")
         .. part("consent", "true")
   end
   -- Thread t takes users t, t + T, t + 2T, ... in turn (T threads): every user, and never
   -- one user in two threads at once. (By number index, each thread kept one user: four in
   -- all, not sixteen.)
   local token = tokens[((sent - 1) * thread_total + tid - 1) % #tokens + 1]
   -- The request in one concatenation: the photo is copied once per request for either
   -- endpoint. (fields .. image_part, then wrk.format, copied it twice for the API and
   -- once for the baseline, whose empty fields left image_part itself: 1.2 ms more of the
   -- load generator's CPU per API request, on the cores the server shares.)
   return "POST " .. path .. " HTTP/1.1\r\nHost: " .. host
      .. "\r\nAuthorization: Token " .. token
      .. "\r\nContent-Type: multipart/form-data; boundary=" .. boundary
      .. "\r\nContent-Length: " .. (#fields + #image_part) .. "\r\n\r\n"
      .. fields .. image_part
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local totals = {}
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses")
      for code, count in pairs(counts) do
         totals[code] = (totals[code] or 0) + count
      end
   end
   for code, count in pairs(totals) do
      io.write(string.format("STATUS %d %d\n", code, count))
   end
   io.write(string.format("P99_US %d\n", latency:percentile(99)))
end
