-- wrk script for POST /v1/orders: every request is a fresh paid order (bench/http.py runs it;
-- docs/benchmark.md explains the figures).
--
-- Its Idempotency-Key and order_ref are made of the run's tag, the wrk thread's number (given
-- in setup) and a counter of that thread, so no two requests collide, within a run or across
-- the runs of one benchmark. A collision would be a replay (answered from the stored answer, no
-- write) or a refusal, and would flatter or spoil the figures. Members are drawn at random from
-- a pool enrolled beforehand, so concurrent orders rarely lock the same member's rows.
--
-- Environment (read in each thread):
--   JIFEN_BENCH_KEY      the merchant's API key (sent as a bearer credential)
--   JIFEN_BENCH_MEMBERS  a file of member ids, one a line
--   JIFEN_BENCH_PAID_AT  paid_at for every order: ISO 8601 with a zone, near the server's now
--   JIFEN_BENCH_TAG      what makes this run's keys its own ([A-Za-z0-9._-], a few characters)
--
-- done() prints one line "JIFEN_WRK {json}": duration, requests, non-2xx answers by status,
-- socket errors and latency percentiles in microseconds.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("tid", #threads)
end

local function need(name)
   local value = os.getenv(name)
   if value == nil or value == "" then
      error(name .. " is not set")
   end
   return value
end

function init(args)
   tag = need("JIFEN_BENCH_TAG")
   paid_at = need("JIFEN_BENCH_PAID_AT")
   members = {}
   for line in io.lines(need("JIFEN_BENCH_MEMBERS")) do
      if #line > 0 then
         members[#members + 1] = line
      end
   end
   if #members == 0 then
      error("the member pool is empty")
   end
   headers = {
      ["Authorization"] = "Bearer " .. need("JIFEN_BENCH_KEY"),
      ["Content-Type"] = "application/json",
   }
   sent, non2xx, statuses, sample = 0, 0, {}, nil
   math.randomseed(tid * 7919)
end

function request()
   sent = sent + 1
   local order_ref = string.format("%s-%d-%d", tag, tid, sent)
   headers["Idempotency-Key"] = "bench-" .. order_ref
   local body = string.format(
      '{"order_ref":"%s","member_id":"%s","amount_fen":%d,"paid_at":"%s"}',
      order_ref, members[math.random(#members)], math.random(1000, 100000), paid_at
   )
   return wrk.format("POST", "/v1/orders", headers, body)
end

function response(status, _headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
      if sample == nil then
         sample = string.sub(body or "", 1, 300)
      end
   end
end

local function quote(text)
   local escaped = string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

function done(summary, latency, requests)
   local failed, by_status, sample_body = 0, {}, nil
   for _, thread in ipairs(threads) do
      failed = failed + (thread:get("non2xx") or 0)
      for status, n in pairs(thread:get("statuses") or {}) do
         by_status[status] = (by_status[status] or 0) + n
      end
      sample_body = sample_body or thread:get("sample")
   end
   local parts = {}
   for status, n in pairs(by_status) do
      parts[#parts + 1] = string.format('"%d":%d', status, n)
   end
   local e = summary.errors
   io.write(string.format(
      'JIFEN_WRK {"duration_us":%d,"requests":%d,"bytes":%d,"non2xx":%d,"non2xx_by_status":{%s},'
         .. '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"sample_non2xx":%s}\n',
      summary.duration, summary.requests, summary.bytes, failed, table.concat(parts, ","),
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean, sample_body and quote(sample_body) or "null"
   ))
end
