; nvim-treesitter indents: the inside of a block is indented one level; its closing brace
; goes back.
[
  (body)
  (block_body)
] @indent.begin

"}" @indent.end

"}" @indent.branch
