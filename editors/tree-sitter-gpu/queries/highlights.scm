; Highlights for .gpu files. Capture names are nvim-treesitter's; each capture has its
; TextMate scope in editors/vscode/syntaxes/gpu.tmLanguage.json, and
; editors/tree-sitter-gpu/test/highlights-agree.js holds the two to the same tokens.

(comment) @comment

[
  "import"
  "catalog"
] @keyword.import

[
  "host"
  "vm"
  "license"
  "licence"
  "bitfusion"
] @keyword.type

(block
  kind: (identifier) @keyword.type)

(license
  name: (identifier) @type)

(host
  name: (identifier) @type)

(vm
  name: (identifier) @type)

(bitfusion
  name: (identifier) @type)

(block
  name: (identifier) @type)

(range
  [
    "["
    "]"
  ] @punctuation.bracket)

".." @operator

(integer) @number

(attribute
  key: (identifier) @property)

"on" @keyword.operator

(string) @string

(escape_sequence) @string.escape

[
  (number)
  (quantity)
] @number

(pci_address) @constant

; `true`/`false` and `on`/`off` are references to the grammar; gpuc reads them as booleans.
((reference
  .
  (identifier) @boolean .)
  (#any-of? @boolean "true" "false" "on" "off"))

((reference
  (identifier) @variable)
  (#not-any-of? @variable "true" "false" "on" "off"))

(reference
  "." @punctuation.delimiter)

[
  "{"
  "}"
] @punctuation.bracket

"," @punctuation.delimiter
