-- Many pandoc conversions in one process: `pandoc lua batch.lua < request.json`.
--
-- A render parses every chapter, runs the book filter's chapter pass over them and writes every HTML page; as a
-- process each, that is about forty starts of the pandoc binary, which cost more than a chapter's parse does
-- (mapping the 160 MB binary: about 25 ms of system time each), and a JSON round trip of the book between the
-- parse and the chapter pass. The conversions here are pandoc's own readers, writers and filter runs, called as
-- the command line calls them, so each result is what the command line writes for the same input
-- (tests/test_render.py compares them).
--
-- Request (JSON on stdin), a list of jobs, each one of
--   {"chapter": TEXT, "source": NAME, "filter": PATH, "metadata_file": PATH, "metadata": {NAME: TEXT}}
--                                                      markdown -> pandoc JSON of the chapter after the filter, as
--       `pandoc -f json -t json --metadata-file PATH -M NAME=TEXT ... --lua-filter PATH` on the parsed chapter (its
--       YAML title put in front as a level-1 heading when it has none) inside a `book-chapter` div named `source`;
--       the chapters of a request go through the filter together, in one run, with the first one's filter and
--       metadata
--   {"write": JSON, "template": PATH, "variables": {NAME: TEXT}, "toc_depth": N or null}
--                                                      pandoc JSON -> standalone HTML5 page
-- Answer (JSON on stdout): a list of {"ok": TEXT} or {"error": MESSAGE, "step": "parse" or "filter"}, one per
-- job, in order.

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

local function metadata(job)
  -- as the command line reads a metadata file (YAML whose strings are markdown) and then its `-M` values
  local meta = pandoc.Meta({})
  if job.metadata_file then
    local file = assert(io.open(job.metadata_file, "rb"))
    meta = pandoc.read("---\n" .. file:read("a") .. "\n---\n", "markdown").meta
    file:close()
  end
  for name, value in pairs(job.metadata or {}) do
    meta[name] = value
  end
  return meta
end

local function chapters(items, answers)
  local divs, parsed = pandoc.Blocks({}), {}
  for _, item in ipairs(items) do
    local ok, doc = pcall(pandoc.read, item.job.chapter, "markdown")
    if ok then
      local blocks, title = doc.blocks, doc.meta.title
      if title and not (blocks[1] and blocks[1].t == "Header" and blocks[1].level == 1) then
        local inlines = pandoc.utils.type(title) == "Inlines" and title or { pandoc.Str(pandoc.utils.stringify(title)) }
        blocks:insert(1, pandoc.Header(1, inlines))
      end
      divs:insert(pandoc.Div(blocks, pandoc.Attr("", { "book-chapter" }, { source = item.job.source })))
      parsed[#parsed + 1] = item
    else
      answers[item.index] = { error = tostring(doc), step = "parse" }
    end
  end
  if #parsed == 0 then
    return
  end
  local first = parsed[1].job
  local ok, doc = pcall(pandoc.utils.run_lua_filter, pandoc.Pandoc(divs, metadata(first)), first.filter)
  if not ok then
    for _, item in ipairs(parsed) do
      answers[item.index] = { error = tostring(doc), step = "filter" }
    end
    return
  end
  local by_source = {}
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.classes:includes("book-chapter") then
      by_source[block.attributes["source"]] = block.content
    end
  end
  for _, item in ipairs(parsed) do
    local blocks = by_source[item.job.source]
    answers[item.index] = blocks and { ok = pandoc.write(pandoc.Pandoc(blocks), "json") }
      or { error = "the filter returned no chapter " .. item.job.source, step = "filter" }
  end
end

local answers, chapter_jobs = {}, {}
for i, job in ipairs(pandoc.json.decode(io.read("a"), false)) do
  if job.chapter ~= nil then
    chapter_jobs[#chapter_jobs + 1] = { index = i, job = job }
  else
    local ok, result = pcall(write, job)
    answers[i] = ok and { ok = result } or { error = tostring(result) }
  end
end
if #chapter_jobs > 0 then
  chapters(chapter_jobs, answers)
end
io.write(pandoc.json.encode(answers))
