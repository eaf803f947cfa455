; Every block folds: a top-level body and a nested block's body.
[
  (body)
  (block_body)
] @fold
