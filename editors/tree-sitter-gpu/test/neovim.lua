-- The grammar in a real Neovim, set up as README.md tells users to.
--
-- Usage: nvim --clean --headless -l test/neovim.lua SITE FILE...
-- where SITE holds parser/gpu.so and queries/gpu/*.scm. Neovim compiles the three query
-- files against the parser (an unknown node or field name, or a malformed predicate, fails);
-- then every FILE must parse without error, one sample must get the captures and folds the
-- README promises, and a planted mistake must make an error node.

local site, files = arg[1], { unpack(arg, 2) }
vim.opt.runtimepath:prepend(site)
vim.filetype.add({ extension = { gpu = 'gpu' } })

local passed, failed = 0, 0

local function check(name, ok, detail)
  if ok then
    passed = passed + 1
    io.stdout:write('ok ', name, '\n')
  else
    failed = failed + 1
    io.stdout:write('FAIL ', name, detail and (': ' .. detail) or '', '\n')
  end
end

for _, kind in ipairs({ 'highlights', 'folds', 'indents' }) do
  local ok, query = pcall(vim.treesitter.query.get, 'gpu', kind)
  check('queries/' .. kind .. '.scm compiles in Neovim', ok and query ~= nil, not ok and tostring(query) or nil)
end

--- A buffer of `lines`, its filetype detected from `name`, with tree-sitter started on it.
local function open(name, lines)
  local buffer = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_buf_set_name(buffer, name)
  vim.api.nvim_buf_set_lines(buffer, 0, -1, false, lines)
  vim.bo[buffer].filetype = vim.filetype.match({ buf = buffer, filename = name })
  vim.treesitter.start(buffer, 'gpu')
  return buffer, vim.treesitter.get_parser(buffer, 'gpu'):parse()[1]:root()
end

for _, file in ipairs(files) do
  local _, root = open(file, vim.fn.readfile(file))
  check(file .. ' parses without error', not root:has_error())
end

local sample, sample_root = open('sample.gpu', {
  'host esx14 {',
  '  memory 768GiB',
  '  gpu g0 { pci 0000:09:00.0  use passthrough }',
  '  bios { above_4g_decoding true }',
  '}',
  'vm dev[1..4] { vgpu grid_v100d-8q on esx14.g0 }  # a comment',
})
check('the sample is valid', not sample_root:has_error())
check('the filetype of .gpu files is gpu', vim.bo[sample].filetype == 'gpu', vim.bo[sample].filetype)

--- Expected capture at 0-based row and column, as a user's colour scheme sees it.
local expected_captures = {
  { 0, 0, 'keyword.type' }, -- host
  { 0, 5, 'type' }, -- esx14
  { 0, 11, 'punctuation.bracket' }, -- {
  { 1, 2, 'property' }, -- memory
  { 1, 9, 'number' }, -- 768GiB
  { 2, 2, 'keyword.type' }, -- gpu
  { 2, 6, 'type' }, -- g0
  { 2, 11, 'property' }, -- pci
  { 2, 15, 'constant' }, -- 0000:09:00.0
  { 2, 33, 'variable' }, -- passthrough
  { 3, 28, 'boolean' }, -- true
  { 5, 6, 'punctuation.bracket' }, -- [
  { 5, 7, 'number' }, -- 1
  { 5, 8, 'operator' }, -- ..
  { 5, 20, 'variable' }, -- grid_v100d-8q
  { 5, 34, 'keyword.operator' }, -- on
  { 5, 42, 'punctuation.delimiter' }, -- the dot of esx14.g0
  { 5, 49, 'comment' },
}
for _, expected in ipairs(expected_captures) do
  local row, column, capture = unpack(expected)
  local names = vim.tbl_map(function(c)
    return c.capture
  end, vim.treesitter.get_captures_at_pos(sample, row, column))
  check(
    ('capture @%s at %d:%d'):format(capture, row + 1, column + 1),
    vim.tbl_contains(names, capture),
    'got ' .. table.concat(names, ', ')
  )
end

vim.api.nvim_buf_call(sample, function()
  vim.wo.foldmethod = 'expr'
  vim.wo.foldexpr = 'v:lua.vim.treesitter.foldexpr()'
  vim.cmd('normal! zx')
  check('the host block folds', vim.fn.foldlevel(2) >= 1 and vim.fn.foldlevel(6) == 0,
    ('fold levels %d and %d'):format(vim.fn.foldlevel(2), vim.fn.foldlevel(6)))
end)

local _, broken_root = open('broken.gpu', { 'vm v {', '  memory = 64GiB', '}' })
check('a planted `=` is an error node', broken_root:has_error())

io.stdout:write(('neovim: %d passed, %d failed\n'):format(passed, failed))
vim.cmd(failed == 0 and passed > 0 and 'qall!' or 'cquit!')
