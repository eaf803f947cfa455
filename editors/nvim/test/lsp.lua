-- `gpuc lsp` in a real Neovim client, registered as editors/nvim/README.md tells users to.
--
-- Usage: nvim --clean --headless -l test/lsp.lua GPUC EXAMPLE
-- Copies EXAMPLE (examples/vgpu-p100.gpu: one host with two Tesla P100 16 GB in vGPU mode,
-- four VMs `ml[1..4]` with a licence) to a temporary folder, opens it, and asks the server
-- through Neovim's own LSP client for diagnostics, hover, completion, definition, rename and
-- formatting. Prints one ✓ or ✗ line per check and exits non-zero on any ✗ or on a timeout.

local gpuc, example = arg[1], arg[2]
local timeout_ms = 10000

local passed, failed = 0, 0
local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    io.stdout:write('✓ ', name, '\n')
  else
    failed = failed + 1
    io.stdout:write('✗ ', name, detail and (': ' .. detail) or '', '\n')
  end
end

local function finish()
  io.stdout:write(('nvim-lsp: %d passed, %d failed\n'):format(passed, failed))
  vim.cmd(failed == 0 and passed > 0 and 'qall!' or 'cquit!')
end

-- A server that stops answering must not hang CI.
vim.defer_fn(function()
  check('the whole test finishes within 60 s', false)
  finish()
end, 60000)

-- The set-up of README.md, with the path of the gpuc under test.
vim.filetype.add({ extension = { gpu = 'gpu' } })
vim.lsp.config('gpuc', { cmd = { gpuc, 'lsp' }, filetypes = { 'gpu' }, root_markers = { '.git' } })
vim.lsp.enable('gpuc')

local folder = vim.fn.tempname()
vim.fn.mkdir(folder, 'p')
local path = folder .. '/' .. vim.fn.fnamemodify(example, ':t')
vim.fn.writefile(vim.fn.readfile(example), path)
vim.cmd.edit(vim.fn.fnameescape(path))
local buffer = vim.api.nvim_get_current_buf()
local original = vim.api.nvim_buf_get_lines(buffer, 0, -1, false)

local client
check('the client starts gpuc lsp for a .gpu buffer', vim.wait(timeout_ms, function()
  client = vim.lsp.get_clients({ bufnr = buffer, name = 'gpuc' })[1]
  return client ~= nil and client.initialized
end, 10))
if not client then
  return finish()
end

--- 0-based row of the first line containing `needle` (plain text), and its 0-based column.
local function find(needle)
  for row, line in ipairs(vim.api.nvim_buf_get_lines(buffer, 0, -1, false)) do
    local column = line:find(needle, 1, true)
    if column then
      return row - 1, column - 1
    end
  end
  error('no line contains ' .. needle)
end

local function errors()
  return vim.diagnostic.get(buffer, { severity = vim.diagnostic.severity.ERROR })
end

-- Each publishDiagnostics for the buffer, empty or not, counts.
local published = 0
vim.api.nvim_create_autocmd('DiagnosticChanged', {
  buffer = buffer,
  callback = function()
    published = published + 1
  end,
})

--- Waits for diagnostics published after `since` that satisfy `settled`.
local function diagnostics_after(since, settled)
  return vim.wait(timeout_ms, function()
    return published > since and settled()
  end, 10)
end

--- Sets the buffer's lines (the client sends didChange) and waits until diagnostics
--- published for the new text satisfy `settled`.
local function edit(lines, settled)
  local since = published
  vim.api.nvim_buf_set_lines(buffer, 0, -1, false, lines)
  return diagnostics_after(since, settled)
end

local function request(method, row, column, extra)
  local params = vim.tbl_extend('force', {
    textDocument = { uri = vim.uri_from_bufnr(buffer) },
    position = { line = row, character = column },
  }, extra or {})
  local responses = vim.lsp.buf_request_sync(buffer, method, params, timeout_ms) or {}
  local response = responses[client.id] or {}
  return response.result, response.err
end

local function replaced(lines, from, to)
  return vim.tbl_map(function(line)
    return (line:gsub(vim.pesc(from), (to:gsub('%%', '%%%%'))))
  end, lines)
end

