-- Many pandoc conversions in one process: `pandoc lua batch.lua < request.json`.
--
-- A render parses every chapter and writes every HTML page; as a process each, that is about forty starts of
-- the pandoc binary, which cost more than a chapter's parse does (mapping the 160 MB binary: about 25 ms of
-- system time each). The conversions here are pandoc's own readers and writers, called as the command line
-- calls them, so each result is what `pandoc -f markdown -t json` or `pandoc -f json -t html5 --template ...`
-- writes for the same input (tests/test_render.py compares them).
--
-- Request (JSON on stdin), a list of jobs, each one of
--   {"read": TEXT}                                     markdown -> pandoc JSON
--   {"write": JSON, "template": PATH, "variables": {NAME: TEXT}, "toc_depth": N or null}
--                                                      pandoc JSON -> standalone HTML5 page
-- Answer (JSON on stdout): a list of {"ok": TEXT} or {"error": MESSAGE}, one per job, in order.

local function read(job)
  return pandoc.write(pandoc.read(job.read, "markdown"), "json") .. "\n"  -- as the command line ends JSON
end

local templates = {}

local function write(job)
  local template = templates[job.template]
  if template == nil then
    local file = assert(io.open(job.template, "rb"))
    template = pandoc.template.compile(file:read("a"), job.template)
    file:close()
    templates[job.template] = template
  end
  local options = { template = template, variables = job.variables }
  if job.toc_depth ~= nil and job.toc_depth ~= pandoc.json.null then
    options.table_of_contents = true
    options.toc_depth = job.toc_depth
  end
  return pandoc.write(pandoc.read(job.write, "json"), "html5", options)
end

local answers = {}
for i, job in ipairs(pandoc.json.decode(io.read("a"), false)) do
  local ok, result = pcall(job.read ~= nil and read or write, job)
  answers[i] = ok and { ok = result } or { error = tostring(result) }
end
io.write(pandoc.json.encode(answers))
