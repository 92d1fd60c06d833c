--[[
Book filter of the re-created study, used by `clusterkrise.render` (pandoc + typst) and listed under
`filters:` in _quarto.yml, so both engines run it.

Engines: under Quarto (the global `quarto` exists) Quarto itself numbers sections, figures and tables,
resolves cross-references, draws callouts and margin notes, and renders one chapter file at a time;
the filter then only adds what Quarto does not do (notes pages, reading lists, block colours). Under
the embedded renderer the filter sees the whole book at once and does all of it.

It turns the project's markdown conventions into output that works for HTML and Typst alike: it emits
format-neutral AST plus raw blocks for both formats, and each writer drops the raw blocks that are not
its own. That way one filtered AST serves both outputs and the numbering cannot diverge between them.

  ::: {.notes-page chapter="07"} :::    page for the reader's notes (PDF: own page with ruled lines;
                                 HTML: box); the question comes from data/notes_prompts.yaml
                                 (`notes-prompts:` in the metadata) unless the div holds it
  ::: {.reading-list chapter="03"} :::   "Weiterführende Literatur", from data/reading_lists.yaml
  [Text]{.aside}, ::: {.column-margin}   margin note (PDF margin, HTML <aside>)
  # Titel {block="rot"}         colour code of the study's blocks (see block-colours in _quarto.yml)
  ![Caption](f.png){#fig-abb-16 fig-alt="..."}, ::: {#tbl-tab-05} table :::
                                 captions "Abb. 16: ..." / "Tab. 5: ..."; the number comes from the
                                 label when it carries one, else continues from the previous one
  @fig-abb-16, @tbl-tab-05, @sec-x      cross-references ("Abb. 16"); an unknown label is printed as
                                 "?@label" with a warning naming file and label (the embedded renderer
                                 turns that warning into an error, as it does for unknown citations)

Errors are raised with error(), which makes pandoc fail; the renderer reports the message.
]]

-- Quarto defines the global `quarto` (quarto.doc, quarto.log) for the filters it runs.
local UNDER_QUARTO = type(quarto) == "table" and quarto.doc ~= nil

local stringify = pandoc.utils.stringify

local DEFAULT_PREFIX = { fig = "Abb.", tbl = "Tab.", sec = "Kap." }
local NOTES_TITLE = "Notizen:"
local READING_TITLE = "Weiterführende Literatur"
local NBSP = "\u{00A0}"

local config = {
  prefix = {},
  colours = {},
  reading_lists_path = nil,
  notes_prompts_path = nil,
  meta = nil,
}

-- key -> language of a bibliography entry (defined with the language helpers below)
local language_of

-- Everything the later passes look up: label -> {kind, number, text}
local labels = {}

-- source file of the chapter being walked (the renderer wraps chapters in divs with a `source`
-- attribute), so that errors name the file to fix
local current_source = nil

local function fail(msg)
  local where = current_source and (" (in " .. current_source .. ")") or ""
  error("book.lua: " .. msg .. where, 0)
end

local function source_name()
  if current_source then
    return current_source
  end
  if UNDER_QUARTO and quarto.doc.input_file then
    return quarto.doc.input_file
  end
  return PANDOC_STATE and PANDOC_STATE.input_files and PANDOC_STATE.input_files[1] or "(stdin)"
end

local function warn(msg)
  local text = "book.lua: warning: " .. msg .. " (in " .. source_name() .. ")"
  if UNDER_QUARTO and quarto.log and quarto.log.warning then
    quarto.log.warning(text)
  else
    io.stderr:write("[WARNING] " .. text .. "\n")
  end
end

local function track_chapter(div)
  if div.classes:includes("book-chapter") and div.attributes["source"] then
    current_source = div.attributes["source"]
  end
end

local function file_exists(path)
  local fh = io.open(path, "r")
  if fh then
    fh:close()
    return true
  end
  return false
end

local function project_path(rel)
  -- The embedded renderer runs the filter from the project root with paths relative to it. Quarto
  -- rewrites project-relative metadata paths relative to the chapter's folder ("../data/x.yaml" for
  -- chapters/) and runs filters from a folder of its own, so look beside the chapter, then in the
  -- project root.
  if rel:sub(1, 1) == "/" or not UNDER_QUARTO then
    return rel
  end
  local candidates = {}
  if quarto.doc.input_file then
    table.insert(candidates, pandoc.path.join({ pandoc.path.directory(quarto.doc.input_file), rel }))
  end
  if quarto.project and quarto.project.directory then
    table.insert(candidates, pandoc.path.join({ quarto.project.directory, rel }))
  end
  for _, path in ipairs(candidates) do
    if file_exists(path) then
      return pandoc.path.normalize(path)
    end
  end
  return candidates[1] or rel