-- Diagnostics: the example is valid, then one misspelt licence name is one error, E0102, on
-- the line of the mistake.
check('the example has no errors', diagnostics_after(0, function()
  return #errors() == 0
end))
local planted_row = find('    license gridlic')
local planted = vim.deepcopy(original)
planted[planted_row + 1] = planted[planted_row + 1]:gsub('gridlic', 'gridlc')
local got_it = edit(planted, function()
  return #errors() > 0
end)
local reported = vim.tbl_map(function(d)
  return ('%s at line %d'):format(d.code, d.lnum + 1)
end, errors())
check(
  ('a misspelt licence is one error, E0102 at line %d'):format(planted_row + 1),
  got_it and #reported == 1 and reported[1] == ('E0102 at line %d'):format(planted_row + 1),
  table.concat(reported, ', ')
)
check('fixing it clears the error', edit(original, function()
  return #errors() == 0
end))

-- Hover: what the compiler knows about the GPU's board and about the vGPU type.
local row, column = find('tesla-p100-16gb')
local hover = request('textDocument/hover', row, column + 2)
local text = hover and hover.contents.value or ''
check(
  'hover on a GPU model shows its board, BAR1 and MMIO need',
  text:find('Tesla P100', 1, true) and text:find('BAR1', 1, true) and text:find('MMIO need', 1, true),
  text
)
row, column = find('vgpu     grid_p100-8q')
column = column + #'vgpu     '
hover = request('textDocument/hover', row, column + 2)
text = hover and hover.contents.value or ''
check(
  'hover on a vGPU type shows its framebuffer and maximum per GPU',
  text:find('framebuffer: 8GiB', 1, true) and text:find('max per GPU: 2', 1, true),
  text
)

-- Completion after `vgpu`: the types of the host's board (Tesla P100 16 GB), not those of
-- another board.
local typing = replaced(original, 'vgpu     grid_p100-8q', 'vgpu     ')
edit(typing, function()
  return true
end)
row, column = find('vgpu     ')
local completion = request('textDocument/completion', row, column + #'vgpu     ')
local labels = vim.tbl_map(function(item)
  return item.label
end, completion and (completion.items or completion) or {})
local only_p100 = #labels > 0
for _, label in ipairs(labels) do
  only_p100 = only_p100 and vim.startswith(label, 'grid_p100-')
end
check(
  'completion after `vgpu` offers grid_p100-8q and only Tesla P100 16 GB types',
  vim.tbl_contains(labels, 'grid_p100-8q')
    and only_p100
    and not vim.tbl_contains(labels, 'grid_p100c-4q')
    and not vim.tbl_contains(labels, 'grid_v100d-8q'),
  table.concat(labels, ' ')
)
edit(original, function()
  return #errors() == 0
end)

-- Definition: a VM's `host esx14` leads to the host's declaration.
row, column = find('host     esx14')
local definition = request('textDocument/definition', row, column + #'host     ')
local location = definition and (definition[1] or definition)
local declared_row, declared_column = find('host esx14 {')
check(
  'go to definition of a VM host lands on `host esx14 {`',
  location
    and location.uri == vim.uri_from_bufnr(buffer)
    and location.range.start.line == declared_row
    and location.range.start.character == declared_column + #'host ',
  vim.inspect(location)
)

-- Rename: the licence, at its declaration and where the VMs' guest names it.
row, column = find('license gridlic {')
local rename = request('textDocument/rename', row, column + #'license ', { newName = 'nls_main' })
local before_rename = published
if rename then
  vim.lsp.util.apply_workspace_edit(rename, client.offset_encoding)
end
local renamed = vim.api.nvim_buf_get_lines(buffer, 0, -1, false)
check(
  'rename of a licence edits its declaration and every use, nothing else',
  vim.deep_equal(renamed, replaced(original, 'gridlic', 'nls_main')),
  vim.inspect(rename)
)
check('the renamed file still has no errors', diagnostics_after(before_rename, function()
  return #errors() == 0
end))

-- Formatting: the buffer with every indentation removed formats to what `gpuc fmt` prints.
local messy = vim.tbl_map(function(line)
  return (line:gsub('^%s+', ''))
end, original)
edit(messy, function()
  return #errors() == 0
end)
local expected = vim.system({ gpuc, 'fmt', '-' }, { stdin = table.concat(messy, '\n') .. '\n' }):wait()
vim.lsp.buf.format({ bufnr = buffer, timeout_ms = timeout_ms })
local formatted = table.concat(vim.api.nvim_buf_get_lines(buffer, 0, -1, false), '\n') .. '\n'
check(
  'formatting equals `gpuc fmt` (and changed the text)',
  expected.code == 0 and formatted == expected.stdout and formatted ~= table.concat(messy, '\n') .. '\n',
  expected.stderr
)

vim.fn.delete(folder, 'rf')
finish()
