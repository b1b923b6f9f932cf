-- wrk script for the proxy benchmark's POST case (scripts/bench.sh): every request is a POST
-- with the JSON body in the file $BENCH_POST_BODY (1 KiB). The Authorization header comes from
-- wrk's -H, as for the GET case.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local path = assert(os.getenv("BENCH_POST_BODY"), "BENCH_POST_BODY is not set")
local f = assert(io.open(path, "rb"))
wrk.body = f:read("*a")
f:close()