end

local function read_meta(meta)
  config.meta = meta
  local crossref = meta.crossref or {}
  for kind, default in pairs(DEFAULT_PREFIX) do
    local value = crossref[kind .. "-prefix"]
    config.prefix[kind] = value and stringify(value) or default
  end
  if meta["block-colours"] then
    for name, value in pairs(meta["block-colours"]) do
      config.colours[name] = stringify(value)
    end
  end
  if meta["notes-prompts"] then
    config.notes_prompts_path = project_path(stringify(meta["notes-prompts"]))
  end
  if meta["reading-lists"] then
    config.reading_lists_path = project_path(stringify(meta["reading-lists"]))
  end
end

local yaml_cache = {}

local function load_yaml(path)
  if yaml_cache[path] then
    return yaml_cache[path]
  end
  local fh, err = io.open(path, "r")
  if not fh then
    fail("cannot open data file " .. path .. " (" .. tostring(err) .. ")")
  end
  local text = fh:read("a")
  fh:close()
  -- pandoc parses YAML only as document metadata, so wrap the file as a front matter block
  yaml_cache[path] = pandoc.read("---\n" .. text .. "\n---\n", "markdown").meta
  return yaml_cache[path]
end

------------------------------------------------------------------------------------------------
-- Margin notes

local function aside_blocks(content)
  -- <aside> may not sit inside <p>, and a Typst margin note is placed at the current flow position,
  -- so every margin note becomes a block in front of the paragraph it belongs to.
  local out = pandoc.List({
    pandoc.RawBlock("html", '<aside class="margin-note">'),
    pandoc.RawBlock("typst", "#margin-note["),
  })
  out:extend(content)
  out:extend({ pandoc.RawBlock("typst", "]"), pandoc.RawBlock("html", "</aside>") })
  return out
end

local function is_aside_span(el)
  return el.t == "Span" and (el.classes:includes("aside") or el.classes:includes("column-margin"))
end

local function raw_text(inlines, format)
  return pandoc.write(pandoc.Pandoc({ pandoc.Plain(inlines) }), format):gsub("%s+$", "")
end

local function lift_asides(block)
  -- An inline note becomes, for HTML, an <aside> block in front of its paragraph; for Typst, a call
  -- at the start of the paragraph itself, so the note is placed beside the paragraph's first line
  -- and cannot be left at the foot of a page while its paragraph starts on the next one.
  local html_notes = pandoc.List()
  local typst_notes = pandoc.List()
  local kept = pandoc.List()
  for _, inline in ipairs(block.content) do
    if is_aside_span(inline) then
      html_notes:insert(pandoc.RawBlock("html", '<aside class="margin-note">' .. raw_text(inline.content, "html") .. "</aside>"))
      typst_notes:insert(pandoc.RawInline("typst", "#margin-note[" .. raw_text(inline.content, "typst") .. "]"))
      -- drop the space that separated the note from the preceding word
      if #kept > 0 and kept[#kept].t == "Space" then
        kept:remove(#kept)
      end
    else
      kept:insert(inline)
    end
  end
  if #html_notes == 0 then
    return nil
  end
  while #kept > 0 and (kept[1].t == "Space" or kept[1].t == "SoftBreak") do
    kept:remove(1)
  end
  if #kept == 0 then
    -- a paragraph that is only a note: the note as a block of its own
    local out = html_notes
    out:insert(pandoc.RawBlock("typst", table.concat(typst_notes:map(function(r) return r.text end), "\n")))
    return out
  end
  typst_notes:extend(kept)
  block.content = typst_notes
  html_notes:insert(block)
  return html_notes
end

local asides = {
  Para = lift_asides,
  Plain = lift_asides,
  Div = function(div)
    if div.classes:includes("column-margin") or div.classes:includes("aside") then
      return aside_blocks(div.content)
    end
  end,
}

------------------------------------------------------------------------------------------------
-- Notes pages

local function notes_question(div)
  if stringify(div.content) ~= "" then
    return div.content
  end
  local chapter = div.attributes["chapter"]
  if not chapter or not config.notes_prompts_path then
    fail('a .notes-page div needs the question as content, or chapter="NN" and `notes-prompts:` in the metadata')
  end
  local question = load_yaml(config.notes_prompts_path)[chapter]
  if not question then
    fail("no notes question for chapter " .. chapter .. " in " .. config.notes_prompts_path)
  end
  return { pandoc.Para(question) }
end

local function notes_page(div)
  local body = pandoc.List({ pandoc.Para({ pandoc.Strong({ pandoc.Str(NOTES_TITLE) }) }) })
  body:extend(notes_question(div))
  local out = pandoc.List({ pandoc.RawBlock("typst", "#notes-page[") })
  out:insert(pandoc.Div(body, pandoc.Attr(div.identifier, { "notes-page" })))
  out:insert(pandoc.RawBlock("typst", "]"))
  return out
end

------------------------------------------------------------------------------------------------
-- Reading lists

local function load_reading_lists()
  if not config.reading_lists_path then
    fail("a .reading-list div needs `reading-lists:` (path of the grouping data) in the metadata")
  end
  return load_yaml(config.reading_lists_path)
end

local all_entries = nil

local function formatted_entries()
  -- Let citeproc format the entries with the book's own bibliography and style, so a reading list
  -- looks exactly like the bibliography chapter: every entry of the bibliography at once (`nocite: @*`,
  -- as the bibliography chapter lists them), once per pandoc run -- a citeproc run per topic read the
  -- bibliography and the style again each time (16 ms each; all entries at once take about as long).
  if all_entries then
    return all_entries
  end
  local meta = pandoc.Meta({})
  for _, field in ipairs({ "bibliography", "csl", "lang", "references", "citation-style" }) do
    if config.meta[field] then
      meta[field] = config.meta[field]
    end
  end
  meta.nocite = pandoc.MetaInlines({ pandoc.Cite({ pandoc.Str("@*") }, { pandoc.Citation("*", "NormalCitation") }) })
  local result = pandoc.utils.citeproc(pandoc.Pandoc({}, meta))
  all_entries = {}
  result.blocks:walk({
    Div = function(div)
      local key = div.identifier:match("^ref%-(.+)$")
      if key then
        local lang = language_of(key)
        all_entries[key] = lang and { pandoc.Div(div.content, pandoc.Attr("", {}, { lang = lang })) } or div.content
      end
    end,
  })
  return all_entries
end

local reading_list_formatted

local function reading_list(div)
  -- a reading list depends on its chapter's keys, the grouping data, the bibliography and the style, not on
  -- the prose around it: with `citeproc-memo` the last render's list is reused (no citeproc run when all are)
  if not config.memo then
    return reading_list_formatted(div)
  end
  local path = config.memo .. "-" .. pandoc.utils.sha1(div.identifier .. "\0" .. (div.attributes["chapter"] or "")) .. ".list"
  local file = io.open(path, "r")
  if file then
    local stored = pandoc.read(file:read("a"), "json")
    file:close()
    return stored.blocks
  end
  local blocks = reading_list_formatted(div)
  local out = io.open(path .. ".tmp", "w")
  if out then
    out:write(pandoc.write(pandoc.Pandoc(blocks), "json"))
    out:close()
    os.rename(path .. ".tmp", path)
  end
  return blocks
end

reading_list_formatted = function(div)
  local chapter = div.attributes["chapter"]
  if not chapter or chapter == "" then
    fail('a .reading-list div needs a chapter attribute, e.g. chapter="03"')
  end
  local lists = load_reading_lists()
  local topics = lists[chapter]
  if not topics then
    fail("no reading list for chapter " .. chapter .. " in " .. config.reading_lists_path)
  end
  local out = pandoc.List({
    pandoc.Header(2, { pandoc.Str(READING_TITLE) }, pandoc.Attr("", { "unnumbered", "unlisted", "reading-list-title" })),
  })
  for _, topic in ipairs(topics) do
    local keys = {}
    for _, key in ipairs(topic.keys or {}) do
      table.insert(keys, stringify(key))
    end
    if #keys == 0 then
      fail("reading list of chapter " .. chapter .. " has a topic without keys")
    end
    local entries = formatted_entries()
    local items = pandoc.List()
    for _, key in ipairs(keys) do
      if not entries[key] then
        fail("reading list of chapter " .. chapter .. ": key '" .. key .. "' is not in the bibliography")
      end
      items:insert(entries[key])
    end
    out:insert(pandoc.Header(3, topic.topic, pandoc.Attr("", { "unnumbered", "unlisted", "reading-list-topic" })))
    out:insert(pandoc.BulletList(items))
  end
  return { pandoc.Div(out, pandoc.Attr(div.identifier, { "reading-list" }, { chapter = chapter })) }
end

------------------------------------------------------------------------------------------------
-- Numbering: sections, figures, tables

local counters = { fig = { last = 0, used = {} }, tbl = { last = 0, used = {} } }
local sections = { 0, 0, 0 }
local chapter_colour = nil

local function take_number(kind, id)
  local c = counters[kind]
  local explicit = id and id:match("^" .. kind .. "%-%a+%-(%d+)$")
  local n = explicit and tonumber(explicit) or (c.last + 1)
  if c.used[n] then
    fail(string.format("%s %d is numbered twice (second time by '%s')", config.prefix[kind], n, id or "?"))
  end
  c.used[n] = true
  c.last = n
  return n
end

local function register(id, kind, text)
  if id == nil or id == "" then
    return
  end
  if labels[id] then
    fail("label '" .. id .. "' is defined twice")
  end
  labels[id] = { kind = kind, text = text }
end

local function prefix_caption(caption, label_text)
  -- caption.long is a list of blocks; prepend "Abb. 16: " to the first one
  local lead = { pandoc.Str(label_text .. ":"), pandoc.Space() }
  if #caption.long == 0 then
    caption.long = { pandoc.Plain(lead) }
  else
    local first = caption.long[1]
    if first.content then
      local inlines = pandoc.List(lead)
      inlines:extend(first.content)
      first.content = inlines
    else
      table.insert(caption.long, 1, pandoc.Plain(lead))
    end
  end
  return caption
end

local function number_figure(fig, kind)
  local n = take_number(kind, fig.identifier)
  local text = config.prefix[kind] .. NBSP .. tostring(n)
  register(fig.identifier, kind, text)
  fig.caption = prefix_caption(fig.caption, text)
  return fig
end

local function fix_image_alt(img)
  local alt = img.attributes["fig-alt"]
  if alt then
    img.caption = pandoc.Inlines({ pandoc.Str(alt) })
    img.attributes["fig-alt"] = nil
  end
  if stringify(img.caption) == "" then
    fail("image '" .. img.src .. "' has no alt text (add a caption or fig-alt)")
  end
  return img
end

local function colour_of(name)
  local colour = config.colours[name]
  if not colour then
    fail("unknown block colour '" .. name .. "' (known: see block-colours in _quarto.yml)")
  end
  return colour
end

-- Block colour of a heading (its own, else its chapter's): an HTML style and a Typst state update.
local function with_colour(h)
  local own = h.attributes["block"]
  local colour
  if own then
    colour = colour_of(own)
    h.classes:insert("block-" .. own)
    h.attributes["block"] = nil
    h.attributes["style"] = "--accent: " .. colour
  end
  if h.level == 1 then
    chapter_colour = colour
  end
  colour = colour or (h.level > 1 and chapter_colour) or nil
  local typst_colour = colour and ('rgb("' .. colour .. '")') or "none"
  return { pandoc.RawBlock("typst", "#accent.update(" .. typst_colour .. ")"), h }
end

local function number_header(h)
  local numbered = not (h.classes:includes("unnumbered") or h.classes:includes("unlisted"))
  if h.level <= 3 and numbered then
    sections[h.level] = sections[h.level] + 1
    for l = h.level + 1, 3 do
      sections[l] = 0
    end
    local parts = {}
    for l = 1, h.level do
      table.insert(parts, tostring(sections[l]))
    end
    local number = table.concat(parts, ".")
    h.attributes["number"] = number
    local content = pandoc.List({ pandoc.Span({ pandoc.Str(number) }, pandoc.Attr("", { "header-section-number" })), pandoc.Space() })
    content:extend(h.content)
    register(h.identifier:match("^sec%-") and h.identifier or nil, "sec", config.prefix.sec .. NBSP .. number)
    h.content = content
  elseif h.identifier:match("^sec%-") then
    register(h.identifier, "sec", stringify(h.content))
  end

  return with_colour(h)
end

-- Under Quarto: continuous numbering through the book. Quarto renders a book's HTML one chapter at
-- a time and restarts figure and table numbers in every file, whatever `crossref: chapters` says.
-- So the filter works out where this chapter's numbers start (the same rule as numbering_pass: the
-- number a label carries, else one more than the last) from the chapters before it, and starts
-- Quarto's counters there. Quarto exposes its crossref state to filters as _G.crossref.

local function read_text(path)
  local fh = io.open(path, "r")
  if not fh then
    return nil
  end
  local text = fh:read("a")
  fh:close()
  return text
end

-- labels of figures and tables in a chapter source, in order: `{#fig-x}` and `{{< embed nb#tbl-y >}}`
local function source_labels(text)
  text = text:gsub("\n```.-\n```", "\n") -- not inside code blocks
  local out = {}
  for label in text:gmatch("#((%a%a%a)%-[%w%-]+)") do
    local kind = label:sub(1, 3)
    if kind == "fig" or kind == "tbl" then
      table.insert(out, label)
    end
  end
  return out
end

local function quarto_start_numbers()
  local dir = quarto.project and quarto.project.directory
  local input = quarto.doc.input_file
  if not dir or not input then
    return nil
  end
  local config_text = read_text(pandoc.path.join({ dir, "_quarto.yml" }))
  local book = config_text and pandoc.read("---\n" .. config_text .. "\n---\n", "markdown").meta.book
  if not book or not book.chapters then
    return nil
  end
  local current = pandoc.path.normalize(pandoc.path.make_relative(input, dir))
  local last = { fig = 0, tbl = 0 }
  -- the appendices continue the count of the chapters, as in the embedded book
  local entries = {}
  for _, entry in ipairs(book.chapters) do
    table.insert(entries, entry)
  end
  for _, entry in ipairs(book.appendices or {}) do
    table.insert(entries, entry)
  end
  for _, entry in ipairs(entries) do
    local rel = pandoc.path.normalize(stringify(entry))
    if rel == current then
      return { fig = last.fig + 1, tbl = last.tbl + 1 }
    end
    for _, label in ipairs(source_labels(read_text(pandoc.path.join({ dir, rel })) or "")) do
      local kind = label:sub(1, 3)
      local explicit = label:match("^" .. kind .. "%-%a+%-(%d+)$")
      last[kind] = explicit and tonumber(explicit) or (last[kind] + 1)
    end
  end
  return nil -- a file that is not a chapter (e.g. the merged single-file book): Quarto counts it whole
end

local function seed_quarto_numbering()
  local starts = quarto_start_numbers()
  local crossref = _G and _G.crossref
  if not starts then
    return
  end
  if not (crossref and crossref.index and crossref.index.nextOrder) then
    warn("cannot continue figure numbers from the previous chapter (Quarto's crossref state not found)")
    return
  end
  -- check that Quarto's count (one after another) agrees with the numbers this chapter's labels carry
  local next_number = { fig = starts.fig, tbl = starts.tbl }
  for _, label in ipairs(source_labels(read_text(quarto.doc.input_file) or "")) do
    local kind = label:sub(1, 3)
    local explicit = label:match("^" .. kind .. "%-%a+%-(%d+)$")
    if explicit and tonumber(explicit) ~= next_number[kind] then
      warn(string.format("label '%s' carries number %s but Quarto counts it %d (number labels in book order, without gaps)",
        label, explicit, next_number[kind]))
    end
    next_number[kind] = next_number[kind] + 1
  end
  for kind, n in pairs(starts) do
    crossref.index.nextOrder[kind] = n
  end
end

-- Under Quarto: headers keep Quarto's numbering; the filter adds only the block colour.
local function colour_pass(doc)
  return doc:walk({ Header = with_colour })
end

local function numbering_pass(doc)
  return doc:walk({
    traverse = "topdown",
    Header = number_header,
    Figure = function(fig)
      local kind = fig.identifier:match("^tbl%-") and "tbl" or "fig"
      return number_figure(fig, kind)
    end,
    Div = function(div)
      track_chapter(div)
      if div.identifier:match("^tbl%-") then
        local tables = 0
        div = div:walk({
          Table = function(tbl)
            tables = tables + 1
            local n = take_number("tbl", div.identifier)
            local text = config.prefix.tbl .. NBSP .. tostring(n)
            register(div.identifier, "tbl", text)
            tbl.caption = prefix_caption(tbl.caption, text)
            return tbl
          end,
        })
        if tables ~= 1 then
          fail("div '" .. div.identifier .. "' has a tbl- label and " .. tables .. " tables (needs exactly one)")
        end
        -- stop here: the walk above already numbered the table inside
        return div, false
      end
    end,
    Table = function(tbl)
      return number_figure(tbl, "tbl")
    end,
    Image = fix_image_alt,
  })
end

------------------------------------------------------------------------------------------------
-- Cross-references

local function is_crossref(id)
  return id:match("^fig%-") or id:match("^tbl%-") or id:match("^sec%-")
end

local crossrefs = {
  Cite = function(cite)
    local refs, others = 0, 0
    for _, c in ipairs(cite.citations) do
      if is_crossref(c.id) then
        refs = refs + 1
      else
        others = others + 1
      end
    end
    if refs == 0 then
      return nil
    end
    if others > 0 then
      fail("citation mixes cross-references and literature: " .. stringify(cite.content))
    end
    local out = pandoc.List()
    for i, c in ipairs(cite.citations) do
      local target = labels[c.id]
      if i > 1 then
        out:extend({ pandoc.Str(","), pandoc.Space() })
      end
      out:extend(c.prefix)
      if target then
        out:insert(pandoc.Link({ pandoc.Str(target.text) }, "#" .. c.id, "", pandoc.Attr("", { "xref" })))
      else
        -- Quarto's own marker for a reference it cannot resolve; never a crash
        warn("unresolved cross-reference @" .. c.id)
        out:insert(pandoc.Strong({ pandoc.Str("?@" .. c.id) }))
      end
      out:extend(c.suffix)
    end
    return out
  end,
}

------------------------------------------------------------------------------------------------

------------------------------------------------------------------------------------------------
-- Callouts (Quarto's ::: {.callout-note title="..."}): a framed box with its title in bold, so the
-- notes on contradictions in the study read the same in both formats.

-- A box with fewer characters than this stays on one page (about a third of a page of text);
-- a longer one may break, since an unbreakable box taller than the space left leaves a gap.
local SHORT_BOX_CHARS = 900

local function callout(div)
  local kind
  for _, cls in ipairs(div.classes) do
    if cls:match("^callout%-") then
      kind = cls:gsub("^callout%-", "")
    end
  end
  local body = pandoc.List()
  local title = div.attributes["title"]
  if title and title ~= "" then
    body:insert(pandoc.Para({ pandoc.Strong({ pandoc.Str(title) }) }))
  end
  body:extend(div.content)
  local short = utf8.len(stringify(body)) < SHORT_BOX_CHARS
  local out = pandoc.List({ pandoc.RawBlock("typst", "#callout-box(breakable: " .. (short and "false" or "true") .. ")[") })
  out:insert(pandoc.Div(body, pandoc.Attr(div.identifier, { "callout", "callout-" .. (kind or "note") })))
  out:insert(pandoc.RawBlock("typst", "]"))
  return out
end

------------------------------------------------------------------------------------------------
-- Languages: pandoc's Typst writer sets `lang` for a Div but drops it on a Span, so an English
-- title in German prose ([Beyond Remote]{lang=en}) would hyphenate by German rules. The span is
-- wrapped in text(lang: ...) for Typst; HTML keeps its lang attribute.

local function lang_span(span)
  local lang = span.attributes["lang"]
  if not lang or lang == "" then
    return nil
  end
  local out = pandoc.List({ pandoc.RawInline("typst", '#text(lang: "' .. lang:match("^(%a+)") .. '")[') })
  out:insert(span)
  out:insert(pandoc.RawInline("typst", "]"))
  return out
end

-- Bibliography entries in the language of their work (biblatex `langid`, CSL `language`): citeproc
-- writes one Div per entry (id "ref-<key>"); giving it a lang attribute makes Typst hyphenate an
-- English title by English rules and HTML announce it to screen readers.
local entry_language = nil

language_of = function(key)
  if entry_language == nil then
    entry_language = {}
    if config.meta then
      for _, ref in ipairs(pandoc.utils.references(pandoc.Pandoc({}, config.meta))) do
        local lang = ref.language and stringify(ref.language) or ""
        if lang ~= "" then
          entry_language[ref.id] = lang:match("^(%a+)"):lower()
        end
      end
    end
  end
  return entry_language[key]
end

local function entry_lang(div)
  local key = div.identifier:match("^ref%-(.+)$")
  local lang = key and language_of(key)
  if lang and not div.attributes["lang"] then
    div.attributes["lang"] = lang
    return div
  end
end

------------------------------------------------------------------------------------------------
-- Numbered items in a table cell ("(1) ... (2) ..."), written on one Markdown line by a notebook,
-- are set one per line, so the items of a cell do not run together.

local function split_numbered_items(cell_blocks)
  return cell_blocks:walk({
    Inlines = function(inlines)
      local out = pandoc.List()
      local expected = 2
      for i, el in ipairs(inlines) do
        if el.t == "Str" and el.text == "(" .. expected .. ")" and i > 1 then
          while #out > 0 and (out[#out].t == "Space" or out[#out].t == "SoftBreak") do
            out:remove(#out)
          end
          out:insert(pandoc.LineBreak())
          expected = expected + 1
        elseif el.t == "Str" and el.text == "(1)" then
          expected = 2
        end
        out:insert(el)
      end
      return out
    end,
  })
end

-- A table whose cells are all short (numbers, labels) gets column widths from its longest word
-- per column (header words count a little wider: they are bold) instead of the relative widths of
-- its Markdown source, which can leave a column too narrow for an unhyphenated header word
-- ("Spitzencluster") beside columns far too wide for their numbers.
local SHORT_CELL_CHARS = 40
local BOLD_WIDTH = 1.15
local MIN_WORD = 3

local function longest_word(text)
  local longest = 0
  for word in text:gmatch("[^%s]+") do
    for part in (word .. "-"):gmatch("([^-]*%-)") do -- a hyphenated word may break after a hyphen
      longest = math.max(longest, utf8.len(part) or #part)
    end
  end
  return longest
end

local function short_table_widths(tbl)
  local longest_cell = 0
  local widths = {}
  local function rows_of(rows, factor)
    for _, row in ipairs(rows) do
      for col, cell in ipairs(row.cells) do
        local text = stringify(cell.contents)
        longest_cell = math.max(longest_cell, utf8.len(text) or #text)
        widths[col] = math.max(widths[col] or MIN_WORD, longest_word(text) * factor)
      end
    end
  end
  rows_of(tbl.head.rows, BOLD_WIDTH)
  for _, body in ipairs(tbl.bodies) do
    rows_of(body.body, 1)
  end
  if longest_cell >= SHORT_CELL_CHARS or #widths ~= #tbl.colspecs then
    return nil
  end
  local total = 0
  for _, w in ipairs(widths) do
    total = total + w
  end
  for i, w in ipairs(widths) do
    widths[i] = w / total
  end
  return widths
end

local function table_cells(tbl)
  local widths = short_table_widths(tbl)
  if widths then
    for i, spec in ipairs(tbl.colspecs) do
      tbl.colspecs[i] = { spec[1], widths[i] }
    end
  end
  local function each_row(rows)
    for _, row in ipairs(rows) do
      for _, cell in ipairs(row.cells) do
        cell.contents = split_numbered_items(cell.contents)
      end
    end
  end
  for _, body in ipairs(tbl.bodies) do
    each_row(body.body)
  end
  return tbl
end

-- The embedded renderer runs the filter in two passes (metadata `book-pass`): "chapter" does what
-- depends on one chapter alone (notes pages, reading lists, callouts, tables, languages, margin notes),
-- so its result can be kept per chapter (filters/batch.lua runs it right after the parse); "book" does
-- what needs the whole book (numbering, cross-references, citeproc). Without the key (Quarto, or one
-- run) the filter does both over the whole document, in this order. With `book-output=pdf` the book pass
-- returns the PDF's document instead (see pdf_document), for the Typst writer in the same pandoc run.
local function chapter_pass(doc)
  doc = doc:walk({ traverse = "topdown", Div = function(div)
    track_chapter(div)
    -- `false`: the generated blocks need no second look
    if div.classes:includes("notes-page") then
      return notes_page(div), false
    elseif div.classes:includes("reading-list") then
      return reading_list(div), false
    elseif not UNDER_QUARTO and div.classes:find_if(function(c) return c:match("^callout%-") end) then
      return callout(div)
    end
  end })
  current_source = nil
  doc = doc:walk({ Table = table_cells, Span = lang_span })
  if UNDER_QUARTO then
    return doc
  end
  doc = doc:walk(asides)
  current_source = nil
  return doc
end

-- Citeproc's result depends on the citations in book order, the bibliography, the style and the language,
-- not on the prose between them: after a prose edit the book has the citations of the last render, and the
-- renderer passes `citeproc-memo` (a file name holding a digest of the bibliography, style and metadata) to
-- reuse that render's formatted citations and bibliography (`#refs`) instead of running citeproc again.
local function cites_of(doc)
  local cites = {}
  doc:walk({ Cite = function(cite)
    cites[#cites + 1] = cite
  end })
  return cites
end

local function refs_div(doc)
  local found = nil
  doc:walk({ Div = function(div)
    if div.identifier == "refs" and not found then
      found = div
    end
  end })
  return found
end

local function citeproc_memoised(doc, memo)
  local cites = cites_of(doc)
  if not refs_div(doc) then
    return pandoc.utils.citeproc(doc)
  end
  local key = pandoc.utils.sha1(memo .. "\0" .. pandoc.write(pandoc.Pandoc({ pandoc.Plain(cites) }, doc.meta), "json"))
  local path = memo .. "-" .. key .. ".citeproc"
  local file = io.open(path, "r")
  if file then
    local stored = pandoc.read(file:read("a"), "json")
    file:close()
    local done, refs = stored.blocks[1].content, stored.blocks[2]
    local i = 0
    doc = doc:walk({ Cite = function()
      i = i + 1
      return done[i]
    end })
    if i == #done then
      return doc:walk({ Div = function(div)
        if div.identifier == "refs" then
          return refs
        end
      end })
    end
    -- not the citations it was stored for (cannot happen with an equal key): format them afresh
  end
  doc = pandoc.utils.citeproc(doc)
  local done = cites_of(doc)
  if #done == #cites and refs_div(doc) then
    -- a name of its own: the PDF's pandoc run may store the same result at the same moment
    local tmp = path .. "." .. pandoc.utils.sha1(tostring({}) .. os.clock()) .. ".tmp"
    local out = io.open(tmp, "w")
    if out then
      out:write(pandoc.write(pandoc.Pandoc({ pandoc.Plain(done), refs_div(doc) }), "json"))
      out:close()
      os.rename(tmp, path)
    end
  end
  return doc
end

-- The PDF's document (`book-output=pdf`: the embedded renderer's pandoc run that writes the Typst source, beside
-- the one whose JSON makes the HTML pages): the chapters' blocks one after another, the imprint chapter's text
-- without its heading as metadata (the template sets it on the imprint page), and every link to an anchor
-- pointed inside the PDF, or turned into its text when the PDF holds no such anchor (a link to a page of the
-- HTML edition only).
local IMPRINT_STEM = "imprint" -- chapters/imprint.qmd: on the imprint page, not a chapter of its own
local ANCHORED = { "Div", "Span", "Figure", "Table", "CodeBlock", "Code", "Image", "Link", "Header" }

local function pdf_document(doc)
  local blocks, imprint = pandoc.Blocks({}), pandoc.Blocks({})
  for _, block in ipairs(doc.blocks) do
    if block.t == "Div" and block.classes:includes("book-chapter") then
      local stem = (block.attributes["source"] or ""):match("([^/]*)$"):gsub("%.[^.]*$", "")
      if stem == IMPRINT_STEM then
        for _, b in ipairs(block.content) do
          if not (b.t == "Header" and b.level == 1) then
            imprint:insert(b)
          end
        end
      else
        blocks:extend(block.content)
      end
    else -- what citeproc added after the chapters
      blocks:insert(block)
    end
  end
  doc.blocks = blocks
  doc.meta.imprint = pandoc.MetaBlocks(imprint)
  local ids, collect = {}, {}
  for _, kind in ipairs(ANCHORED) do
    collect[kind] = function(el)
      if el.identifier ~= "" then
        ids[el.identifier] = true
      end
    end
  end
  doc:walk(collect)
  return doc:walk({ Link = function(link)
    local page, anchor = link.target:match("^([^#]*)#(.*)$")
    if page == nil or page:match("^%a[%w+.-]*:") then
      return nil -- an outside address, or no anchor at all
    end
    if ids[anchor] then
      link.target = "#" .. anchor
      return link
    end
    return pandoc.Span(link.content, link.attr)
  end })
end

local function book_pass(doc)
  doc = numbering_pass(doc)
  current_source = nil
  crossrefs.traverse = "topdown"
  crossrefs.Div = track_chapter
  doc = doc:walk(crossrefs)
  -- citeproc here rather than after the filter, so the entries it writes get their language
  doc = config.memo and citeproc_memoised(doc, config.memo) or pandoc.utils.citeproc(doc)
  return doc:walk({ Div = entry_lang })
end

function Pandoc(doc)
  read_meta(doc.meta)
  local pass = doc.meta["book-pass"] and stringify(doc.meta["book-pass"]) or "all"
  doc.meta["book-pass"] = nil
  config.memo = doc.meta["citeproc-memo"] and stringify(doc.meta["citeproc-memo"]) or nil
  doc.meta["citeproc-memo"] = nil
  local output = doc.meta["book-output"] and stringify(doc.meta["book-output"]) or nil
  doc.meta["book-output"] = nil
  if pass ~= "chapter" and pass ~= "book" and pass ~= "all" then
    fail("unknown book-pass '" .. pass .. "' (chapter, book)")
  end
  if pass ~= "book" then
    doc = chapter_pass(doc)
  end
  if UNDER_QUARTO then
    -- Quarto numbers, captions, resolves references, draws callouts and asides itself
    seed_quarto_numbering()
    return colour_pass(doc)
  end
  if pass == "chapter" then
    return doc
  end
  doc = book_pass(doc)
  if output == "pdf" then
    return pdf_document(doc)
  end
  return doc
end
